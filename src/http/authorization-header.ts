/** `Authorization: <tokenType> <accessToken>`; the manager already normalises `bearer` to `Bearer`. */
export function authorizationHeader(tokenType: string | undefined, accessToken: string): string {
  return `${tokenType || 'Bearer'} ${accessToken}`;
}

/**
 * Deletes every Authorization header, whatever its case, from a plain header object (the shape
 * follow-redirects hands to beforeRedirect).
 */
export function stripAuthorization(headers: Record<string, unknown> | undefined): void {
  if (!headers) return;
  for (const key of Object.keys(headers)) {
    if (key.toLowerCase() === 'authorization') delete headers[key];
  }
}
