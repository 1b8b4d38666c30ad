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

/** Every payload names its registration and when it happened. No payload holds a token. */
export abstract class TokenRefreshEvent {
  constructor(
    readonly name: string,
    readonly at: Date,
  ) {}
}

export class TokenRefreshStartedEvent extends TokenRefreshEvent {
  constructor(
    name: string,
    at: Date,
    readonly expiresAt: Date,
  ) {
    super(name, at);
  }
}

export class TokenRefreshStoppedEvent extends TokenRefreshEvent {}

export type RefreshSource = 'refresh' | 'store';

export class TokenRefreshedEvent extends TokenRefreshEvent {
  constructor(
    name: string,
    at: Date,
    readonly expiresAt: Date,
    readonly refreshAt: Date,
    /** `store`: another replica refreshed and this one adopted its tokens without a request. */
    readonly source: RefreshSource,
    /** Wall time of the refresh request in ms (0 when adopted from the store). */
    readonly durationMs: number,
  ) {
    super(name, at);
  }
}

export class TokenRefreshFailedEvent extends TokenRefreshEvent {
  constructor(
    name: string,
    at: Date,
    readonly error: ErrorSummary,
    /** Failures in a row, this one included. */
    readonly attempt: number,
    readonly willRetry: boolean,
    readonly nextAttemptAt: Date | null,
  ) {
    super(name, at);
  }
}

export class TokenReauthRequiredEvent extends TokenRefreshEvent {
  constructor(
    name: string,
    at: Date,
    readonly error: ErrorSummary,
  ) {
    super(name, at);
  }
}

export class TokenReauthenticatedEvent extends TokenRefreshEvent {
  constructor(
    name: string,
    at: Date,
    readonly expiresAt: Date,
  ) {
    super(name, at);
  }
}

export class TokenExpiredEvent extends TokenRefreshEvent {
  constructor(
    name: string,
    at: Date,
    readonly expiredAt: Date,
  ) {
    super(name, at);
  }
}

export class TokenStoreFailedEvent extends TokenRefreshEvent {
  constructor(
    name: string,
    at: Date,
    readonly operation: 'load' | 'save',
    readonly error: ErrorSummary,
    readonly willRetry: boolean,
  ) {
    super(name, at);
  }
}
