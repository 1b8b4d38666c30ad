import { describe, expect, it } from 'vitest';
import { type StoredTokens } from '../interfaces/token-store.interface';
import { TokenValidationError } from '../token-refresh.errors';
import {
  compareOrder,
  encodeAnnouncement,
  parseAnnouncement,
  parseStoredTokens,
  serializeTokens,
} from './redis-token.serialization';

const EXPIRES = Date.UTC(2030, 0, 1, 12, 0, 0, 123);
const ISSUED = EXPIRES - 3_600_000;
const full: StoredTokens = {
  accessToken: 'at-SECRET',
  refreshToken: 'rt-SECRET',
  tokenType: 'Bearer',
  expiresAt: new Date(EXPIRES),
  issuedAt: new Date(ISSUED),
  scope: 'openid offline_access',
  idToken: 'id-SECRET',
};

function rejectionOf(fn: () => unknown): TokenValidationError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(TokenValidationError);
    return error as TokenValidationError;
  }
  throw new Error('expected a TokenValidationError');
}

describe('serializeTokens / parseStoredTokens', () => {
  it('round-trips every field, with expiresAt and issuedAt stored as epoch ms', () => {
    const { json, expiresAt, issuedAt } = serializeTokens(full);
    expect({ expiresAt, issuedAt }).toEqual({ expiresAt: EXPIRES, issuedAt: ISSUED });
    expect(JSON.parse(json)).toMatchObject({ v: 1, expiresAt: EXPIRES, issuedAt: ISSUED });
    expect(parseStoredTokens(json)).toEqual(full);
  });

  it('accepts issuedAt as epoch ms too, and loads it back as a Date', () => {
    const { json } = serializeTokens({ ...full, issuedAt: ISSUED });
    expect(parseStoredTokens(json).issuedAt).toEqual(new Date(ISSUED));
  });

  it('leaves out absent optional fields rather than storing null', () => {
    const { json } = serializeTokens({ accessToken: 'a', tokenType: 'Bearer', expiresAt: new Date(EXPIRES), issuedAt: new Date(ISSUED) });
    expect(Object.keys(JSON.parse(json)).sort()).toEqual(['accessToken', 'expiresAt', 'issuedAt', 'tokenType', 'v']);
    expect(parseStoredTokens(json)).toEqual({ accessToken: 'a', tokenType: 'Bearer', expiresAt: new Date(EXPIRES), issuedAt: new Date(ISSUED) });
  });

  it('reads a record written before issuedAt was kept, leaving issuedAt out rather than making one up', () => {
    const legacy = JSON.stringify({ v: 1, accessToken: 'a', refreshToken: 'r', tokenType: 'Bearer', expiresAt: EXPIRES });
    const loaded = parseStoredTokens(legacy);
    expect(loaded).toEqual({ accessToken: 'a', refreshToken: 'r', tokenType: 'Bearer', expiresAt: new Date(EXPIRES) });
    expect('issuedAt' in loaded).toBe(false);
    expect(parseStoredTokens(JSON.stringify({ v: 1, accessToken: 'a', expiresAt: EXPIRES, issuedAt: null })).issuedAt).toBeUndefined();
    // Written back (after a reconnect) it stays a record without issuedAt.
    const rewritten = serializeTokens(loaded);
    expect(rewritten.issuedAt).toBeUndefined();
    expect(JSON.parse(rewritten.json)).not.toHaveProperty('issuedAt');
  });

  it('refuses to store tokens without a valid expiry or access token, or with an invalid issuedAt', () => {
    expect(rejectionOf(() => serializeTokens({ ...full, expiresAt: new Date(Number.NaN) })).field).toBe('expiresAt');
    expect(rejectionOf(() => serializeTokens({ ...full, accessToken: '' })).field).toBe('accessToken');
    expect(rejectionOf(() => serializeTokens({ ...full, issuedAt: new Date(Number.NaN) })).field).toBe('issuedAt');
    expect(rejectionOf(() => serializeTokens({ ...full, issuedAt: -1 })).field).toBe('issuedAt');
  });

  it.each([
    ['not JSON', '{"accessToken":"at-SECRET"', 'tokens'],
    ['an array', '["at-SECRET"]', 'tokens'],
    ['an unknown version', JSON.stringify({ v: 2, accessToken: 'at-SECRET', expiresAt: EXPIRES }), 'v'],
    ['no access token', JSON.stringify({ v: 1, expiresAt: EXPIRES }), 'accessToken'],
    ['expiry in ISO text', JSON.stringify({ v: 1, accessToken: 'at-SECRET', expiresAt: '2030-01-01T00:00:00Z' }), 'expiresAt'],
    ['an empty refresh token', JSON.stringify({ v: 1, accessToken: 'at-SECRET', expiresAt: EXPIRES, refreshToken: '' }), 'refreshToken'],
    ['issuedAt in ISO text', JSON.stringify({ v: 1, accessToken: 'at-SECRET', expiresAt: EXPIRES, issuedAt: '2030-01-01T00:00:00Z' }), 'issuedAt'],
    ['a negative issuedAt', JSON.stringify({ v: 1, accessToken: 'at-SECRET', expiresAt: EXPIRES, issuedAt: -5 }), 'issuedAt'],
  ])('rejects a stored value that is %s, without quoting it', (_label, raw, field) => {
    const error = rejectionOf(() => parseStoredTokens(raw));
    expect(error.field).toBe(field);
    expect(error.message).not.toContain('SECRET');
  });

  it('defaults a missing token type to Bearer', () => {
    expect(parseStoredTokens(JSON.stringify({ v: 1, accessToken: 'a', expiresAt: EXPIRES })).tokenType).toBe('Bearer');
  });
});

