import { HttpService } from '@nestjs/axios';
import { Agent } from 'node:http';
import { inspect } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type HttpOAuthClientOptions } from '../../src/oauth/http-oauth-client.options';
import { HttpOAuthClient } from '../../src/oauth/http-oauth-client';
import {
  InvalidTokenResponseError,
  OAuthProtocolError,
  RefreshAbortedError,
  TokenEndpointHttpError,
  TokenEndpointNetworkError,
  TokenEndpointTimeoutError,
} from '../../src/common/token-refresh.errors';
import {
  closedPortOrigin,
  type ServerBehaviour,
  ScriptedServer,
  sendJson,
  sendText,
} from '../support/scripted-server';
import { expectTypedError } from '../support/expect-error';

const CLIENT_ID = 'my-client';
const CLIENT_SECRET = 'sekret-XYZ';
const REFRESH_TOKEN = 'rt-SECRET-123';
const ACCESS_TOKEN = 'at-SECRET-456';
const NEW_REFRESH_TOKEN = 'rt-NEW-SECRET-789';
const BASIC_HEADER = `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')}`;

let server: ScriptedServer;
// No keep-alive: a pooled socket closed by the previous test's teardown must never be reused.
// Derived from HttpService's own axios so the instance has the types @nestjs/axios expects
// (importing axios here would give the CommonJS declarations, a distinct type).
const http = new HttpService(new HttpService().axiosRef.create({ httpAgent: new Agent({ keepAlive: false }) }));

beforeAll(async () => {
  server = await ScriptedServer.start();
});

afterEach(() => {
  server.reset();
});

afterAll(async () => {
  await server.close();
});

function makeClient(overrides: Partial<HttpOAuthClientOptions> = {}): HttpOAuthClient {
  return new HttpOAuthClient(
    { tokenEndpoint: server.tokenEndpoint, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, ...overrides },
    http,
  );
}

function refresh(client: HttpOAuthClient, signal = new AbortController().signal): Promise<unknown> {
  return client.refresh(REFRESH_TOKEN, { signal });
}

const hang: ServerBehaviour = () => undefined;

interface FailureScenario {
  name: string;
  options?: Partial<HttpOAuthClientOptions>;
  behaviour: ServerBehaviour;
  /** Starts the refresh and returns its (rejecting) promise; defaults to one refresh nobody aborts. */
  act?: (client: HttpOAuthClient) => Promise<unknown>;
  check: (error: unknown) => void;
}

