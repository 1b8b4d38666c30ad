import { type RefreshStatus } from '../../src/common/interfaces/refresh-status.interface';

/** A healthy running status (token valid 60 s, refresh in 30 s); override what a test varies. */
export function refreshStatus(overrides: Partial<RefreshStatus> = {}): RefreshStatus {
  return {
    name: 'default',
    isRunning: true,
    state: 'idle',
    expiresAt: new Date(Date.now() + 60_000),
    refreshAt: new Date(Date.now() + 30_000),
    lastRefreshAt: null,
    timeUntilExpiry: 60_000,
    timeUntilRefresh: 30_000,
    needsRefresh: false,
    consecutiveFailures: 0,
    lastError: null,
    nextAttemptAt: null,
    ...overrides,
  };
}
