import { describe, expect, it } from 'vitest';
import { TokenRefreshConfigError } from '../common/token-refresh.errors';
import {
  DEFAULT_LOCK_LEASE,
  DEFAULT_LOCK_RETRY_DELAY,
  DEFAULT_REDIS_COMMAND_TIMEOUT,
  DEFAULT_RESYNC_DELAY,
  resolveKeyedStoreOptions,
  resolveLockOptions,
  resolveStoreOptions,
  validateRedisUrl,
} from './redis.options';
import { expectTypedError } from '../../test/support/expect-error';

describe('resolveStoreOptions', () => {
  it('applies the default command timeout', () => {
    expect(resolveStoreOptions({ keyPrefix: 'p' }, 'tokenStore')).toEqual({ keyPrefix: 'p', commandTimeout: DEFAULT_REDIS_COMMAND_TIMEOUT });
  });

  it('requires a key prefix, naming the option', () => {
    expectTypedError(() => resolveStoreOptions({} as never, 'tokenStore'), TokenRefreshConfigError, { option: 'tokenStore.keyPrefix' });
    expectTypedError(() => resolveStoreOptions(undefined, 'tokenStore'), TokenRefreshConfigError, { option: 'tokenStore' });
  });

  it('rejects a zero or negative command timeout', () => {
    expectTypedError(() => resolveStoreOptions({ keyPrefix: 'p', commandTimeout: 0 }, 'tokenStore'), TokenRefreshConfigError, { option: 'tokenStore.commandTimeout' });
  });
});

describe('resolveKeyedStoreOptions', () => {
  it("claims due keys for the lock's default lease unless told otherwise", () => {
    expect(resolveKeyedStoreOptions({ keyPrefix: 'p' }, 'tokenStore')).toEqual({
      keyPrefix: 'p',
      commandTimeout: DEFAULT_REDIS_COMMAND_TIMEOUT,
      dueClaim: DEFAULT_LOCK_LEASE,
    });
    expect(resolveKeyedStoreOptions({ keyPrefix: 'p', dueClaim: 5_000 }, 'tokenStore').dueClaim).toBe(5_000);
  });

  it.each([0, -1, Number.NaN, '30s', 2 ** 31])('rejects dueClaim %j, naming it', (dueClaim) => {
    expectTypedError(() => resolveKeyedStoreOptions({ keyPrefix: 'p', dueClaim: dueClaim as number }, 'tokenStore'), TokenRefreshConfigError, {
      option: 'tokenStore.dueClaim',
    });
  });

  it('has the same keyPrefix rules as the single store', () => {
    expectTypedError(() => resolveKeyedStoreOptions({} as never, 'tokenStore'), TokenRefreshConfigError, { option: 'tokenStore.keyPrefix' });
    expectTypedError(() => resolveKeyedStoreOptions(undefined, 'tokenStore'), TokenRefreshConfigError, { option: 'tokenStore' });
  });
});

describe('resolveLockOptions', () => {
  it('defaults to a 30 s lease renewed every 10 s', () => {
    expect(resolveLockOptions({ keyPrefix: 'p' }, 'lock')).toEqual({
      keyPrefix: 'p',
      commandTimeout: DEFAULT_REDIS_COMMAND_TIMEOUT,
      lease: DEFAULT_LOCK_LEASE,
      renewInterval: 10_000,
      retryDelay: DEFAULT_LOCK_RETRY_DELAY,
      resyncDelay: DEFAULT_RESYNC_DELAY,
    });
  });

  it('derives the renewal period from a custom lease', () => {
    expect(resolveLockOptions({ keyPrefix: 'p', lease: 3_000 }, 'lock').renewInterval).toBe(1_000);
  });

  it('rejects a renewal period that is not shorter than the lease', () => {
    expectTypedError(() => resolveLockOptions({ keyPrefix: 'p', lease: 1_000, renewInterval: 1_000 }, 'lock'), TokenRefreshConfigError, { option: 'lock.renewInterval' });
  });

  it.each(['lease', 'retryDelay', 'resyncDelay', 'commandTimeout'])('rejects a %s beyond the timer limit, naming it', (option) => {
    expectTypedError(() => resolveLockOptions({ keyPrefix: 'p', [option]: 2 ** 31 }, 'lock'), TokenRefreshConfigError, { option: `lock.${option}` });
  });

  it('allows resyncDelay 0 but not a negative lease', () => {
    expect(resolveLockOptions({ keyPrefix: 'p', resyncDelay: 0 }, 'lock').resyncDelay).toBe(0);
    expectTypedError(() => resolveLockOptions({ keyPrefix: 'p', lease: -1 }, 'lock'), TokenRefreshConfigError, { option: 'lock.lease' });
  });
});

describe('validateRedisUrl', () => {
  it('accepts redis:// and rediss:// URLs', () => {
    expect(validateRedisUrl('redis://127.0.0.1:6379/2', 'tokenStore')).toBe('redis://127.0.0.1:6379/2');
    expect(validateRedisUrl('rediss://user:pw@example.com:6380', 'tokenStore')).toBe('rediss://user:pw@example.com:6380');
  });

  it.each(['http://127.0.0.1:6379', '127.0.0.1:6379', '', 42])('rejects %j without echoing it', (bad) => {
    const error = expectTypedError(() => validateRedisUrl(bad, 'tokenStore'), TokenRefreshConfigError);
    expect(error.option).toBe('tokenStore.url');
    expect(error.message).not.toContain('127.0.0.1');
  });

  it('never echoes a password from a malformed URL', () => {
    expect(expectTypedError(() => validateRedisUrl('https://user:hunter2@host', 'lock'), TokenRefreshConfigError).message).not.toContain('hunter2');
  });
});