const failureScenarios: FailureScenario[] = [
  {
    name: '503 with Retry-After seconds: transient TokenEndpointHttpError',
    behaviour: (_req, res) => sendText(res, 503, 'busy', { 'Retry-After': '120' }),
    check: (error) => {
      expect(error).toBeInstanceOf(TokenEndpointHttpError);
      expect(error).toMatchObject({ status: 503, permanent: false, retryAfterMs: 120_000, code: 'http_error' });
    },
  },
  {
    name: '503 with Retry-After HTTP-date: transient with the remaining delay',
    behaviour: (_req, res) => sendText(res, 503, 'busy', { 'Retry-After': new Date(Date.now() + 120_000).toUTCString() }),
    check: (error) => {
      expect(error).toBeInstanceOf(TokenEndpointHttpError);
      const { retryAfterMs, permanent } = error as TokenEndpointHttpError;
      expect(permanent).toBe(false);
      // The date has one-second resolution and a little time passes between answer and parse.
      expect(retryAfterMs).toBeGreaterThan(110_000);
      expect(retryAfterMs).toBeLessThanOrEqual(120_000);
    },
  },
  {
    name: '429 with Retry-After: transient',
    behaviour: (_req, res) => sendText(res, 429, 'slow down', { 'Retry-After': '7' }),
    check: (error) => {
      expect(error).toBeInstanceOf(TokenEndpointHttpError);
      expect(error).toMatchObject({ status: 429, permanent: false, retryAfterMs: 7000 });
    },
  },
  {
    name: '400 invalid_grant: permanent OAuthProtocolError with the description',
    behaviour: (_req, res) =>
      sendJson(res, 400, { error: 'invalid_grant', error_description: 'Token is not active', error_uri: 'https://as.example/e' }),
    check: (error) => {
      expect(error).toBeInstanceOf(OAuthProtocolError);
      expect(error).toMatchObject({
        code: 'oauth_error',
        error: 'invalid_grant',
        status: 400,
        errorDescription: 'Token is not active',
        errorUri: 'https://as.example/e',
        permanent: true,
      });
      expect((error as Error).message).toBe('token endpoint answered 400 invalid_grant: Token is not active');
    },
  },
  {
    name: '401 invalid_client: permanent OAuthProtocolError',
    behaviour: (_req, res) =>
      sendJson(res, 401, { error: 'invalid_client' }, { 'WWW-Authenticate': 'Basic realm="token"' }),
    check: (error) => {
      expect(error).toBeInstanceOf(OAuthProtocolError);
      expect(error).toMatchObject({ code: 'oauth_error', error: 'invalid_client', status: 401, permanent: true });
    },
  },
  {
    name: '503 temporarily_unavailable: transient OAuthProtocolError with Retry-After',
    behaviour: (_req, res) => sendJson(res, 503, { error: 'temporarily_unavailable' }, { 'Retry-After': '30' }),
    check: (error) => {
      expect(error).toBeInstanceOf(OAuthProtocolError);
      expect(error).toMatchObject({ code: 'oauth_error', error: 'temporarily_unavailable', status: 503, permanent: false, retryAfterMs: 30_000 });
    },
  },
  {
    name: 'an error description echoing the refresh token and secret is redacted',
    behaviour: (_req, res) =>
      sendJson(res, 400, {
        error: 'invalid_grant',
        error_description: `refresh token ${REFRESH_TOKEN} unknown for secret ${CLIENT_SECRET}`,
      }),
    check: (error) => {
      expect(error).toBeInstanceOf(OAuthProtocolError);
      expect((error as OAuthProtocolError).errorDescription).toBe('refresh token [redacted] unknown for secret [redacted]');
    },
  },
  {
    name: 'a hang past the timeout: TokenEndpointTimeoutError',
    options: { timeout: 200 },
    behaviour: hang,
    check: (error) => {
      expect(error).toBeInstanceOf(TokenEndpointTimeoutError);
      expect(error).toMatchObject({ timeoutMs: 200, permanent: false, code: 'timeout' });
    },
  },
  {
    name: "the caller's signal aborting mid-request: RefreshAbortedError",
    behaviour: hang,
    act: async (client) => {
      const controller = new AbortController();
      const received = server.nextRequest();
      const pending = refresh(client, controller.signal);
      // Abort only once the request is really in flight (or surface an early failure).
      await Promise.race([received, pending]);
      controller.abort();
      return pending;
    },
    check: (error) => {
      expect(error).toBeInstanceOf(RefreshAbortedError);
      expect(error).toMatchObject({ code: 'aborted', permanent: false });
    },
  },
  {
    name: 'a reset connection: TokenEndpointNetworkError with the code only',
    behaviour: (req) => req.socket.destroy(),
    check: (error) => {
      expect(error).toBeInstanceOf(TokenEndpointNetworkError);
      expect(error).toMatchObject({ reason: 'ECONNRESET', permanent: false });
      expect((error as Error).message).toBe('token endpoint unreachable: ECONNRESET');
    },
  },
  {
    name: 'malformed JSON with 200: transient InvalidTokenResponseError',
    behaviour: (_req, res) =>
      sendText(res, 200, `{"access_token":"${ACCESS_TOKEN}","token_type":`, { 'Content-Type': 'application/json' }),
    check: (error) => {
      expect(error).toBeInstanceOf(InvalidTokenResponseError);
      expect(error).toMatchObject({ permanent: false, code: 'invalid_response' });
      expect((error as Error).message).toBe('invalid token response: body is not JSON (content-type application/json)');
    },
  },
  {
    name: 'an HTML page with 200: InvalidTokenResponseError naming the content type',
    behaviour: (_req, res) =>
      sendText(res, 200, `<html><body>Login ${ACCESS_TOKEN}</body></html>`, { 'Content-Type': 'text/html; charset=utf-8' }),
    check: (error) => {
      expect(error).toBeInstanceOf(InvalidTokenResponseError);
      expect((error as Error).message).toBe('invalid token response: body is not JSON (content-type text/html)');
    },
  },
  {
    name: 'an HTML page with 502: transient TokenEndpointHttpError',
    behaviour: (_req, res) => sendText(res, 502, '<html><body>Bad Gateway</body></html>', { 'Content-Type': 'text/html' }),
    check: (error) => {
      expect(error).toBeInstanceOf(TokenEndpointHttpError);
      expect(error).toMatchObject({ status: 502, permanent: false, retryAfterMs: undefined });
    },
  },
  {
    name: 'a body over 1 MiB: transient InvalidTokenResponseError',
    behaviour: (_req, res) =>
      sendText(res, 200, JSON.stringify({ access_token: ACCESS_TOKEN + 'x'.repeat(1536 * 1024), token_type: 'Bearer' }), {
        'Content-Type': 'application/json',
      }),
    check: (error) => {
      expect(error).toBeInstanceOf(InvalidTokenResponseError);
      expect(error).toMatchObject({ permanent: false, message: 'invalid token response: body larger than 1 MiB' });
    },
  },
  {
    name: 'a chunked body over 1 MiB (no Content-Length): InvalidTokenResponseError',
    behaviour: (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.write(`{"access_token":"${ACCESS_TOKEN}`);
      for (let i = 0; i < 24; i++) res.write('y'.repeat(64 * 1024));
      res.end('","token_type":"Bearer"}');
    },
    check: (error) => {
      expect(error).toBeInstanceOf(InvalidTokenResponseError);
      expect((error as Error).message).toBe('invalid token response: body larger than 1 MiB');
    },
  },
  {
    name: '200 without access_token or refresh_token: InvalidTokenResponseError naming the field',
    behaviour: (_req, res) => sendJson(res, 200, { token_type: 'Bearer', expires_in: 60 }),
    check: (error) => {
      expect(error).toBeInstanceOf(InvalidTokenResponseError);
      expect((error as Error).message).toBe('invalid token response: access_token is missing');
    },
  },
  {
    name: 'a 302 redirect: not followed, permanent TokenEndpointHttpError',
    behaviour: (req, res) => {
      if (req.url === '/token') {
        res.writeHead(302, { Location: '/elsewhere', 'Content-Length': 0 });
        res.end();
      } else {
        sendJson(res, 200, { access_token: ACCESS_TOKEN, token_type: 'Bearer' });
      }
    },
    check: (error) => {
      expect(error).toBeInstanceOf(TokenEndpointHttpError);
      expect(error).toMatchObject({ status: 302, permanent: true });
      expect((error as Error).message).toBe('token endpoint answered HTTP 302 (redirect not followed)');
      expect(server.requests.map((r) => r.url)).toEqual(['/token']);
    },
  },
];

