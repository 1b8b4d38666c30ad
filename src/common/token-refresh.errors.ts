/**
 * Typed errors. Every error carries a stable `code` and whether it is `permanent`
 * (retrying cannot help) so policy code never has to parse messages.
 *
 * Secrecy: messages are built only from codes, statuses and provider descriptions,
 * never from tokens, refresh tokens or client secrets.
 */
export abstract class TokenRefreshError extends Error {
  abstract readonly code: TokenRefreshErrorCode;
  abstract readonly permanent: boolean;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }

  /** Code and message only: what status and events expose. */
  toJSON(): { name: string; code: TokenRefreshErrorCode; message: string; permanent: boolean } {
    return { name: this.name, code: this.code, message: this.message, permanent: this.permanent };
  }
}

/** Every `code` a TokenRefreshError can have. Ours and fixed: a server's own error string is never one. */
export type TokenRefreshErrorCode =
  | 'invalid_config'
  | 'invalid_tokens'
  | 'oauth_error'
  | 'http_error'
  | 'network_error'
  | 'timeout'
  | 'invalid_response'
  | 'missing_refresh_token'
  | 'reauth_required'
  | 'token_expired'
  | 'invalid_state'
  | 'aborted'
  | 'lock_unavailable'
  | 'store_failed'
  | 'store_conflict'
  | 'store_unreadable'
  | 'unknown_error';

/** Options given to forRoot/forRootAsync are wrong. Thrown at bootstrap. */
export class TokenRefreshConfigError extends TokenRefreshError {
  readonly code = 'invalid_config';
  readonly permanent = true;
  constructor(
    readonly option: string,
    message: string,
  ) {
    super(message);
  }
}

/** A TokenPair handed to start/updateTokens, or returned by the store or reauthenticate, is unusable. */
export class TokenValidationError extends TokenRefreshError {
  readonly code = 'invalid_tokens';
  readonly permanent = true;
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/** What the authorization server said in an RFC 6749 section 5.2 error response. */
export interface OAuthErrorResponse {
  /** The server's `error`, e.g. `invalid_grant`. */
  error: string;
  /** HTTP status; undefined when a custom client does not know it. */
  status?: number;
  /** `error_description`, scrubbed of secrets. */
  errorDescription?: string;
  errorUri?: string;
  /** From a Retry-After header, in ms. */
  retryAfterMs?: number;
}

/**
 * The authorization server answered with an RFC 6749 section 5.2 error body. Its `code` is ours
 * and fixed (`oauth_error`); what the server said is in `error`, `errorDescription`, `errorUri`
 * and `status`, as oauth4webapi does it, so a server's string never collides with one of our codes.
 */
export class OAuthProtocolError extends TokenRefreshError {
  readonly code = 'oauth_error';
  readonly permanent: boolean;
  readonly error: string;
  readonly status: number | undefined;
  readonly errorDescription: string | undefined;
  readonly errorUri: string | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(response: OAuthErrorResponse) {
    const { error, status, errorDescription } = response;
    super(`token endpoint answered ${status ?? 'with'} ${error}${errorDescription ? `: ${errorDescription}` : ''}`);
    this.error = error;
    this.status = status;
    this.errorDescription = errorDescription;
    this.errorUri = response.errorUri;
    this.retryAfterMs = response.retryAfterMs;
    this.permanent = isPermanentOAuthError(error, status);
  }

  /** The server's error travels with ours: status and events show both. */
  override toJSON(): ReturnType<TokenRefreshError['toJSON']> & { error: string; status: number | undefined } {
    return { ...super.toJSON(), error: this.error, status: this.status };
  }
}

/** RFC 6749 section 5.2 codes after which retrying the same refresh token cannot succeed. */
export const PERMANENT_OAUTH_ERRORS: ReadonlySet<string> = new Set([
  'invalid_grant',
  'invalid_client',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
  'invalid_request',
]);

/** Codes that say "try again later" whatever the status (RFC 6749 section 4.1.2.1, RFC 8628, RFC 9449). */
export const TRANSIENT_OAUTH_ERRORS: ReadonlySet<string> = new Set([
  'temporarily_unavailable',
  'server_error',
  'slow_down',
  'use_dpop_nonce',
]);

/**
 * Listed codes decide first (PERMANENT_OAUTH_ERRORS always permanent, TRANSIENT_OAUTH_ERRORS never).
 * Any other code follows the HTTP status like TokenEndpointHttpError does: 5xx, 429 and 408 are
 * transient, any other status (a 4xx, or a quirky 200 carrying `error`) is permanent, because an
 * unknown 4xx repeated forever with the same refresh token will not start succeeding. Without a
 * status (a custom client) an unknown code counts as transient.
 */
export function isPermanentOAuthError(code: string, status: number | undefined): boolean {
  if (PERMANENT_OAUTH_ERRORS.has(code)) return true;
  if (TRANSIENT_OAUTH_ERRORS.has(code)) return false;
  return status !== undefined && !isTransientStatus(status);
}

/** HTTP failure without a usable OAuth error body (5xx, 429, 408, or an unexpected status). */
export class TokenEndpointHttpError extends TokenRefreshError {
  readonly code = 'http_error';
  readonly permanent: boolean;
  constructor(
    readonly status: number,
    readonly retryAfterMs?: number,
    detail?: string,
  ) {
    super(`token endpoint answered HTTP ${status}${detail ? ` (${detail})` : ''}`);
    this.permanent = !isTransientStatus(status);
  }
}

export function isTransientStatus(status: number): boolean {
  return status >= 500 || status === 429 || status === 408;
}

/** The request never produced a response: connection refused or reset, DNS, TLS. */
export class TokenEndpointNetworkError extends TokenRefreshError {
  readonly code = 'network_error';
  readonly permanent = false;
  constructor(
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`token endpoint unreachable: ${reason}`, options);
  }
}

