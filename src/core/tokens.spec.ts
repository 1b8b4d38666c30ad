import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { TokenValidationError } from '../common/token-refresh.errors';
import { compareTokenOrder, resolveRefreshResponse, resolveTokens, storedSupersedes, toPublicTokens, toStoredTokens } from './tokens';
import { expectTypedError } from '../../test/support/expect-error';

const NOW = 1_800_000_000_000;

describe('resolveTokens', () => {
  it('counts expiresIn from when the request started and defaults tokenType to Bearer', () => {
    const tokens = resolveTokens({ accessToken: 'a', refreshToken: 'r', expiresIn: 60, tokenType: 'bearer' }, NOW);
    expect(tokens).toEqual({
      accessToken: 'a',
      refreshToken: 'r',
      tokenType: 'Bearer',
      expiresAt: NOW + 60_000,
      issuedAt: NOW,
      version: undefined,
      scope: undefined,
      idToken: undefined,
    });
    expect(Object.isFrozen(tokens)).toBe(true);
  });

  it('prefers an absolute expiresAt (Date or epoch ms) over expiresIn', () => {
    expect(resolveTokens({ accessToken: 'a', expiresAt: new Date(NOW + 5000), expiresIn: 99 }, NOW).expiresAt).toBe(NOW + 5000);
    expect(resolveTokens({ accessToken: 'a', expiresAt: NOW + 7000 }, NOW).expiresAt).toBe(NOW + 7000);
  });

  it('accepts an already expired absolute expiry: it is due for refresh, not invalid', () => {
    const tokens = resolveTokens({ accessToken: 'a', refreshToken: 'r', expiresAt: NOW - 1 }, NOW);
    expect(tokens.expiresAt).toBe(NOW - 1);
    expect(tokens.issuedAt).toBe(NOW - 1);
  });

  it('reads the exp claim of a JWT access token when no expiry is given', async () => {
    const exp = Math.floor(NOW / 1000) + 900;
    const jwt = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setExpirationTime(exp).sign(new Uint8Array(32));
    expect(resolveTokens({ accessToken: jwt }, NOW).expiresAt).toBe(exp * 1000);
  });

  it('holds a JWT exp to the same ten-year cap as expiresIn: one in ms or µs is a TokenValidationError', async () => {
    for (const scale of [1000, 1_000_000]) {
      const exp = (Math.floor(NOW / 1000) + 900) * scale;
      const jwt = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setExpirationTime(exp).sign(new Uint8Array(32));
      expect(() => resolveTokens({ accessToken: jwt }, NOW)).toThrow(expect.objectContaining({ code: 'invalid_tokens', field: 'accessToken' }));
    }
  });

  it.each([
    [null, 'tokens'],
    [{ accessToken: '' , expiresIn: 1 }, 'accessToken'],
    [{ accessToken: 42, expiresIn: 1 }, 'accessToken'],
    [{ accessToken: 'a', refreshToken: '', expiresIn: 1 }, 'refreshToken'],
    [{ accessToken: 'a', tokenType: ' ', expiresIn: 1 }, 'tokenType'],
    [{ accessToken: 'a', expiresIn: Number.NaN }, 'expiresIn'],
    [{ accessToken: 'a', expiresIn: -1 }, 'expiresIn'],
    [{ accessToken: 'a', expiresIn: '60' }, 'expiresIn'],
    [{ accessToken: 'a', expiresIn: 400 * 365 * 24 * 3600 }, 'expiresIn'],
    [{ accessToken: 'a', expiresAt: new Date('nope') }, 'expiresAt'],
    [{ accessToken: 'a', expiresAt: NOW * 1000 }, 'expiresAt'],
    [{ accessToken: 'a' }, 'expiresIn'],
    [{ accessToken: 'not.a.jwt' }, 'expiresIn'],
    [{ accessToken: 'a', expiresIn: 60, version: -1 }, 'version'],
    [{ accessToken: 'a', expiresIn: 60, version: 1.5 }, 'version'],
  ])('rejects %o naming %s', (pair, field) => {
    expectTypedError(() => resolveTokens(pair as never, NOW), TokenValidationError, { field });
  });

  it('never echoes the token in its messages', () => {
    const error = expectTypedError(() => resolveTokens({ accessToken: 'SECRET-AT', refreshToken: 'SECRET-RT', expiresIn: -5 }, NOW), Error);
    expect(String(error.message)).not.toMatch(/SECRET/);
  });
});

