import { describe, expect, it } from 'vitest';
import {
  InvalidTokenResponseError,
  OAuthProtocolError,
  TokenEndpointHttpError,
} from '../common/token-refresh.errors';
import { parseTokenResponse, type ResponseHeaders } from './token-response.parser';
import { expectTypedError } from '../../test/support/expect-error';

const NOW = Date.UTC(2025, 5, 1, 12, 0, 0);
const JSON_HEADERS = { 'content-type': 'application/json' };
const AT = 'at-SECRET-456';
const RT = 'rt-SECRET-123';

function parseOk(body: unknown, headers: Record<string, unknown> = JSON_HEADERS) {
  return parseTokenResponse(200, headers, typeof body === 'string' ? body : JSON.stringify(body), NOW);
}

/** parseTokenResponse of a failed answer, as a thunk for expectTypedError. */
function parsing(status: number, body: unknown, headers: ResponseHeaders = JSON_HEADERS, redact?: string[]) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return () => parseTokenResponse(status, headers, text, NOW, { redact });
}

describe('parseTokenResponse: success (RFC 6749 section 5.1)', () => {
  it('maps every field to camelCase', () => {
    expect(
      parseOk({
        access_token: AT,
        token_type: 'Bearer',
        expires_in: 3600,
        refresh_token: RT,
        scope: 'a b',
        id_token: 'h.p.s',
        extra: 'ignored',
      }),
    ).toEqual({ accessToken: AT, tokenType: 'Bearer', expiresIn: 3600, refreshToken: RT, scope: 'a b', idToken: 'h.p.s' });
  });

  it('leaves absent optional fields undefined, so the core keeps the old refresh token', () => {
    const pair = parseOk({ access_token: AT, token_type: 'Bearer' });
    expect(pair).toEqual({ accessToken: AT, tokenType: 'Bearer' });
    expect(Object.keys(pair)).toEqual(['accessToken', 'tokenType']);
  });

  it('treats null optional fields as absent', () => {
    expect(
      parseOk({ access_token: AT, token_type: 'Bearer', expires_in: null, refresh_token: null, scope: null, id_token: null }),
    ).toEqual({ accessToken: AT, tokenType: 'Bearer' });
  });

  it('tolerates expires_in as a string of digits, with or without decimals, and 0', () => {
    expect(parseOk({ access_token: AT, token_type: 'Bearer', expires_in: '3599' }).expiresIn).toBe(3599);
    expect(parseOk({ access_token: AT, token_type: 'Bearer', expires_in: '3600.0' }).expiresIn).toBe(3600);
    expect(parseOk({ access_token: AT, token_type: 'Bearer', expires_in: ' 3600.5 ' }).expiresIn).toBe(3600.5);
    expect(parseOk({ access_token: AT, token_type: 'Bearer', expires_in: 0 }).expiresIn).toBe(0);
  });

  it('accepts any 2xx and ignores the content type when the body is JSON', () => {
    expect(parseTokenResponse(201, { 'content-type': 'text/plain' }, JSON.stringify({ access_token: AT, token_type: 'x' }), NOW))
      .toEqual({ accessToken: AT, tokenType: 'x' });
  });
});

describe('parseTokenResponse: a rotation is never thrown away', () => {
  it('passes every field through as sent, odd ones included: the manager judges them, and keeps the rotation', () => {
    const odd = { access_token: AT, refresh_token: 'rotated', expires_in: -1, scope: ['a'], id_token: { x: 1 }, token_type: 7 };
    expect(parseOk(odd)).toEqual({ accessToken: AT, refreshToken: 'rotated', expiresIn: -1, scope: ['a'], idToken: { x: 1 }, tokenType: 7 });
  });

  it('returns a rotated refresh token even when the access token is missing or unusable', () => {
    expect(parseOk({ refresh_token: 'rotated', token_type: 'Bearer' })).toEqual({ refreshToken: 'rotated', tokenType: 'Bearer' });
    expect(parseOk({ access_token: 42, refresh_token: 'rotated' })).toEqual({ accessToken: 42, refreshToken: 'rotated' });
  });
});

