import { TokenRefreshError, UnknownRefreshError } from '../token-refresh.errors';

const REDACTED = '[redacted]';

/**
 * Everything that reaches policy code is a TokenRefreshError. A foreign error (from a user's
 * own client, store or reauthenticate) becomes a transient UnknownRefreshError carrying its
 * name and message only: its other fields may hold a request body or headers. The message is
 * scrubbed of the token values we hold, since a careless client may quote them.
 */
export function toRefreshError(error: unknown, secrets: readonly string[] = []): TokenRefreshError {
  if (error instanceof TokenRefreshError) return error;
  if (error instanceof Error) {
    return new UnknownRefreshError(`${error.name}: ${truncate(redact(error.message, secrets))}`);
  }
  return new UnknownRefreshError(`non-error thrown: ${typeof error}`);
}

/** Each secret as it appears raw, URL-encoded, form-encoded or inside a JSON string. */
function redact(text: string, secrets: readonly string[]): string {
  let result = text;
  for (const secret of secrets) {
    if (secret.length < 4) continue;
    const variants = new Set([
      secret,
      encodeURIComponent(secret),
      new URLSearchParams([['', secret]]).toString().slice(1),
      JSON.stringify(secret).slice(1, -1),
    ]);
    for (const variant of variants) result = result.split(variant).join(REDACTED);
  }
  return result;
}

function truncate(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

/** The retry-after hint an error carries, if any (from a 429/503 or a 5.2 error body). */
export function retryAfterOf(error: TokenRefreshError): number | undefined {
  const value = (error as { retryAfterMs?: unknown }).retryAfterMs;
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}
