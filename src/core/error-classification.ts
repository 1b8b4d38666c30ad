import { TokenRefreshError, UnknownRefreshError } from '../common/token-refresh.errors';
import { scrubText } from './redaction';

/**
 * Everything that reaches policy code is a TokenRefreshError. A foreign error (from a user's
 * own client, store or reauthenticate) becomes a transient UnknownRefreshError carrying its
 * name and message only: its other fields may hold a request body or headers. The message is
 * scrubbed of the token values we hold (see scrubText), since a careless client may quote them.
 */
export function toRefreshError(error: unknown, secrets: readonly string[] = []): TokenRefreshError {
  if (error instanceof TokenRefreshError) return error;
  if (error instanceof Error) {
    return new UnknownRefreshError(scrubText(`${error.name}: ${error.message}`, secrets));
  }
  return new UnknownRefreshError(`non-error thrown: ${typeof error}`);
}

/** The retry-after hint an error carries, if any (from a 429/503 or a 5.2 error body). */
export function retryAfterOf(error: TokenRefreshError): number | undefined {
  const value = (error as { retryAfterMs?: unknown }).retryAfterMs;
  // Infinity is a server asking for "longer than anything": the backoff policy caps it.
  return typeof value === 'number' && !Number.isNaN(value) ? value : undefined;
}

/**
 * `value` if it looks like an identifier (an error's code such as ECONNRESET, or a class name),
 * else undefined. Nothing longer or freer from a foreign error is ever passed on: text could
 * embed the request, and with it a token or secret.
 */
export function safeIdentifier(value: unknown): string | undefined {
  return typeof value === 'string' && /^[A-Za-z0-9_]{1,64}$/.test(value) ? value : undefined;
}
