import { describe, expect, it } from 'vitest';
import { type StoredTokens } from '../interfaces/token-store.interface';
import { TokenValidationError } from '../token-refresh.errors';
import {
  encodeAnnouncement,
  parseAnnouncement,
  parseStoredTokens,
  serializeTokens,
} from './redis-token.serialization';

const EXPIRES = Date.UTC(2030, 0, 1, 12, 0, 0, 123);
const full: StoredTokens = {
  accessToken: 'at-SECRET',
  refreshToken: 'rt-SECRET',
  tokenType: 'Bearer',
  expiresAt: new Date(EXPIRES),
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
  it('round-trips every field, with expiresAt stored as epoch ms', () => {
    const { json, expiresAt } = serializeTokens(full);
    expect(expiresAt).toBe(EXPIRES);
    expect(JSON.parse(json)).toMatchObject({ v: 1, expiresAt: EXPIRES });
    expect(parseStoredTokens(json)).toEqual(full);
  });

  it('leaves out absent optional fields rather than storing null', () => {
    const { json } = serializeTokens({ accessToken: 'a', tokenType: 'Bearer', expiresAt: new Date(EXPIRES) });
    expect(Object.keys(JSON.parse(json)).sort()).toEqual(['accessToken', 'expiresAt', 'tokenType', 'v']);
    expect(parseStoredTokens(json)).toEqual({ accessToken: 'a', tokenType: 'Bearer', expiresAt: new Date(EXPIRES) });
  });

  it('refuses to store tokens without a valid expiry or access token', () => {
    expect(rejectionOf(() => serializeTokens({ ...full, expiresAt: new Date(Number.NaN) })).field).toBe('expiresAt');
    expect(rejectionOf(() => serializeTokens({ ...full, accessToken: '' })).field).toBe('accessToken');
  });

  it.each([
    ['not JSON', '{"accessToken":"at-SECRET"', 'tokens'],
    ['an array', '["at-SECRET"]', 'tokens'],
    ['an unknown version', JSON.stringify({ v: 2, accessToken: 'at-SECRET', expiresAt: EXPIRES }), 'v'],
    ['no access token', JSON.stringify({ v: 1, expiresAt: EXPIRES }), 'accessToken'],
    ['expiry in ISO text', JSON.stringify({ v: 1, accessToken: 'at-SECRET', expiresAt: '2030-01-01T00:00:00Z' }), 'expiresAt'],
    ['an empty refresh token', JSON.stringify({ v: 1, accessToken: 'at-SECRET', expiresAt: EXPIRES, refreshToken: '' }), 'refreshToken'],
  ])('rejects a stored value that is %s, without quoting it', (_label, raw, field) => {
    const error = rejectionOf(() => parseStoredTokens(raw));
    expect(error.field).toBe(field);
    expect(error.message).not.toContain('SECRET');
  });

  it('defaults a missing token type to Bearer', () => {
    expect(parseStoredTokens(JSON.stringify({ v: 1, accessToken: 'a', expiresAt: EXPIRES })).tokenType).toBe('Bearer');
  });
});

describe('announcements', () => {
  it('carry only the expiry and the origin', () => {
    const raw = encodeAnnouncement({ expiresAt: EXPIRES, origin: 'replica-1' });
    expect(JSON.parse(raw)).toEqual({ expiresAt: EXPIRES, origin: 'replica-1' });
    expect(parseAnnouncement(raw)).toEqual({ expiresAt: EXPIRES, origin: 'replica-1' });
  });

  it.each(['', 'hello', 'null', '{"expiresAt":"soon","origin":"x"}', '{"expiresAt":1}'])('ignores a foreign message %j', (raw) => {
    expect(parseAnnouncement(raw)).toBeUndefined();
  });
});