describe('parseTokenResponse: malformed success', () => {
  it.each([
    ['missing access_token', { token_type: 'Bearer' }, 'access_token is missing'],
    ['null access_token', { access_token: null, token_type: 'Bearer' }, 'access_token is missing'],
    ['empty access_token', { access_token: '', token_type: 'Bearer' }, 'access_token is not a usable string (got string)'],
    ['numeric access_token', { access_token: 42, token_type: 'Bearer' }, 'access_token is not a usable string (got number)'],
  ])('%s, and no refresh token to keep', (_name, body, message) => {
    const error = expectTypedError(parsing(200, body), InvalidTokenResponseError);
    expect(error.message).toBe(`invalid token response: ${message}`);
    expect(error.permanent).toBe(false);
  });

  it.each([
    ['an HTML page', `<html>${AT}</html>`, { 'Content-Type': 'text/html; charset=utf-8' }, 'body is not JSON (content-type text/html)'],
    ['truncated JSON', `{"access_token":"${AT}"`, JSON_HEADERS, 'body is not JSON (content-type application/json)'],
    ['no content type', 'nope', {}, 'body is not JSON'],
    ['a garbage content type', 'nope', { 'content-type': `x\n${AT}` }, 'body is not JSON (content-type unrecognised)'],
    ['an empty body', '', JSON_HEADERS, 'body is empty'],
    ['a JSON array', JSON.stringify([AT]), JSON_HEADERS, 'body is not a JSON object (got array)'],
    ['JSON null', 'null', JSON_HEADERS, 'body is not a JSON object (got null)'],
    ['a JSON string', JSON.stringify(AT), JSON_HEADERS, 'body is not a JSON object (got string)'],
  ])('rejects %s without echoing the body', (_name, body, headers, message) => {
    const error = expectTypedError(parsing(200, body, headers), InvalidTokenResponseError);
    expect(error.message).toBe(`invalid token response: ${message}`);
    expect(error.message).not.toContain(AT);
  });

  it('reads a 200 carrying an `error` body (GitHub style) as an OAuthProtocolError', () => {
    const error = expectTypedError(parsing(200, { error: 'bad_refresh_token', error_description: 'The refresh token passed is incorrect' }), OAuthProtocolError);
    expect(error).toMatchObject({ code: 'oauth_error', error: 'bad_refresh_token', status: 200, permanent: true });
  });
});

