import { type RefreshState, type RefreshStatus } from '../common/interfaces/refresh-status.interface';

export type TokenHealthStatus = 'up' | 'degraded' | 'down';

/** Why a registration is not `up`. */
export type TokenHealthReason = 'stopped' | 'reauth-required' | 'expired' | 'refresh-failing';

/** What a health check shows: enough to act on, never a token. A type (not an interface) so it is a Record for terminus. */
export type TokenHealthDetails = {
  name: string;
  state: RefreshState;
  /** ms until the access token expires; null while no token is held. */
  expiresIn: number | null;
  /** ISO 8601, or null before the first refresh. */
  lastRefreshAt: string | null;
  consecutiveFailures: number;
  /** Present unless up. */
  reason?: TokenHealthReason;
  /** Code of the last refresh error (e.g. `oauth_error`), when there is one. Codes only: messages may quote a server. */
  lastError?: string;
  /** With `oauth_error`: the server's `error`, e.g. `invalid_grant`. */
  oauthError?: string;
  /** Set instead of a degraded status on terminus 11, which has only up and down. */
  degraded?: true;
};

/**
 * Up while a valid token is held and refreshing works; degraded while refreshing fails but the
 * token is still valid (calls still succeed, for now); down when no valid token can be sent:
 * stopped, expired, or the grant needs a new login.
 */
export function evaluateTokenHealth(status: RefreshStatus): { status: TokenHealthStatus; details: TokenHealthDetails } {
  const details: TokenHealthDetails = {
    name: status.name,
    state: status.state,
    expiresIn: status.timeUntilExpiry,
    lastRefreshAt: status.lastRefreshAt ? status.lastRefreshAt.toISOString() : null,
    consecutiveFailures: status.consecutiveFailures,
  };
  if (status.lastError) details.lastError = status.lastError.code;
  if (status.lastError?.oauthError) details.oauthError = status.lastError.oauthError;
  const verdict = (result: TokenHealthStatus, reason?: TokenHealthReason) => ({
    status: result,
    details: reason ? { ...details, reason } : details,
  });

  if (!status.isRunning || status.state === 'stopped') return verdict('down', 'stopped');
  if (status.state === 'reauth-required') return verdict('down', 'reauth-required');
  if (status.timeUntilExpiry === null || status.timeUntilExpiry <= 0) return verdict('down', 'expired');
  if (status.state === 'backoff' || status.state === 'reauthenticating' || status.consecutiveFailures > 0) {
    return verdict('degraded', 'refresh-failing');
  }
  return verdict('up');
}