/** No response within the configured timeout. */
export class TokenEndpointTimeoutError extends TokenRefreshError {
  readonly code = 'timeout';
  readonly permanent = false;
  constructor(readonly timeoutMs: number) {
    super(`token endpoint did not answer within ${timeoutMs} ms`);
  }
}

/** A 2xx response that is not a valid RFC 6749 section 5.1 token response. */
export class InvalidTokenResponseError extends TokenRefreshError {
  readonly code = 'invalid_response';
  // A malformed success is usually a proxy or a misconfigured endpoint: worth retrying.
  readonly permanent: boolean;
  constructor(message: string, permanent = false) {
    super(`invalid token response: ${message}`);
    this.permanent = permanent;
  }
}

/** Nothing to refresh with: no refresh token is held. */
export class MissingRefreshTokenError extends TokenRefreshError {
  readonly code = 'missing_refresh_token';
  readonly permanent = true;
  constructor() {
    super('no refresh token is held; give one, or configure reauthenticate');
  }
}

/** The grant is dead (permanent failure) and nothing revived it; call updateTokens or start. */
export class ReauthRequiredError extends TokenRefreshError {
  readonly code = 'reauth_required';
  readonly permanent = true;
  constructor(
    readonly registration: string,
    /** The key, in a keyed registration: which user or tenant has to connect again. */
    readonly key?: string,
  ) {
    super(
      key === undefined
        ? `token refresh "${registration}" needs re-authentication; call updateTokens() or start() with new tokens`
        : `token refresh "${registration}" key "${key}" needs re-authentication; call set(key, tokens) with new tokens`,
    );
  }
}

/** The access token has expired and no refresh has succeeded yet. */
export class TokenExpiredError extends TokenRefreshError {
  readonly code = 'token_expired';
  readonly permanent = false;
  constructor(
    readonly registration: string,
    /** The code of the error that kept the last refresh from succeeding, if one failed. */
    readonly lastErrorCode?: string,
    /** The key, in a keyed registration. */
    readonly key?: string,
  ) {
    super(
      `token refresh "${registration}"${key === undefined ? '' : ` key "${key}"`} holds no valid access token` +
        (lastErrorCode ? ` (the last refresh failed: ${lastErrorCode})` : ' (no refresh has completed yet)'),
    );
  }
}

/** start() called while running, or a method that needs tokens called before any were given. */
export class TokenRefreshStateError extends TokenRefreshError {
  readonly code = 'invalid_state';
  readonly permanent = true;
}

/** stop() aborted the refresh in flight. */
export class RefreshAbortedError extends TokenRefreshError {
  readonly code = 'aborted';
  readonly permanent = false;
  constructor() {
    super('refresh aborted because the service is stopping');
  }
}

/** Another replica holds the refresh lock, or the lock backend is unreachable. */
export class RefreshLockError extends TokenRefreshError {
  readonly code = 'lock_unavailable';
  readonly permanent = false;
}

/** The token store failed to load or save. */
export class TokenStoreError extends TokenRefreshError {
  readonly code = 'store_failed';
  readonly permanent = false;
  constructor(
    readonly operation: 'load' | 'save' | 'delete',
    /** Why, in our words (e.g. `timed out after 5000 ms`); never the store's own message. */
    detail?: string,
  ) {
    super(`token store ${operation} failed${detail ? ` (${detail})` : ''}`);
  }
}

/**
 * The store holds a newer pair of this credential (a higher version) than the one being saved,
 * so it kept its own. Reported, never retried: saving the older pair again cannot win.
 */
export class TokenStoreConflictError extends TokenRefreshError {
  readonly code = 'store_conflict';
  readonly permanent = false;
  readonly operation = 'save';
  constructor() {
    super('token store kept a newer pair than the one being saved');
  }
}

/**
 * The stored record cannot be used: corrupt, or written in a format this version does not know
 * (what a rollback from a newer release leaves). The manager treats it as absent and the next
 * save overwrites it.
 */
export class TokenStoreUnreadableError extends TokenRefreshError {
  readonly code = 'store_unreadable';
  readonly permanent = false;
  readonly operation = 'load';
  constructor(
    /** What is wrong, by field name only: never the value. */
    readonly reason: string,
  ) {
    super(`stored tokens are unreadable (${reason}); treated as absent until the next save`);
  }
}

/**
 * Anything thrown by user code (a custom OAuth client, store or reauthenticate) that is not one
 * of ours. Treated as transient. Keeps only the original's name and message, scrubbed of the
 * tokens we hold: its other fields (a request config, say) may carry secrets.
 */
export class UnknownRefreshError extends TokenRefreshError {
  readonly code = 'unknown_error';
  readonly permanent = false;
}
