import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TokenRefreshConfigError } from '../common/token-refresh.errors';
import { decodeKeyPart, encodeKeyPart, redisKeys, validateKeyPrefix } from './redis-keys';
import { expectTypedError } from '../../test/support/expect-error';

describe('redisKeys', () => {
  it('derives the token key, lock key and channel from one prefix', () => {
    const keys = redisKeys('app:crm');
    expect({ tokens: keys.tokens, lock: keys.lock, channel: keys.channel }).toEqual({
      tokens: 'app:crm:tokens',
      lock: 'app:crm:lock',
      channel: 'app:crm:tokens:saved',
    });
  });

  it("names a keyed registration's record, due index, channel and per-key lock under the same prefix", () => {
    const keys = redisKeys('app:users');
    expect(keys.record('user-42')).toBe('app:users:key:user-42');
    expect(keys.lockOf('user-42')).toBe('app:users:lock:user-42');
    expect(keys.lockOf(undefined)).toBe('app:users:lock');
    expect(keys.due).toBe('app:users:due');
    expect(keys.keyedChannel).toBe('app:users:keys:saved');
  });

  it('gives two registrations disjoint names', () => {
    const names = (prefix: string): string[] => {
      const keys = redisKeys(prefix);
      return [keys.tokens, keys.lock, keys.channel, keys.due, keys.keyedChannel, keys.record('k'), keys.lockOf('k')];
    };
    const a = names('app:a');
    expect(a.filter((name) => names('app:b').includes(name))).toEqual([]);
  });

  it("a user's key stays one segment: `a:b` cannot become another key's record, a lock, or another kind of name", () => {
    const keys = redisKeys('p');
    expect(keys.record('a:b')).toBe('p:key:a%3Ab');
    expect(keys.record('a:b')).not.toBe(keys.record('a%3Ab'));
    // Keys that spell the single registration's names, or another part of the scheme.
    for (const key of ['saved', 'lock', ':lock', 'due', '../due', 'x:lock:y']) {
      const record = keys.record(key);
      expect(record.startsWith('p:key:')).toBe(true);
      expect(record.slice('p:key:'.length)).not.toContain(':');
      expect([keys.tokens, keys.lock, keys.channel, keys.due, keys.keyedChannel]).not.toContain(record);
      expect(keys.lockOf(key).slice('p:lock:'.length)).not.toContain(':');
    }
  });

  it('escapes hash-tag braces, so only the prefix decides the Redis Cluster slot', () => {
    expect(redisKeys('app:{users}').record('{tenant}:7')).toBe('app:{users}:key:%7Btenant%7D%3A7');
  });
});

describe('encodeKeyPart', () => {
  it('keeps readable ids as they are and escapes the rest', () => {
    expect(encodeKeyPart('user-42')).toBe('user-42');
    expect(encodeKeyPart('alice@example.com')).toBe('alice@example.com');
    expect(encodeKeyPart('tenant 7/a*b?')).toBe('tenant%207%2Fa%2Ab%3F');
    expect(encodeKeyPart('50%')).toBe('50%25');
    expect(encodeKeyPart('é\n')).toBe('%E9%0A');
    expect(encodeKeyPart('用户')).toBe('%u7528%u6237');
  });

  it('is reversible for every string (lone surrogates too), so two keys never share a name', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (key) => {
        const part = encodeKeyPart(key);
        expect(part).toMatch(/^[A-Za-z0-9._~@%u-]*$/);
        expect(decodeKeyPart(part)).toBe(key);
      }),
      { numRuns: 2_000 },
    );
    expect(decodeKeyPart(encodeKeyPart('\uD800x'))).toBe('\uD800x');
  });

  it('never maps two different keys to one part', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' }), (a, b) => {
        fc.pre(a !== b);
        expect(encodeKeyPart(a)).not.toBe(encodeKeyPart(b));
      }),
      { numRuns: 2_000 },
    );
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
