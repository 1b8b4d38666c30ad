import { describe, expect, it } from 'vitest';
import { TokenRefreshConfigError } from '../common/token-refresh.errors';
import { type HttpOAuthClientOptions, isLoopbackHost, validateHttpOAuthClientOptions } from './http-oauth-client.options';
import { expectTypedError } from '../../test/support/expect-error';

const SECRET = 'sekret-XYZ';
const base: HttpOAuthClientOptions = { tokenEndpoint: 'https://as.example/oauth/token', clientId: 'app', clientSecret: SECRET };

/** Validation of `options` as a thunk, for expectTypedError. */
const validating = (options: unknown, path?: string) => () => validateHttpOAuthClientOptions(options as HttpOAuthClientOptions, path);

describe('validateHttpOAuthClientOptions', () => {
  it('applies defaults: client_secret_basic with a secret, 10 s timeout, no extras', () => {
    const normalized = validateHttpOAuthClientOptions(base);
    expect(normalized).toEqual({
      tokenEndpoint: 'https://as.example/oauth/token',
      clientId: 'app',
      clientSecret: SECRET,
      authMethod: 'client_secret_basic',
      timeout: 10_000,
      extraParams: {},
    });
    expect(Object.isFrozen(normalized)).toBe(true);
    expect(Object.isFrozen(normalized.extraParams)).toBe(true);
  });

  it('defaults to none without a secret', () => {
    const normalized = validateHttpOAuthClientOptions({ tokenEndpoint: 'https://as.example/t', clientId: 'public-app' });
    expect(normalized.authMethod).toBe('none');
    expect(normalized).not.toHaveProperty('clientSecret');
  });

  it('keeps explicit settings', () => {
    expect(
      validateHttpOAuthClientOptions({
        ...base,
        authMethod: 'client_secret_post',
        scope: 'read write',
        timeout: 2500,
        extraParams: { audience: 'https://api.example' },
      }),
    ).toMatchObject({ authMethod: 'client_secret_post', scope: 'read write', timeout: 2500, extraParams: { audience: 'https://api.example' } });
  });

  it.each([
    'http://localhost:8080/token',
    'http://LOCALHOST/token',
    'http://127.0.0.1:9000/token',
    'http://127.1.2.3/token',
    'http://127.1/token', // URL normalises this to 127.0.0.1
    'http://[::1]:8080/token',
    'http://[0:0:0:0:0:0:0:1]/token',
    'https://as.example/token?tenant=a',
  ])('accepts %s', (tokenEndpoint) => {
    expect(() => validateHttpOAuthClientOptions({ ...base, tokenEndpoint })).not.toThrow();
  });

  it.each([
    ['http://as.example/token', 'must use https (http is allowed only on a loopback host, got host as.example)'],
    ['http://localhost.evil.example/token', 'must use https (http is allowed only on a loopback host, got host localhost.evil.example)'],
    ['http://128.0.0.1/token', 'must use https (http is allowed only on a loopback host, got host 128.0.0.1)'],
    ['http://10.0.0.1/token', 'must use https (http is allowed only on a loopback host, got host 10.0.0.1)'],
    ['ftp://as.example/token', 'must use https'],
    ['as.example/token', 'is not a valid absolute URL'],
    ['', 'must be a non-empty URL string'],
    [42, 'must be a non-empty URL string'],
    ['https://user:pw@as.example/token', 'must not contain credentials; use clientId and clientSecret'],
    ['https://as.example/token#frag', 'must not contain a fragment (#...)'],
  ])('rejects tokenEndpoint %j', (tokenEndpoint, message) => {
    expectTypedError(validating({ ...base, tokenEndpoint }), TokenRefreshConfigError, {
      option: 'oauth.tokenEndpoint',
      message: `oauth.tokenEndpoint ${message}`,
    });
  });

  it.each([
    ['clientId', { clientId: '' }, 'oauth.clientId must be a non-empty string'],
    ['clientId', { clientId: '   ' }, 'oauth.clientId must be a non-empty string'],
    ['clientId', { clientId: 7 }, 'oauth.clientId must be a non-empty string'],
    ['clientSecret', { clientSecret: '' }, 'oauth.clientSecret must be a non-empty string when given'],
    ['clientSecret', { clientSecret: 123 }, 'oauth.clientSecret must be a non-empty string when given'],
    ['authMethod', { authMethod: 'private_key_jwt' }, 'oauth.authMethod must be one of client_secret_basic, client_secret_post, none'],
    ['clientSecret', { clientSecret: undefined, authMethod: 'client_secret_basic' }, 'oauth.clientSecret is required with authMethod client_secret_basic'],
    ['clientSecret', { clientSecret: undefined, authMethod: 'client_secret_post' }, 'oauth.clientSecret is required with authMethod client_secret_post'],
    ['clientSecret', { authMethod: 'none' }, 'oauth.clientSecret is set but authMethod is none; remove it or use client_secret_basic or client_secret_post'],
    ['scope', { scope: '' }, 'oauth.scope must be a non-empty string when given'],
    ['scope', { scope: ['a'] }, 'oauth.scope must be a non-empty string when given'],
    ['timeout', { timeout: 0 }, 'oauth.timeout must be a positive finite number of milliseconds; got 0'],
    ['timeout', { timeout: -1 }, 'oauth.timeout must be a positive finite number of milliseconds; got -1'],
    ['timeout', { timeout: Number.NaN }, 'oauth.timeout must be a positive finite number of milliseconds; got NaN'],
    ['timeout', { timeout: Infinity }, 'oauth.timeout must be a positive finite number of milliseconds; got Infinity'],
    ['timeout', { timeout: 2 ** 31 }, 'oauth.timeout must be at most 2147483647 ms (timers cannot wait longer); got 2147483648'],
    ['timeout', { timeout: '1000' }, 'oauth.timeout must be a positive finite number of milliseconds; got string'],
    ['extraParams', { extraParams: ['a'] }, 'oauth.extraParams must be an object of strings'],
    ['extraParams.audience', { extraParams: { audience: 1 } }, 'oauth.extraParams.audience must be a string'],
    ['extraParams.grant_type', { extraParams: { grant_type: 'password' } }, 'oauth.extraParams.grant_type is set by the client and may not be overridden'],
    ['extraParams.refresh_token', { extraParams: { refresh_token: 'x' } }, 'oauth.extraParams.refresh_token is set by the client and may not be overridden'],
    ['extraParams.client_id', { extraParams: { client_id: 'x' } }, 'oauth.extraParams.client_id is set by the client and may not be overridden'],
    ['extraParams.client_secret', { extraParams: { client_secret: SECRET } }, 'oauth.extraParams.client_secret is set by the client and may not be overridden'],
    ['extraParams.scope', { extraParams: { scope: 'a' } }, 'oauth.extraParams.scope is not allowed; use the scope option'],
  ])('rejects a bad %s', (option, overrides, message) => {
    expectTypedError(validating({ ...base, ...overrides }), TokenRefreshConfigError, { option: `oauth.${option}`, message, permanent: true });
  });

  it('rejects a non-object', () => {
    expectTypedError(validating(undefined), TokenRefreshConfigError, { option: 'oauth' });
    expectTypedError(validating('https://as.example'), TokenRefreshConfigError, { message: 'oauth must be an object' });
  });

  it('names options under the given path', () => {
    expectTypedError(validating({ ...base, clientId: '' }, 'registrations.billing.oauth'), TokenRefreshConfigError, {
      option: 'registrations.billing.oauth.clientId',
    });
  });

  it('never repeats the secret, wherever it was put', () => {
    const misplaced: unknown[] = [
      { ...base, tokenEndpoint: `http://as.example/token?client_secret=${SECRET}` },
      { ...base, tokenEndpoint: `https://app:${SECRET}@as.example/token` },
      { ...base, tokenEndpoint: SECRET },
      { ...base, authMethod: SECRET },
      { ...base, authMethod: 'none' },
      { ...base, timeout: SECRET },
      { ...base, scope: 5, extraParams: { client_secret: SECRET } },
      { ...base, extraParams: { client_secret: SECRET } },
      { ...base, extraParams: { audience: { nested: SECRET } } },
    ];
    for (const options of misplaced) {
      const error = expectTypedError(validating(options), TokenRefreshConfigError);
      expect(error.message).not.toContain(SECRET);
      expect(JSON.stringify(error)).not.toContain(SECRET);
      expect(error.stack).not.toContain(SECRET);
    }
  });
});

describe('isLoopbackHost', () => {
  it.each([
    ['localhost', true],
    ['127.0.0.1', true],
    ['127.255.255.254', true],
    ['[::1]', true],
    ['localhost.example', false],
    ['127.0.0.1.example', false],
    ['[::2]', false],
    ['0.0.0.0', false],
  ])('%s: %s', (host, expected) => {
    expect(isLoopbackHost(host)).toBe(expected);
  });
});