describe('parseTokenResponse: error responses (RFC 6749 section 5.2)', () => {
  it('maps a section 5.2 body to OAuthProtocolError with description, uri and Retry-After', () => {
    const error = expectTypedError(
      parsing(
        400,
        { error: 'invalid_grant', error_description: 'expired', error_uri: 'https://as.example/doc' },
        { 'Content-Type': 'application/json', 'Retry-After': '5' },
      ),
      OAuthProtocolError,
    );
    expect(error).toMatchObject({
      code: 'oauth_error',
      error: 'invalid_grant',
      status: 400,
      errorDescription: 'expired',
      errorUri: 'https://as.example/doc',
      retryAfterMs: 5000,
      permanent: true,
    });
  });

  it.each([
    // Listed permanent codes stay permanent whatever the status.
    [400, 'invalid_grant', true],
    [400, 'invalid_request', true],
    [400, 'invalid_client', true],
    [401, 'invalid_client', true],
    [400, 'unauthorized_client', true],
    [400, 'unsupported_grant_type', true],
    [400, 'invalid_scope', true],
    [500, 'invalid_grant', true],
    // Listed transient codes stay transient whatever the status.
    [503, 'temporarily_unavailable', false],
    [400, 'temporarily_unavailable', false],
    [500, 'server_error', false],
    [400, 'use_dpop_nonce', false],
    // Unknown codes follow the status, like a bare HTTP error.
    [500, 'vendor_meltdown', false],
    [502, 'vendor_meltdown', false],
    [429, 'rate_limited', false],
    [408, 'request_timeout', false],
    [400, 'vendor_specific', true],
    [403, 'access_denied', true],
  ])('status %d with %s: permanent %s', (status, code, permanent) => {
    const error = expectTypedError(parsing(status, { error: code }), OAuthProtocolError);
    expect(error).toMatchObject({ code: 'oauth_error', error: code, status, permanent });
  });

  it('without a status (a custom client), an unknown code stays transient', () => {
    expect(new OAuthProtocolError({ error: 'vendor_specific' }).permanent).toBe(false);
    expect(new OAuthProtocolError({ error: 'invalid_grant' }).permanent).toBe(true);
  });

  it.each([
    [400, '', true],
    [401, 'Unauthorized', true],
    [404, '<html>Not Found</html>', true],
    [408, '', false],
    [429, 'slow down', false],
    [500, '', false],
    [502, '<html>Bad Gateway</html>', false],
    [503, JSON.stringify({ message: 'no error field' }), false],
    [400, JSON.stringify({ error: 42 }), true],
    [400, JSON.stringify({ error: '' }), true],
  ])('status %d with body %j and no section 5.2 error: TokenEndpointHttpError, permanent %s', (status, body, permanent) => {
    const error = expectTypedError(parsing(status, body, { 'content-type': 'text/html' }), TokenEndpointHttpError);
    expect(error).toMatchObject({ status, permanent });
    expect(error.message).toBe(`token endpoint answered HTTP ${status}`);
  });

  it('a redirect is a permanent TokenEndpointHttpError, even with an error-like body', () => {
    const error = expectTypedError(parsing(302, { error: 'invalid_grant' }, { location: 'https://elsewhere.example/' }), TokenEndpointHttpError);
    expect(error).toMatchObject({ status: 302, permanent: true, message: 'token endpoint answered HTTP 302 (redirect not followed)' });
  });

  it('reads Retry-After case-insensitively, as a string, number or array, and as an HTTP-date', () => {
    expect(expectTypedError(parsing(503, '', { 'RETRY-AFTER': '9' }), Error)).toMatchObject({ retryAfterMs: 9000 });
    expect(expectTypedError(parsing(503, '', { 'retry-after': 9 }), Error)).toMatchObject({ retryAfterMs: 9000 });
    expect(expectTypedError(parsing(503, '', { 'retry-after': ['9', '10'] }), Error)).toMatchObject({ retryAfterMs: 9000 });
    expect(expectTypedError(parsing(429, '', { 'retry-after': 'Sun, 01 Jun 2025 12:01:00 GMT' }), Error)).toMatchObject({ retryAfterMs: 60_000 });
    expect(expectTypedError(parsing(503, '', { 'retry-after': 'later' }), Error)).toMatchObject({ retryAfterMs: undefined });
    expect(expectTypedError(parsing(503, '', null), Error)).toMatchObject({ retryAfterMs: undefined });
  });

  describe('sanitising provider text', () => {
    it('strips control and bidi characters and collapses whitespace', () => {
      const error = expectTypedError(
        parsing(400, {
          error: 'invalid_grant',
          error_description: 'line one\r\n\tline\u0000two \u001b[31mred\u001b[0m \u202Eevil\u202C',
          error_uri: 'https://as.example/\u0007doc',
        }),
        OAuthProtocolError,
      );
      expect(error.errorDescription).toBe('line one line two [31mred [0m evil');
      expect(error.errorUri).toBe('https://as.example/ doc');
      expect(error.message).not.toMatch(/[\p{Cc}]/u);
    });

    it('truncates to 200 characters without splitting a surrogate pair', () => {
      const error = expectTypedError(parsing(400, { error: 'invalid_grant', error_description: '😀'.repeat(500), error_uri: 'u'.repeat(500) }), OAuthProtocolError);
      expect(Array.from(error.errorDescription ?? '')).toHaveLength(200);
      expect(error.errorDescription).toBe(`${'😀'.repeat(199)}…`);
      expect(error.errorUri).toHaveLength(200);
    });

    it('sanitises and caps the server\'s error string too, and keeps our own code', () => {
      const error = expectTypedError(parsing(400, { error: `weird\ncode${'x'.repeat(100)}` }), OAuthProtocolError);
      expect(error.code).toBe('oauth_error');
      expect(error.error).not.toContain('\n');
      expect(Array.from(error.error)).toHaveLength(64);
    });

    it('drops a description that is empty after sanitising', () => {
      const error = expectTypedError(parsing(400, { error: 'invalid_grant', error_description: '\u0000\u0001' }), OAuthProtocolError);
      expect(error.errorDescription).toBeUndefined();
      expect(error.message).toBe('token endpoint answered 400 invalid_grant');
    });

    it('redacts the given secrets from description, uri and error', () => {
      const error = expectTypedError(
        parsing(
          400,
          { error: 'invalid_grant', error_description: `token ${RT} is revoked (client sekret-XYZ)`, error_uri: `https://as.example/?t=${RT}` },
          JSON_HEADERS,
          [RT, 'sekret-XYZ'],
        ),
        OAuthProtocolError,
      );
      expect(error.errorDescription).toBe('token [redacted] is revoked (client [redacted])');
      expect(error.errorUri).toBe('https://as.example/?t=[redacted]');
      expect(error.message).not.toContain(RT);
    });

    it('redacts secrets echoed URL-encoded, form-encoded, JSON-escaped or inside Basic credentials', () => {
      const secret = 'cl1ent+s3cret/with=odd&chars';
      const refresh = 'rt/abc+def==';
      const basic = Buffer.from(`my-client:${new URLSearchParams([['', secret]]).toString().slice(1)}`).toString('base64');
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refresh, client_secret: secret }).toString();
      const description = `echo: ${form} ${encodeURIComponent(secret)} ${JSON.stringify({ secret })} Authorization: Basic ${basic}`;
      const error = expectTypedError(parsing(400, { error: 'invalid_request', error_description: description }, JSON_HEADERS, [refresh, secret]), OAuthProtocolError);
      const surfaces = `${error.message} ${error.errorDescription} ${JSON.stringify(error)}`;
      for (const leak of [secret, refresh, encodeURIComponent(secret), encodeURIComponent(refresh), basic]) {
        expect(surfaces).not.toContain(leak);
      }
      // What the decoded Basic credentials still show is the client id, not the secret.
      const shown = /Basic (\S+)/.exec(error.errorDescription ?? '')?.[1] ?? '';
      expect(Buffer.from(shown.replace('[redacted]', ''), 'base64').toString('utf8')).not.toContain('s3cret');
    });

    it('redacts before truncating, so no prefix of a secret survives the cut', () => {
      const secret = 'S'.repeat(50);
      const error = expectTypedError(parsing(400, { error: 'invalid_grant', error_description: `${'a'.repeat(180)}${secret}` }, JSON_HEADERS, [secret]), OAuthProtocolError);
      expect(error.errorDescription).not.toContain('SSSS');
    });
  });
});
