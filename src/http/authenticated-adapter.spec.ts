import { type HttpService } from '@nestjs/axios';
import { AxiosError, type AxiosAdapter, type AxiosResponse, type InternalAxiosRequestConfig } from 'axios';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { Readable } from 'node:stream';
import { inspect } from 'node:util';
import { firstValueFrom } from 'rxjs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { deferred } from '../../test/support/fake-oauth-client';
import { ScriptedServer, sendJson } from '../../test/support/scripted-server';
import { ReauthRequiredError, TokenRefreshConfigError } from '../common/token-refresh.errors';
import { type AccessTokenSource, keepTokenOnOrigin } from './authenticated-adapter';
import { resolveRequestUrl } from './request-origin';
import { createTokenRefreshHttpService } from './authenticated-http';
import { type TokenRefreshHttpConfig } from './token-refresh-http.options';
import { expectTypedError } from '../../test/support/expect-error';

const BASE = 'https://api.example.com/v1';

/** A registration in memory: `<prefix>N` after N refreshes; a refresh can be held open or made to fail. */
class FakeTokens implements AccessTokenSource {
  constructor(readonly prefix = 'at-') {
    this.token = `${prefix}0`;
  }
  token: string | undefined;
  tokenType = 'Bearer';
  refreshes = 0;
  gate: Promise<void> = Promise.resolve();
  failWith: Error | undefined;

  async getAccessToken(): Promise<string> {
    if (this.token === undefined) throw new ReauthRequiredError('default');
    return this.token;
  }
  peekAccessToken(): string | undefined {
    return this.token;
  }
  getTokens(): { tokenType: string } {
    return { tokenType: this.tokenType };
  }
  async forceRefresh(): Promise<void> {
    this.refreshes++;
    await this.gate;
    if (this.failWith) throw this.failWith;
    this.token = `${this.prefix}${this.refreshes}`;
  }
}

interface Seen {
  url: string | undefined;
  authorization: string | undefined;
}

type Handler = (seen: Seen, config: InternalAxiosRequestConfig) => number | Promise<number>;

/** Stands in for axios' http adapter: records what would go on the wire, settles like axios does. */
function fakeNetwork(handler: Handler): { adapter: AxiosAdapter; seen: Seen[] } {
  const seen: Seen[] = [];
  const adapter: AxiosAdapter = async (config) => {
    const request: Seen = {
      url: resolveRequestUrl(config.baseURL, config.url, config.allowAbsoluteUrls),
      authorization: config.headers.get('Authorization') as string | undefined,
    };
    seen.push(request);
    const status = await handler(request, config);
    const response: AxiosResponse = { status, statusText: '', data: { status }, headers: {}, config, request: {} };
    if (config.validateStatus && !config.validateStatus(status)) {
      throw new AxiosError(`Request failed with status code ${status}`, 'ERR_BAD_REQUEST', config, {}, response);
    }
    return response;
  };
  return { adapter, seen };
}

function client(tokens: FakeTokens, handler: Handler, config: Partial<TokenRefreshHttpConfig> = {}) {
  const network = fakeNetwork(handler);
  const http: HttpService = createTokenRefreshHttpService({ baseURL: BASE, adapter: network.adapter, ...config }, () => tokens);
  return { http, seen: network.seen };
}

/** The server has revoked the first token. */
const rejectsFirstToken: Handler = (seen) => (seen.authorization === 'Bearer at-0' ? 401 : 200);

