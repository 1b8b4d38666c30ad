import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { TokenValidationError } from '../token-refresh.errors';
import { isNewer, mergeRefreshResponse, resolveTokens, storedSupersedes, toPublicTokens, toStoredTokens } from './tokens';

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
  ])('rejects %o naming %s', (pair, field) => {
    let error: unknown;
    try {
      resolveTokens(pair as never, NOW);
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(TokenValidationError);
    expect((error as TokenValidationError).field).toBe(field);
  });

  it('never echoes the token in its messages', () => {
    try {
      resolveTokens({ accessToken: 'SECRET-AT', refreshToken: 'SECRET-RT', expiresIn: -5 }, NOW);
    } catch (error) {
      expect(String((error as Error).message)).not.toMatch(/SECRET/);
    }
    expect.assertions(1);
  });
});

describe('mergeRefreshResponse', () => {
  const previous = resolveTokens({ accessToken: 'a', refreshToken: 'old', expiresIn: 60 }, NOW);
  it('keeps the previous refresh token when the response has none', () => {
    expect(mergeRefreshResponse({ accessToken: 'b', expiresIn: 60 }, previous).refreshToken).toBe('old');
  });
  it('assumes the previous lifetime when the response gives no expiry (expires_in is only recommended)', () => {
    const merged = mergeRefreshResponse({ accessToken: 'b', refreshToken: 'rotated' }, previous);
    expect(merged).toEqual({ accessToken: 'b', refreshToken: 'rotated', expiresIn: 60 });
  });
  it('takes a rotated refresh token', () => {
    expect(mergeRefreshResponse({ accessToken: 'b', refreshToken: 'new', expiresIn: 60 }, previous).refreshToken).toBe('new');
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

describe('isNewer', () => {
  const older = resolveTokens({ accessToken: 'a', expiresIn: 60 }, NOW);
  const newer = resolveTokens({ accessToken: 'b', expiresIn: 60 }, NOW + 1);
  it('orders by when the pair was obtained, so a replayed older pair never wins', () => {
    expect(isNewer(newer, older)).toBe(true);
    expect(isNewer(older, newer)).toBe(false);
    expect(isNewer(older, older)).toBe(false);
    expect(isNewer(older, undefined)).toBe(true);
  });
  it('lets a later login with a shorter lifetime win over an older pair that expires later', () => {
    const longOld = resolveTokens({ accessToken: 'old', expiresIn: 3600 }, NOW);
    const shortNew = resolveTokens({ accessToken: 'new', expiresIn: 900 }, NOW + 1000);
    expect(isNewer(shortNew, longOld)).toBe(true);
    expect(isNewer(longOld, shortNew)).toBe(false);
  });
});

describe('storedSupersedes', () => {
  const current = resolveTokens({ accessToken: 'a', expiresIn: 60 }, NOW);
  it('orders a pair without issuedAt by expiry (resolving it stamped "now")', () => {
    const sameTokens = { accessToken: 'a', expiresAt: NOW + 60_000 };
    expect(storedSupersedes(sameTokens, resolveTokens(sameTokens, NOW + 9999), current)).toBe(false);
    const rotated = { accessToken: 'b', expiresAt: NOW + 90_000 };
    expect(storedSupersedes(rotated, resolveTokens(rotated, NOW + 9999), current)).toBe(true);
  });
  it('orders a pair with issuedAt by issuedAt', () => {
    const earlier = { accessToken: 'b', expiresAt: NOW + 900_000, issuedAt: NOW - 1 };
    expect(storedSupersedes(earlier, resolveTokens(earlier, NOW), current)).toBe(false);
  });
});