describe('HttpOAuthClient against a local token endpoint', () => {
  describe('success', () => {
    it('sends an RFC 6749 refresh request and maps the response, including a rotated refresh token', async () => {
      server.behave((_req, res) =>
        sendJson(res, 200, {
          access_token: ACCESS_TOKEN,
          token_type: 'Bearer',
          expires_in: 3600,
          refresh_token: NEW_REFRESH_TOKEN,
          scope: 'read write',
          id_token: 'id.token.sig',
        }),
      );
      const client = makeClient({ scope: 'read write', extraParams: { audience: 'https://api.example' } });

      await expect(refresh(client)).resolves.toEqual({
        accessToken: ACCESS_TOKEN,
        tokenType: 'Bearer',
        expiresIn: 3600,
        refreshToken: NEW_REFRESH_TOKEN,
        scope: 'read write',
        idToken: 'id.token.sig',
      });

      expect(server.requests).toHaveLength(1);
      const [request] = server.requests;
      expect(request.method).toBe('POST');
      expect(request.url).toBe('/token');
      expect(request.headers['content-type']).toBe('application/x-www-form-urlencoded');
      expect(request.headers.accept).toBe('application/json');
      expect(request.form).toEqual({
        grant_type: 'refresh_token',
        refresh_token: REFRESH_TOKEN,
        scope: 'read write',
        audience: 'https://api.example',
      });
    });

    it('leaves refreshToken undefined when the response has none (the core keeps the old one)', async () => {
      server.behave((_req, res) => sendJson(res, 200, { access_token: ACCESS_TOKEN, token_type: 'bearer', expires_in: 60 }));

      const pair = await refresh(makeClient());

      expect(pair).toEqual({ accessToken: ACCESS_TOKEN, tokenType: 'bearer', expiresIn: 60 });
      expect(pair).not.toHaveProperty('refreshToken');
    });

    it('returns a rotated refresh token from a 200 without access_token, so the manager can keep it', async () => {
      server.behave((_req, res) => sendJson(res, 200, { token_type: 'Bearer', refresh_token: NEW_REFRESH_TOKEN }));

      expect(await refresh(makeClient())).toEqual({ tokenType: 'Bearer', refreshToken: NEW_REFRESH_TOKEN });
    });
  });

  describe('client authentication (RFC 6749 section 2.3.1)', () => {
    const ok: ServerBehaviour = (_req, res) => sendJson(res, 200, { access_token: ACCESS_TOKEN, token_type: 'Bearer' });

    /** Undoes form-urlencoding of one Basic credential part. */
    const formDecode = (part: string): string => decodeURIComponent(part.replace(/\+/g, ' '));

    it('client_secret_basic (the default with a secret) form-urlencodes id and secret into the Authorization header', async () => {
      server.behave(ok);
      const clientId = 'svc:client id';
      const clientSecret = `${CLIENT_SECRET} +/:%é`;
      await refresh(makeClient({ clientId, clientSecret }));

      const [request] = server.requests;
      const authorization = request.headers.authorization ?? '';
      expect(authorization).toMatch(/^Basic [A-Za-z0-9+/]+=*$/);
      const decoded = Buffer.from(authorization.slice('Basic '.length), 'base64').toString('utf8');
      // The encoded id cannot contain a raw colon, so the first colon is the separator.
      expect(decoded).toBe('svc%3Aclient+id:sekret-XYZ+%2B%2F%3A%25%C3%A9');
      const separator = decoded.indexOf(':');
      expect(formDecode(decoded.slice(0, separator))).toBe(clientId);
      expect(formDecode(decoded.slice(separator + 1))).toBe(clientSecret);
      expect(request.form).not.toHaveProperty('client_id');
      expect(request.form).not.toHaveProperty('client_secret');
    });

    it('client_secret_post puts client_id and client_secret in the body and sends no Authorization', async () => {
      server.behave(ok);
      await refresh(makeClient({ authMethod: 'client_secret_post' }));

      const [request] = server.requests;
      expect(request.headers.authorization).toBeUndefined();
      expect(request.form).toEqual({
        grant_type: 'refresh_token',
        refresh_token: REFRESH_TOKEN,
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
      });
    });

    it('none (the default without a secret) sends only client_id in the body', async () => {
      server.behave(ok);
      await refresh(makeClient({ clientSecret: undefined }));

      const [request] = server.requests;
      expect(request.headers.authorization).toBeUndefined();
      expect(request.form).toEqual({ grant_type: 'refresh_token', refresh_token: REFRESH_TOKEN, client_id: CLIENT_ID });
    });
  });

  describe('failures', () => {
    it.each(failureScenarios.map((s) => [s.name, s] as const))('%s', async (_name, scenario) => {
      server.behave(scenario.behaviour);
      const client = makeClient(scenario.options);

      const error = await expectTypedError((scenario.act ?? refresh)(client), Error);

      scenario.check(error);
    });

    it('a signal already aborted: RefreshAbortedError without sending anything', async () => {
      server.behave((_req, res) => sendJson(res, 200, { access_token: ACCESS_TOKEN, token_type: 'Bearer' }));
      const controller = new AbortController();
      controller.abort();

      await expect(refresh(makeClient(), controller.signal)).rejects.toBeInstanceOf(RefreshAbortedError);
      expect(server.requests).toHaveLength(0);
    });

    it('connection refused: TokenEndpointNetworkError ECONNREFUSED', async () => {
      const client = makeClient({ tokenEndpoint: `${await closedPortOrigin()}/token` });

      await expectTypedError(refresh(client), TokenEndpointNetworkError, { reason: 'ECONNREFUSED', permanent: false });
    });
  });

  describe('secrecy', () => {
    const forbidden = [CLIENT_SECRET, REFRESH_TOKEN, ACCESS_TOKEN, BASIC_HEADER.slice('Basic '.length)];

    function renderings(value: unknown): string[] {
      return [
        JSON.stringify(value) ?? '',
        inspect(value, { depth: Infinity, showHidden: true }),
        inspect(value, { depth: Infinity, showHidden: true, customInspect: false }),
        String(value),
        (value as { stack?: unknown }).stack === undefined ? '' : String((value as { stack?: unknown }).stack),
      ];
    }

    it('no error the client produces, nor the client itself, reveals the secret or the tokens', async () => {
      const exposed: unknown[] = [];
      for (const authMethod of ['client_secret_basic', 'client_secret_post'] as const) {
        const client = makeClient({ authMethod });
        exposed.push(client);
        for (const scenario of failureScenarios) {
          server.reset();
          server.behave(scenario.behaviour);
          const scenarioClient = makeClient({ authMethod, ...scenario.options });
          const error = await expectTypedError((scenario.act ?? refresh)(scenarioClient), Error);
          scenario.check(error); // the scenario really produced its error, not some other failure
          expect(error.cause).toBeUndefined();
          exposed.push(error);
        }
        exposed.push(await expectTypedError(refresh(makeClient({ authMethod, tokenEndpoint: `${await closedPortOrigin()}/token` })), Error));
      }

      expect(exposed.length).toBe(2 * (failureScenarios.length + 2));
      for (const value of exposed) {
        for (const text of renderings(value)) {
          for (const secret of forbidden) expect(text).not.toContain(secret);
        }
      }
    });

    it('shows the client as its endpoint, id and auth method only', () => {
      const client = makeClient();
      const description = { tokenEndpoint: server.tokenEndpoint, clientId: CLIENT_ID, authMethod: 'client_secret_basic' };

      expect(JSON.parse(JSON.stringify(client))).toEqual(description);
      expect(inspect(client)).toBe(
        `HttpOAuthClient { tokenEndpoint: "${server.tokenEndpoint}", clientId: "${CLIENT_ID}", authMethod: "client_secret_basic" }`,
      );
      expect({ ...client }).toEqual(description);
    });
  });
});
