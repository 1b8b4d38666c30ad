import { describe, expect, it } from 'vitest';
import { type StoredTokens } from '../common/interfaces/token-store.interface';
import { TokenStoreUnreadableError, TokenValidationError } from '../common/token-refresh.errors';
import { encodeAnnouncement, parseAnnouncement, parseStoredTokens, serializeTokens } from './redis-token.serialization';
import { expectTypedError } from '../../test/support/expect-error';

const EXPIRES = Date.UTC(2030, 0, 1, 12, 0, 0, 123);
const ISSUED = EXPIRES - 3_600_000;
const full: StoredTokens = {
  accessToken: 'at-SECRET',
  refreshToken: 'rt-SECRET',
  tokenType: 'Bearer',
  expiresAt: new Date(EXPIRES),
  issuedAt: new Date(ISSUED),
  version: 7,
  scope: 'openid offline_access',
  idToken: 'id-SECRET',
};

describe('serializeTokens / parseStoredTokens', () => {
  it('round-trips every field, with the times stored as epoch ms beside the version', () => {
    const { json, expiresAt, issuedAt, version } = serializeTokens(full);
    expect({ expiresAt, issuedAt, version }).toEqual({ expiresAt: EXPIRES, issuedAt: ISSUED, version: 7 });
    expect(JSON.parse(json)).toMatchObject({ v: 1, expiresAt: EXPIRES, issuedAt: ISSUED, version: 7 });
    expect(parseStoredTokens(json)).toEqual(full);
  });

  it('leaves out absent optional fields rather than storing null', () => {
    const minimal: StoredTokens = { accessToken: 'a', tokenType: 'Bearer', expiresAt: new Date(EXPIRES), issuedAt: new Date(ISSUED), version: 0 };
    const { json } = serializeTokens(minimal);
    expect(Object.keys(JSON.parse(json)).sort()).toEqual(['accessToken', 'expiresAt', 'issuedAt', 'tokenType', 'v', 'version']);
    expect(parseStoredTokens(json)).toEqual(minimal);
  });

  it('refuses to store tokens without a valid expiry, issuedAt, version or access token', () => {
    expectTypedError(() => serializeTokens({ ...full, expiresAt: new Date(Number.NaN) }), TokenValidationError, { field: 'expiresAt' });
    expectTypedError(() => serializeTokens({ ...full, accessToken: '' }), TokenValidationError, { field: 'accessToken' });
    expectTypedError(() => serializeTokens({ ...full, issuedAt: new Date(Number.NaN) }), TokenValidationError, { field: 'issuedAt' });
    expectTypedError(() => serializeTokens({ ...full, version: -1 }), TokenValidationError, { field: 'version' });
    expectTypedError(() => serializeTokens({ ...full, version: 1.5 }), TokenValidationError, { field: 'version' });
  });

  const record = (fields: Record<string, unknown>) =>
    JSON.stringify({ v: 1, accessToken: 'at-SECRET', expiresAt: EXPIRES, issuedAt: ISSUED, version: 1, ...fields });

  it.each([
    ['not JSON', '{"accessToken":"at-SECRET"', 'not valid JSON'],
    ['an array', '["at-SECRET"]', 'not a JSON object'],
    ['of a format version this release does not know', record({ v: 2 }), 'unknown format version'],
    ['without an access token', record({ accessToken: undefined }), 'no accessToken'],
    ['with its expiry in ISO text', record({ expiresAt: '2030-01-01T00:00:00Z' }), 'no valid expiresAt'],
    ['without issuedAt', record({ issuedAt: undefined }), 'no valid issuedAt'],
    ['without a version', record({ version: undefined }), 'no valid version'],
    ['with an empty refresh token', record({ refreshToken: '' }), 'refreshToken'],
  ])('calls a stored value %s unreadable, without quoting it', (_label, raw, reason) => {
    const error = expectTypedError(() => parseStoredTokens(raw), TokenStoreUnreadableError);
    expect(error.code).toBe('store_unreadable');
    expect(error.reason).toContain(reason);
    expect(error.message).not.toContain('SECRET');
  });

  it('defaults a missing token type to Bearer', () => {
    expect(parseStoredTokens(record({})).tokenType).toBe('Bearer');
  });
});

describe('announcements', () => {
  it('carry the order of the pair and the origin, never a token', () => {
    const notice = { version: 3, issuedAt: ISSUED, expiresAt: EXPIRES, origin: 'replica-1' };
    const raw = encodeAnnouncement(notice);
    expect(JSON.parse(raw)).toEqual(notice);
    expect(parseAnnouncement(raw)).toEqual(notice);
  });

  it("a keyed store's also carry the key, whatever its characters", () => {
    const notice = { version: 3, issuedAt: ISSUED, expiresAt: EXPIRES, origin: 'replica-1', key: 'tenant:{7} "a"\n' };
    const raw = encodeAnnouncement(notice);
    expect(JSON.parse(raw)).toEqual(notice);
    expect(parseAnnouncement(raw)).toEqual(notice);
  });

  it.each([
    '',
    'hello',
    'null',
    '{"expiresAt":"soon","origin":"x"}',
    '{"expiresAt":1}',
    '{"expiresAt":1,"issuedAt":1,"origin":"x"}',
    '{"version":1,"expiresAt":1,"issuedAt":"earlier","origin":"x"}',
    '{"version":-1,"expiresAt":1,"issuedAt":1,"origin":"x"}',
    '{"version":1,"expiresAt":1,"issuedAt":1,"origin":"x","key":42}',
  ])('ignores a foreign message %j', (raw) => {
    expect(parseAnnouncement(raw)).toBeUndefined();
  });
});
