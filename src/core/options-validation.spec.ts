import { describe, expect, it } from 'vitest';
import { DEFAULT_CHECK_INTERVAL, DEFAULT_REFRESH_THRESHOLD } from '../common/token-refresh.constants';
import { TokenRefreshConfigError } from '../common/token-refresh.errors';
import { assertShape, resolveSettings } from './options-validation';
import { expectTypedError } from '../../test/support/expect-error';

const client = { refresh: async () => ({ accessToken: 'a', expiresIn: 1 }) };

describe('resolveSettings', () => {
  it('applies the documented defaults', () => {
    expect(resolveSettings({})).toEqual({
      name: 'default',
      refreshThreshold: DEFAULT_REFRESH_THRESHOLD,
      checkInterval: DEFAULT_CHECK_INTERVAL,
      shutdownTimeout: 5000,
      lockWaitTimeout: 10_000,
      storeTimeout: 5000,
      autoStart: false,
      retry: { maxAttempts: Infinity, initialDelay: 1000, maxDelay: 120_000 },
      maxConcurrentRefreshes: 8,
      refreshMode: 'ahead',
      keepAliveInterval: undefined,
      maxKeysInMemory: undefined,
      revokeRefreshToken: false,
    });
  });

  it.each([
    [{ refreshThreshold: 59_999 }, 'refreshThreshold'],
    [{ refreshThreshold: Infinity }, 'refreshThreshold'],
    [{ checkInterval: 0 }, 'checkInterval'],
    [{ checkInterval: -1 }, 'checkInterval'],
    [{ checkInterval: 2 ** 31 }, 'checkInterval'],
    [{ shutdownTimeout: -1 }, 'shutdownTimeout'],
    [{ retry: { maxAttempts: 0 } }, 'retry.maxAttempts'],
    [{ retry: { maxAttempts: 1.5 } }, 'retry.maxAttempts'],
    [{ retry: { initialDelay: 5000, maxDelay: 1000 } }, 'retry.maxDelay'],
    [{ maxConcurrentRefreshes: 0 }, 'maxConcurrentRefreshes'],
    [{ maxConcurrentRefreshes: 2.5 }, 'maxConcurrentRefreshes'],
    [{ refreshMode: 'eager' }, 'refreshMode'],
    [{ keepAliveInterval: -1 }, 'keepAliveInterval'],
    [{ maxKeysInMemory: 0 }, 'maxKeysInMemory'],
    [{ onRefreshFail: 'yes' }, 'onRefreshFail'],
    [{ autoStart: 'true' }, 'autoStart'],
  ])('rejects %o naming %s', (bad, option) => {
    expectTypedError(() => resolveSettings({ ...(bad as object) }), TokenRefreshConfigError, { option });
  });

  // Node clamps a longer timer to 1 ms: a 28-day retry delay would become a save storm.
  it.each(['refreshThreshold', 'checkInterval', 'shutdownTimeout', 'lockWaitTimeout', 'storeTimeout', 'retry.initialDelay', 'retry.maxDelay'])(
    'rejects %s beyond the timer limit (2^31-1 ms), naming it',
    (option) => {
      const tooLong = 2 ** 31;
      const options = option.startsWith('retry.')
        ? { retry: { initialDelay: 1000, maxDelay: tooLong, [option.slice(6)]: tooLong } }
        : { [option]: tooLong };
      expectTypedError(() => resolveSettings({ ...options }), TokenRefreshConfigError, {
        option,
        message: expect.stringContaining(`${option} must be at most 2147483647 ms`),
      });
    },
  );

  it('rejects a bad registration name', () => {
    expectTypedError(() => resolveSettings({}, 'has spaces'), TokenRefreshConfigError, { option: 'name' });
  });

  it('accepts zero shutdownTimeout and an Infinity maxAttempts', () => {
    expect(resolveSettings({ shutdownTimeout: 0, retry: { maxAttempts: Infinity } }).shutdownTimeout).toBe(0);
  });
});

describe('assertShape', () => {
  it('names the option and the missing method', () => {
    expect(() => assertShape({ load: () => null }, 'tokenStore', ['load', 'save'])).toThrow(/tokenStore.*missing save/);
    expect(assertShape(client, 'oauthClient', ['refresh'])).toBe(client);
  });
});