describe('authenticated HttpService', () => {
  it('sends `<tokenType> <accessToken>` to the configured origin', async () => {
    const tokens = new FakeTokens();
    tokens.tokenType = 'DPoP';
    const { http, seen } = client(tokens, () => 200);
    await firstValueFrom(http.get('/users'));
    await firstValueFrom(http.get('https://api.example.com/other'));
    expect(seen).toEqual([
      { url: `${BASE}/users`, authorization: 'DPoP at-0' },
      { url: 'https://api.example.com/other', authorization: 'DPoP at-0' },
    ]);
  });

  it.each([
    ['an absolute URL elsewhere', 'https://evil.example.net/collect', {}],
    ['another port', 'https://api.example.com:8443/users', {}],
    ['plain http', 'http://api.example.com/users', {}],
    ['a subdomain', 'https://x.api.example.com/users', {}],
    ['a per-request baseURL', '/users', { baseURL: 'https://evil.example.net' }],
  ])('never sends the token to %s', async (_label, url, requestConfig) => {
    const tokens = new FakeTokens();
    const { http, seen } = client(tokens, () => 200);
    await firstValueFrom(http.get(url, requestConfig));
    expect(seen).toHaveLength(1);
    expect(seen[0].authorization).toBeUndefined();
  });

  it('replaces an Authorization the caller set on a same-origin request, leaves one for elsewhere alone', async () => {
    const tokens = new FakeTokens();
    const { http, seen } = client(tokens, () => 200);
    await firstValueFrom(http.get('/users', { headers: { Authorization: 'Bearer stale' } }));
    await firstValueFrom(http.get('https://other.example.org/', { headers: { Authorization: 'Basic theirs' } }));
    expect(seen.map((s) => s.authorization)).toEqual(['Bearer at-0', 'Basic theirs']);
  });

  it('50 parallel 401s cause exactly one refresh, then every request is replayed once with the new token', async () => {
    const tokens = new FakeTokens();
    const gate = deferred<void>();
    tokens.gate = gate.promise;
    const all401 = deferred<void>();
    let rejected = 0;
    const { http, seen } = client(tokens, (request) => {
      if (request.authorization !== 'Bearer at-0') return 200;
      if (++rejected === 50) all401.resolve();
      return 401;
    });
    const calls = Array.from({ length: 50 }, (_, i) => firstValueFrom(http.get(`/items/${i}`)));
    await all401.promise;
    gate.resolve();
    const responses = await Promise.all(calls);
    expect(responses.map((r) => r.status)).toEqual(Array(50).fill(200));
    expect(tokens.refreshes).toBe(1);
    expect(seen).toHaveLength(100);
    expect(seen.slice(50).every((s) => s.authorization === 'Bearer at-1')).toBe(true);
  });

  it('a 401 for a token that was rotated meanwhile is replayed without another refresh', async () => {
    const tokens = new FakeTokens();
    const { http, seen } = client(tokens, (request) => {
      if (request.authorization === 'Bearer at-0') {
        tokens.token = 'rotated-elsewhere';
        return 401;
      }
      return 200;
    });
    const response = await firstValueFrom(http.get('/users'));
    expect(response.status).toBe(200);
    expect(tokens.refreshes).toBe(0);
    expect(seen.map((s) => s.authorization)).toEqual(['Bearer at-0', 'Bearer rotated-elsewhere']);
  });

  it('a second 401 goes back to the caller: one refresh, one replay', async () => {
    const tokens = new FakeTokens();
    const { http, seen } = client(tokens, () => 401);
    const error = await expectTypedError(firstValueFrom(http.get('/users')), AxiosError);
    expect(error.response?.status).toBe(401);
    expect(tokens.refreshes).toBe(1);
    expect(seen.map((s) => s.authorization)).toEqual(['Bearer at-0', 'Bearer at-1']);
  });

  // The bound: against an API that refuses every token, one 401-triggered refresh per token the
  // service holds by its own schedule. The token that refresh produced gets no 401-triggered
  // refresh of its own until the API has accepted it once: its 401s go back as they are.
  it('an API that refuses every token costs one refresh, not one per request', async () => {
    const tokens = new FakeTokens();
    const { http, seen } = client(tokens, () => 401);
    for (let i = 0; i < 20; i++) {
      const error = await expectTypedError(firstValueFrom(http.get(`/items/${i}`)), AxiosError);
      expect(error.response?.status).toBe(401);
    }
    expect(tokens.refreshes).toBe(1);
    expect(seen.map((s) => s.authorization)).toEqual(['Bearer at-0', ...Array(20).fill('Bearer at-1')]);
  });

  it('a token from the schedule gets its own 401 refresh, and again only one', async () => {
    const tokens = new FakeTokens();
    const { http } = client(tokens, () => 401);
    for (let i = 0; i < 5; i++) await expectTypedError(firstValueFrom(http.get('/users')), Error);
    expect(tokens.refreshes).toBe(1);
    tokens.token = 'scheduled';
    for (let i = 0; i < 5; i++) await expectTypedError(firstValueFrom(http.get('/users')), Error);
    expect(tokens.refreshes).toBe(2);
  });

  it('50 parallel 401s refused again after the refresh: one refresh, and none for the requests after', async () => {
    const tokens = new FakeTokens();
    const { http, seen } = client(tokens, () => 401);
    const errors = await Promise.all(Array.from({ length: 50 }, (_, i) => expectTypedError(firstValueFrom(http.get(`/items/${i}`)), AxiosError)));
    expect(errors.map((e) => e.response?.status)).toEqual(Array(50).fill(401));
    expect(seen).toHaveLength(100);
    await expectTypedError(firstValueFrom(http.get('/users')), Error);
    expect(tokens.refreshes).toBe(1);
    expect(seen).toHaveLength(101);
  });

  it('a new request refused with the refreshed token before any replay has answered does not refresh again', async () => {
    const tokens = new FakeTokens();
    const replaysIn = deferred<void>();
    const releaseReplays = deferred<void>();
    let replays = 0;
    const { http } = client(tokens, async (request) => {
      if (request.authorization === 'Bearer at-1' && request.url?.includes('/items/')) {
        if (++replays === 10) replaysIn.resolve();
        await releaseReplays.promise;
      }
      return 401;
    });
    const storm = Array.from({ length: 10 }, (_, i) => expectTypedError(firstValueFrom(http.get(`/items/${i}`)), Error));
    await replaysIn.promise;
    const late = await expectTypedError(firstValueFrom(http.get('/late')), AxiosError);
    expect(late.response?.status).toBe(401);
    expect(tokens.refreshes).toBe(1);
    releaseReplays.resolve();
    await Promise.all(storm);
    expect(tokens.refreshes).toBe(1);
  });

  it('a refresh that helped leaves the next 401 free to refresh again', async () => {
    const tokens = new FakeTokens();
    const revoked = new Set(['Bearer at-0']);
    const { http } = client(tokens, (request) => (revoked.has(request.authorization!) ? 401 : 200));
    expect((await firstValueFrom(http.get('/a'))).status).toBe(200);
    revoked.add('Bearer at-1');
    expect((await firstValueFrom(http.get('/b'))).status).toBe(200);
    expect(tokens.refreshes).toBe(2);
  });

  it('with validateStatus accepting 401 the caller still gets the replayed response', async () => {
    const tokens = new FakeTokens();
    const { http } = client(tokens, rejectsFirstToken, { validateStatus: () => true });
    const response = await firstValueFrom(http.get('/users'));
    expect(response.status).toBe(200);
    expect(tokens.refreshes).toBe(1);
  });

  it('when the refresh fails, every waiting request gets its original 401 and no more refreshes are tried', async () => {
    const tokens = new FakeTokens();
    tokens.failWith = new ReauthRequiredError('default');
    const { http, seen } = client(tokens, () => 401);
    const errors = await Promise.all(Array.from({ length: 5 }, () => expectTypedError(firstValueFrom(http.get('/users')), AxiosError)));
    expect(errors.map((e) => e.response?.status)).toEqual(Array(5).fill(401));
    expect(tokens.refreshes).toBe(1);
    expect(seen).toHaveLength(5);
  });

  it('does not replay a streamed body (it is gone): the 401 goes back', async () => {
    const tokens = new FakeTokens();
    const { http, seen } = client(tokens, () => 401);
    const error = await expectTypedError(firstValueFrom(http.post('/upload', Readable.from(['chunk']))), AxiosError);
    expect(error.response?.status).toBe(401);
    expect(tokens.refreshes).toBe(0);
    expect(seen).toHaveLength(1);
  });

  it('replays a JSON body as it was sent', async () => {
    const tokens = new FakeTokens();
    const bodies: unknown[] = [];
    const { http } = client(tokens, (seen, config) => {
      bodies.push(config.data);
      return seen.authorization === 'Bearer at-0' ? 401 : 201;
    });
    const response = await firstValueFrom(http.post('/items', { name: 'x' }));
    expect(response.status).toBe(201);
    expect(bodies).toEqual(['{"name":"x"}', '{"name":"x"}']);
  });

  it('other failures are not retried', async () => {
    const tokens = new FakeTokens();
    const { http, seen } = client(tokens, () => 403);
    expect((await expectTypedError(firstValueFrom(http.get('/users')), AxiosError)).response?.status).toBe(403);
    expect(tokens.refreshes).toBe(0);
    expect(seen).toHaveLength(1);
  });

  it('without a valid token the request fails with the typed error and is never sent', async () => {
    const tokens = new FakeTokens();
    tokens.token = undefined;
    const { http, seen } = client(tokens, () => 200);
    await expectTypedError(firstValueFrom(http.get('/users')), ReauthRequiredError);
    expect(seen).toHaveLength(0);
  });

  it("sends requests to the origin on pools of its own and gives their config the caller's agents back", async () => {
    const tokens = new FakeTokens();
    const appAgent = new HttpsAgent({ keepAlive: true });
    const agentsSeen: unknown[] = [];
    const recordAgent: Handler = (_seen, config) => {
      agentsSeen.push(config.httpsAgent);
      return 200;
    };
    const { http } = client(tokens, recordAgent, { httpsAgent: appAgent });
    const ours = await firstValueFrom(http.get('/users'));
    const elsewhere = await firstValueFrom(http.get('https://other.example.org/'));
    expect(agentsSeen[0]).toBeInstanceOf(HttpsAgent);
    expect(agentsSeen[0]).not.toBe(appAgent);
    expect(agentsSeen[1]).toBe(appAgent);
    expect(ours.config.httpsAgent).toBe(appAgent);
    expect(elsewhere.config.httpsAgent).toBe(appAgent);
  });

  it('without agents configured, the config handed back has none', async () => {
    const tokens = new FakeTokens();
    const { http } = client(tokens, rejectsFirstToken);
    const response = await firstValueFrom(http.get('/users'));
    expect(tokens.refreshes).toBe(1);
    expect(Object.keys(response.config).filter((key) => key.endsWith('Agent'))).toEqual([]);
  });

  it.each(['httpAgent', 'httpsAgent'] as const)(
    'refuses a per-request %s on a request to the origin (its pool may be shared), never sending it',
    async (option) => {
      const tokens = new FakeTokens();
      const { http, seen } = client(tokens, () => 200);
      const agent = option === 'httpAgent' ? new HttpAgent() : new HttpsAgent();
      await expectTypedError(firstValueFrom(http.get('/users', { [option]: agent })), TokenRefreshConfigError, { option });
      expect(seen).toHaveLength(0);
      // Elsewhere the request carries no token: its agent is its own business.
      await firstValueFrom(http.get('https://other.example.org/', { [option]: agent }));
      expect(seen).toEqual([{ url: 'https://other.example.org/', authorization: undefined }]);
    },
  );

  it('the serialised AxiosError shows the header as redacted', async () => {
    const tokens = new FakeTokens();
    const { http } = client(tokens, () => 500, { redact: ['x-api-key'] });
    const error = await expectTypedError(firstValueFrom(http.get('/users', { headers: { 'X-Api-Key': 'k' } })), AxiosError);
    const json = JSON.stringify(error.toJSON());
    expect(json).not.toContain('at-0');
    expect(json).not.toContain('"k"');
  });
});