describe('resolveRefreshResponse', () => {
  const previous = resolveTokens({ accessToken: 'a', refreshToken: 'old', expiresIn: 600, version: 4 }, NOW);
  const resolve = (response: unknown) => resolveRefreshResponse(response, previous, NOW + 1000);

  it('keeps the previous refresh token when the response has none, and counts the version up', () => {
    const { tokens, dropped } = resolve({ accessToken: 'b', expiresIn: 60 });
    expect(tokens).toMatchObject({ accessToken: 'b', refreshToken: 'old', expiresAt: NOW + 61_000, issuedAt: NOW + 1000, version: 5 });
    expect(dropped).toEqual([]);
  });

  it('assumes the previous lifetime when the response gives no expiry (expires_in is only recommended)', () => {
    expect(resolve({ accessToken: 'b', refreshToken: 'rotated' }).tokens).toMatchObject({
      refreshToken: 'rotated',
      expiresAt: NOW + 1000 + 600_000,
    });
  });

  it.each([
    ['expiresIn', { expiresIn: -1 }],
    ['expiresIn', { expiresIn: 11 * 365 * 24 * 3600 }],
    ['expiresIn', { expiresIn: '3600' }],
    ['expiresIn', { expiresIn: Number.NaN }],
    ['expiresAt', { expiresAt: new Date('nope') }],
    ['scope', { scope: ['openid', 'email'] }],
    ['idToken', { idToken: { sub: 'x' } }],
    ['tokenType', { tokenType: 42 }],
  ])('keeps the rotation of a response whose %s is unusable, dropping only that field', (field, odd) => {
    const { tokens, dropped } = resolve({ accessToken: 'b', refreshToken: 'rotated', ...odd });
    expect(tokens).toMatchObject({ accessToken: 'b', refreshToken: 'rotated', tokenType: 'Bearer', version: 5 });
    expect(tokens!.expiresAt).toBeGreaterThan(NOW);
    expect(dropped).toEqual([field]);
  });

  it('reads a JWT exp that is in milliseconds or microseconds as unusable, not as the year 58880', async () => {
    for (const scale of [1000, 1_000_000]) {
      const exp = (Math.floor(NOW / 1000) + 900) * scale;
      const jwt = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setExpirationTime(exp).sign(new Uint8Array(32));
      const { tokens, dropped } = resolve({ accessToken: jwt });
      expect(tokens!.expiresAt).toBe(NOW + 1000 + 600_000);
      expect(dropped).toEqual(['accessToken exp']);
    }
  });

  it('without a usable access token, keeps a rotated refresh token on the held pair and says nothing else is usable', () => {
    for (const response of [{ refreshToken: 'rotated' }, { accessToken: '', refreshToken: 'rotated' }, { accessToken: 7, refreshToken: 'rotated' }]) {
      const outcome = resolve(response);
      expect(outcome.tokens).toBeUndefined();
      expect(outcome.keep).toMatchObject({ accessToken: 'a', refreshToken: 'rotated', expiresAt: previous.expiresAt, version: 5 });
    }
    expect(resolve({ accessToken: '' }).keep).toBeUndefined();
    expect(resolve({ refreshToken: 'old' }).keep).toBeUndefined();
    expect(resolve(null)).toEqual({ dropped: ['response'], keep: undefined });
  });
});

