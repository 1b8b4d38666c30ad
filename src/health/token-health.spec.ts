import { describe, expect, it } from 'vitest';
import { type RefreshStatus } from '../common/interfaces/refresh-status.interface';
import { refreshStatus as baseStatus } from '../../test/support/refresh-status';
import { evaluateTokenHealth } from './token-health';

const LAST_REFRESH = new Date('2030-01-01T00:00:00.000Z');

const refreshStatus = (overrides: Partial<RefreshStatus> = {}): RefreshStatus =>
  baseStatus({ lastRefreshAt: LAST_REFRESH, ...overrides });


const failing = { consecutiveFailures: 2, lastError: { code: 'network_error' as const, message: 'connect ECONNREFUSED' } };

describe('evaluateTokenHealth', () => {
  it.each([
    ['idle with a valid token', {}, 'up', undefined],
    ['refreshing, nothing failed yet', { state: 'refreshing' }, 'up', undefined],
    ['backing off with a valid token', { state: 'backoff', ...failing }, 'degraded', 'refresh-failing'],
    ['retrying after failures', { state: 'refreshing', ...failing }, 'degraded', 'refresh-failing'],
    ['re-authenticating with a valid token', { state: 'reauthenticating', consecutiveFailures: 1 }, 'degraded', 'refresh-failing'],
    ['backing off and expired', { state: 'backoff', ...failing, timeUntilExpiry: 0 }, 'down', 'expired'],
    ['idle but expired', { timeUntilExpiry: 0 }, 'down', 'expired'],
    ['running without tokens', { timeUntilExpiry: null, expiresAt: null }, 'down', 'expired'],
    ['reauth-required with time left', { state: 'reauth-required', consecutiveFailures: 1 }, 'down', 'reauth-required'],
    ['stopped', { state: 'stopped', isRunning: false }, 'down', 'stopped'],
    ['stopping (not running any more)', { isRunning: false }, 'down', 'stopped'],
  ] as const)('%s -> %s', (_label, overrides, status, reason) => {
    const result = evaluateTokenHealth(refreshStatus(overrides as Partial<RefreshStatus>));
    expect(result.status).toBe(status);
    expect(result.details.reason).toBe(reason);
  });

  it('details: state, expiresIn, lastRefreshAt, consecutiveFailures, and the error code only', () => {
    const { details } = evaluateTokenHealth(refreshStatus({ state: 'backoff', ...failing, timeUntilExpiry: 12_345 }));
    expect(details).toEqual({
      name: 'default',
      state: 'backoff',
      expiresIn: 12_345,
      lastRefreshAt: '2030-01-01T00:00:00.000Z',
      consecutiveFailures: 2,
      lastError: 'network_error',
      reason: 'refresh-failing',
    });
  });

  it('an up result has no reason and no lastError key', () => {
    const { details } = evaluateTokenHealth(refreshStatus({ lastRefreshAt: null }));
    expect(details).toEqual({ name: 'default', state: 'idle', expiresIn: 60_000, lastRefreshAt: null, consecutiveFailures: 0 });
  });
});
