import { describe, expect, it } from 'vitest';
import { TokenRefreshConfigError } from '../common/token-refresh.errors';
import { redisKeys, validateKeyPrefix } from './redis-keys';
import { expectTypedError } from '../../test/support/expect-error';

describe('redisKeys', () => {
  it('derives the token key, lock key and channel from one prefix', () => {
    expect(redisKeys('app:crm')).toEqual({
      tokens: 'app:crm:tokens',
      lock: 'app:crm:lock',
      channel: 'app:crm:tokens:saved',
    });
  });

  it('gives two registrations disjoint names', () => {
    const a = Object.values(redisKeys('app:a'));
    const b = Object.values(redisKeys('app:b'));
    expect(a.filter((name) => b.includes(name))).toEqual([]);
  });
});

describe('validateKeyPrefix', () => {
  it('accepts an ordinary prefix unchanged', () => {
    expect(validateKeyPrefix('myapp:token-refresh:{crm}', 'keyPrefix')).toBe('myapp:token-refresh:{crm}');
  });

  it.each([undefined, '', 42, 'has space', 'tab\there', 'nl\n', 'x'.repeat(201)])('rejects %j, naming the option', (bad) => {
    const error = expectTypedError(() => validateKeyPrefix(bad, 'tokenStore.keyPrefix'), TokenRefreshConfigError, { option: 'tokenStore.keyPrefix' });
    expect(error.message).toContain('tokenStore.keyPrefix');
  });
});
