import { TokenRefreshError, UnknownRefreshError } from '../token-refresh.errors';

/**
 * Everything that reaches policy code is a TokenRefreshError. A foreign error (from a
 * user's own client or store) is wrapped as transient by name and message only: its other
 * fields may hold a request body or headers with secrets, so it is not kept.
 */
export function toRefreshError(error: unknown): TokenRefreshError {
  if (error instanceof TokenRefreshError) return error;
  if (error instanceof Error) {
    return new UnknownRefreshError(`${error.name}: ${truncate(error.message)}`);
  }
  return new UnknownRefreshError(`non-error thrown: ${typeof error}`);
}

function truncate(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

/** The retry-after hint an error carries, if any (from a 429/503 or a 5.2 error body). */
export function retryAfterOf(error: TokenRefreshError): number | undefined {
  const value = (error as { retryAfterMs?: unknown }).retryAfterMs;
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}