describe('keepTokenOnOrigin (redirects)', () => {
  const origin = 'https://api.example.com';
  const details = { headers: {}, statusCode: 302 } as never;
  const request = { url: `${origin}/a`, method: 'GET', headers: {} } as never;

  it('drops Authorization when a redirect leaves the origin, then runs the caller hook', () => {
    const calls: string[] = [];
    const guard = keepTokenOnOrigin(origin, (options) => calls.push(String(options.href)));
    const options = { href: 'https://x.api.example.com/b', headers: { authorization: 'Bearer at-0', accept: '*/*' } };
    guard(options, details, request);
    expect(options.headers).toEqual({ accept: '*/*' });
    expect(calls).toEqual(['https://x.api.example.com/b']);
  });

  it('keeps it on the same origin', () => {
    const options = { href: `${origin}/b`, headers: { Authorization: 'Bearer at-0' } };
    keepTokenOnOrigin(origin, undefined)(options, details, request);
    expect(options.headers).toEqual({ Authorization: 'Bearer at-0' });
  });
});

describe.each(['http', 'fetch'] as const)('what the caller gets back does not carry the token (%s adapter)', (adapter) => {
  const SECRET = 'tok-5ecret-';
  let server: ScriptedServer;

  beforeAll(async () => {
    server = await ScriptedServer.start((req, res) => {
      if (req.url === '/fail') sendJson(res, 500, {});
      else if (req.url === '/denied') sendJson(res, 401, {});
      else if (req.url === '/reset') req.socket.destroy();
      else sendJson(res, 200, { ok: true });
    });
  });
  afterAll(async () => {
    await server.close();
  });
  beforeEach(() => server.forget());

  /** The Authorization header of each request the server received. */
  const authorizations = (): Array<string | undefined> => server.requests.map((r) => r.headers.authorization);

  /** What `console.log(x)` and a JSON logger would print; a boolean, so a failure never prints the token. */
  const leaks = (value: unknown): boolean =>
    [inspect(value, { depth: Infinity }), JSON.stringify(value)].some((text) => text.includes(SECRET));

  // Through axios' own adapters: their raw request (ClientRequest, Request) is what they really hand back.
  function realClient(tokens: FakeTokens): HttpService {
    return createTokenRefreshHttpService({ baseURL: server.origin, adapter }, () => tokens);
  }

  it.each([
    ['a 500', '/fail', 500],
    ['a 401 that stays 401 after the refresh', '/denied', 401],
    ['a network error', '/reset', undefined],
  ])('%s', async (_label, path, status) => {
    const tokens = new FakeTokens(SECRET);
    const error = await expectTypedError(firstValueFrom(realClient(tokens).get(path)), AxiosError);
    expect(error.response?.status).toBe(status);
    // The token did go out (so there was something to leak), and the raw request is still there.
    expect(authorizations().length > 0 && authorizations().every((a) => a?.startsWith(`Bearer ${SECRET}`))).toBe(true);
    expect(error.request).toBeDefined();
    expect(leaks(error)).toBe(false);
    expect(leaks(error.response ?? null)).toBe(false);
    expect(leaks(error.config)).toBe(false);
  });

  it('a successful response', async () => {
    const tokens = new FakeTokens(SECRET);
    const response = await firstValueFrom(realClient(tokens).get('/ok'));
    expect(response.data).toEqual({ ok: true });
    expect(authorizations()).toEqual([`Bearer ${SECRET}0`]);
    expect(response.request).toBeDefined();
    expect(leaks(response)).toBe(false);
  });

  it('a config replayed by the caller (a retry interceptor) is authenticated again', async () => {
    const tokens = new FakeTokens(SECRET);
    const http = realClient(tokens);
    const error = await expectTypedError(firstValueFrom(http.get('/fail')), AxiosError);
    // @nestjs/axios cancels the first call's cancelToken once it has settled.
    await expectTypedError(http.axiosRef.request({ ...error.config!, cancelToken: undefined }), Error);
    expect(authorizations()).toEqual([`Bearer ${SECRET}0`, `Bearer ${SECRET}0`]);
  });
});
