import { type ErrorSummary } from '../token-refresh.events';

/**
 * - `stopped`: not started, or stopped.
 * - `idle`: holding tokens, next refresh scheduled.
 * - `refreshing`: a refresh is in flight.
 * - `backoff`: the last attempt failed transiently; the next is at nextAttemptAt.
 * - `reauthenticating`: onRefreshFail said yes; reauthenticate() is running.
 * - `reauth-required`: the grant is dead; no request goes out until updateTokens() or start().
 */
export type RefreshState = 'stopped' | 'idle' | 'refreshing' | 'backoff' | 'reauthenticating' | 'reauth-required';

/** Go's RefreshStatus in camelCase; times are Dates, durations ms (null while no tokens are held). `lastError.oauthError` is the server's `error` when it sent one. */
export interface RefreshStatus {
  readonly name: string;
  /** The key, in a keyed registration. */
  readonly key?: string;
  readonly isRunning: boolean;
  readonly state: RefreshState;
  readonly expiresAt: Date | null;
  readonly refreshAt: Date | null;
  readonly lastRefreshAt: Date | null;
  readonly timeUntilExpiry: number | null;
  readonly timeUntilRefresh: number | null;
  readonly needsRefresh: boolean;
  readonly consecutiveFailures: number;
  readonly lastError: Pick<ErrorSummary, 'code' | 'message' | 'oauthError'> | null;
  readonly nextAttemptAt: Date | null;
}