describe('compareOrder', () => {
  const at = (issuedAt: number | undefined, expiresAt: number) => ({ issuedAt, expiresAt });

  it('puts the pair obtained later first, whatever it expires', () => {
    // A new login with a short lifetime beats an older pair that expires later.
    expect(compareOrder(at(2_000, 10_000), at(1_000, 90_000))).toBeGreaterThan(0);
    expect(compareOrder(at(1_000, 90_000), at(2_000, 10_000))).toBeLessThan(0);
  });

  it('breaks a tie on issuedAt by expiry, and calls identical times equal', () => {
    expect(compareOrder(at(1_000, 20_000), at(1_000, 10_000))).toBeGreaterThan(0);
    expect(compareOrder(at(1_000, 10_000), at(1_000, 20_000))).toBeLessThan(0);
    expect(compareOrder(at(1_000, 10_000), at(1_000, 10_000))).toBe(0);
  });

  it('orders by expiry alone when either side has no issuedAt (a record or notice from before it was kept)', () => {
    expect(compareOrder(at(undefined, 20_000), at(5_000, 10_000))).toBeGreaterThan(0);
    expect(compareOrder(at(5_000, 10_000), at(undefined, 20_000))).toBeLessThan(0);
    expect(compareOrder(at(undefined, 10_000), at(undefined, 10_000))).toBe(0);
  });
});

describe('announcements', () => {
  it('carry only the two times and the origin, never a token', () => {
    const raw = encodeAnnouncement({ issuedAt: ISSUED, expiresAt: EXPIRES, origin: 'replica-1' });
    expect(JSON.parse(raw)).toEqual({ issuedAt: ISSUED, expiresAt: EXPIRES, origin: 'replica-1' });
    expect(parseAnnouncement(raw)).toEqual({ issuedAt: ISSUED, expiresAt: EXPIRES, origin: 'replica-1' });
  });

  it('leave issuedAt out when unknown, and read a notice without it (from a replica on the previous version)', () => {
    const raw = encodeAnnouncement({ issuedAt: undefined, expiresAt: EXPIRES, origin: 'replica-1' });
    expect(JSON.parse(raw)).toEqual({ expiresAt: EXPIRES, origin: 'replica-1' });
    expect(parseAnnouncement(raw)).toEqual({ expiresAt: EXPIRES, origin: 'replica-1' });
  });

  it.each([
    '',
    'hello',
    'null',
    '{"expiresAt":"soon","origin":"x"}',
    '{"expiresAt":1}',
    '{"expiresAt":1,"issuedAt":"earlier","origin":"x"}',
    '{"issuedAt":1,"origin":"x"}',
  ])('ignores a foreign message %j', (raw) => {
    expect(parseAnnouncement(raw)).toBeUndefined();
  });
});
