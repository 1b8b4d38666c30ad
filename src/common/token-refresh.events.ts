import { OAuthProtocolError, type TokenRefreshError, type TokenRefreshErrorCode } from './token-refresh.errors';

/** What events and status say about an error: never more than its code and message. */
export interface ErrorSummary {
  readonly code: TokenRefreshErrorCode;
  readonly message: string;
  readonly permanent: boolean;
  /** For `oauth_error`: the server's `error` (e.g. `invalid_grant`). */
  readonly oauthError?: string;
}

export function summarizeError(error: TokenRefreshError): ErrorSummary {
  const summary: ErrorSummary = { code: error.code, message: error.message, permanent: error.permanent };
  return Object.freeze(error instanceof OAuthProtocolError ? { ...summary, oauthError: error.error } : summary);
}

/** A payload's fields, as its constructor takes them. */
export type EventFields<E extends TokenRefreshEvent> = { [K in keyof E]: E[K] };

/**
 * Every payload names its registration, when it happened and, for a keyed registration, the
 * key. No payload holds a token. Payloads are built from named fields:
 * `new TokenRefreshRefreshedEvent({ name, at, expiresAt, ... })`. A class is named after its
 * event: `token-refresh.<event>` is `TokenRefresh<Event>Event`.
 */
export abstract class TokenRefreshEvent {
  declare readonly name: string;
  declare readonly at: Date;
  /** The credential's key in a keyed registration; absent for a single-credential one. */
  declare readonly key?: string;

  constructor(fields: EventFields<TokenRefreshEvent>) {
    Object.assign(this, fields);
  }
}

/** `token-refresh.started` */
export class TokenRefreshStartedEvent extends TokenRefreshEvent {
  /** When the token it started with expires; null for a keyed registration (many keys). */
  declare readonly expiresAt: Date | null;
  constructor(fields: EventFields<TokenRefreshStartedEvent>) {
    super(fields);
  }
}

/** `token-refresh.stopped` */
export class TokenRefreshStoppedEvent extends TokenRefreshEvent {}

/** `store`: another replica refreshed and this one adopted its tokens without a request. */
export type RefreshSource = 'refresh' | 'store';

/** `token-refresh.refreshed` */
export class TokenRefreshRefreshedEvent extends TokenRefreshEvent {
  declare readonly expiresAt: Date;
  declare readonly refreshAt: Date;
  declare readonly source: RefreshSource;
  /** How long the token request took, in ms (0 when adopted from the store). */
  declare readonly durationMs: number;
  constructor(fields: EventFields<TokenRefreshRefreshedEvent>) {
    super(fields);
  }
}

/** `token-refresh.refresh-failed` */
export class TokenRefreshRefreshFailedEvent extends TokenRefreshEvent {
  declare readonly error: ErrorSummary;
  /** Failures in a row, this one included. */
  declare readonly attempt: number;
  declare readonly willRetry: boolean;
  declare readonly nextAttemptAt: Date | null;
  constructor(fields: EventFields<TokenRefreshRefreshFailedEvent>) {
    super(fields);
  }
}

/** `token-refresh.reauth-required` */
export class TokenRefreshReauthRequiredEvent extends TokenRefreshEvent {
  declare readonly error: ErrorSummary;
  constructor(fields: EventFields<TokenRefreshReauthRequiredEvent>) {
    super(fields);
  }
}

/** `token-refresh.reauthenticated` */
export class TokenRefreshReauthenticatedEvent extends TokenRefreshEvent {
  declare readonly expiresAt: Date;
  constructor(fields: EventFields<TokenRefreshReauthenticatedEvent>) {
    super(fields);
  }
}

/** `token-refresh.expired` */
export class TokenRefreshExpiredEvent extends TokenRefreshEvent {
  declare readonly expiredAt: Date;
  constructor(fields: EventFields<TokenRefreshExpiredEvent>) {
    super(fields);
  }
}

/** `token-refresh.store-failed` */
export class TokenRefreshStoreFailedEvent extends TokenRefreshEvent {
  declare readonly operation: 'load' | 'save';
  declare readonly error: ErrorSummary;
  declare readonly willRetry: boolean;
  constructor(fields: EventFields<TokenRefreshStoreFailedEvent>) {
    super(fields);
  }
}

/** `token-refresh.revoke-failed`: revoking a refresh token no longer wanted (revokeRefreshToken) failed. */
export class TokenRefreshRevokeFailedEvent extends TokenRefreshEvent {
  declare readonly error: ErrorSummary;
  constructor(fields: EventFields<TokenRefreshRevokeFailedEvent>) {
    super(fields);
  }
}