describe('store and public shapes', () => {
  const tokens = resolveTokens({ accessToken: 'a', refreshToken: 'r', expiresIn: 90, scope: 's' }, NOW);
  it('stores an absolute expiry that survives a restart', () => {
    expect(toStoredTokens(tokens)).toEqual({
      accessToken: 'a',
      refreshToken: 'r',
      tokenType: 'Bearer',
      expiresAt: new Date(NOW + 90_000),
      issuedAt: new Date(NOW),
      version: 0,
      scope: 's',
    });
  });
  it('gives callers expiresIn counted from now, frozen', () => {
    const pub = toPublicTokens(tokens, NOW + 30_500);
    expect(pub.expiresIn).toBe(59);
    expect(Object.isFrozen(pub)).toBe(true);
  });
});

describe('issuedAt', () => {
  it('is taken from the pair when given, so a store round-trips it', () => {
    const tokens = resolveTokens({ accessToken: 'a', expiresIn: 60, issuedAt: new Date(NOW - 5000) }, NOW);
    expect(tokens.issuedAt).toBe(NOW - 5000);
    expect(tokens.expiresAt).toBe(NOW + 55_000);
  });
  it('rejects an invalid one', () => {
    expect(() => resolveTokens({ accessToken: 'a', expiresIn: 60, issuedAt: Number.NaN }, NOW)).toThrow(TokenValidationError);
  });
});

describe('compareTokenOrder', () => {
  const order = (version: number | undefined, issuedAt: number | undefined, expiresAt: number) => ({ version, issuedAt, expiresAt });

  it('orders by version first, so no clock step can make a fresh rotation look older', () => {
    // Obtained "two hours earlier" by a clock that stepped back, but one version on.
    expect(compareTokenOrder(order(6, NOW - 7_200_000, NOW), order(5, NOW, NOW + 3_600_000))).toBeGreaterThan(0);
    expect(compareTokenOrder(order(5, NOW, NOW + 3_600_000), order(6, NOW - 7_200_000, NOW))).toBeLessThan(0);
  });

  it('breaks a tie of versions by when the pair was obtained, then by expiry', () => {
    expect(compareTokenOrder(order(3, NOW + 1, NOW), order(3, NOW, NOW + 9_999))).toBeGreaterThan(0);
    expect(compareTokenOrder(order(3, NOW, NOW + 2), order(3, NOW, NOW + 1))).toBeGreaterThan(0);
    expect(compareTokenOrder(order(3, NOW, NOW), order(3, NOW, NOW))).toBe(0);
  });

  it('skips a part that either side does not know (a store that does not keep it)', () => {
    expect(compareTokenOrder(order(undefined, NOW, NOW), order(9, NOW - 1, NOW))).toBeGreaterThan(0);
    expect(compareTokenOrder(order(undefined, undefined, NOW + 1), order(9, NOW + 5, NOW))).toBeGreaterThan(0);
  });
});

describe('storedSupersedes', () => {
  const current = resolveTokens({ accessToken: 'a', expiresIn: 60, version: 2 }, NOW);
  it('orders a pair without issuedAt or version by expiry (resolving it stamped "now")', () => {
    const sameTokens = { accessToken: 'a', expiresAt: NOW + 60_000 };
    expect(storedSupersedes(sameTokens, resolveTokens(sameTokens, NOW + 9999), current)).toBe(false);
    const rotated = { accessToken: 'b', expiresAt: NOW + 90_000 };
    expect(storedSupersedes(rotated, resolveTokens(rotated, NOW + 9999), current)).toBe(true);
  });
  it('orders a pair with a version by its version', () => {
    const older = { accessToken: 'b', expiresAt: NOW + 900_000, issuedAt: NOW + 5, version: 1 };
    expect(storedSupersedes(older, resolveTokens(older, NOW), current)).toBe(false);
    const newer = { accessToken: 'c', expiresAt: NOW + 30_000, issuedAt: NOW - 5, version: 3 };
    expect(storedSupersedes(newer, resolveTokens(newer, NOW), current)).toBe(true);
  });
});
