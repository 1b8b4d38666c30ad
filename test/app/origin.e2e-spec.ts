import { type HttpService } from '@nestjs/axios';
import { firstValueFrom } from 'rxjs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { getTokenRefreshHttpToken } from '../../src';
import { ScriptedServer, sendJson } from '../support/scripted-server';
import { type Stack, startStack } from './stack';

describe('example app: the token never reaches another origin', () => {
  let elsewhere: ScriptedServer;
  let api: ScriptedServer;
  let stack: Stack;
  let http: HttpService;

  beforeAll(async () => {
    elsewhere = await ScriptedServer.start((_req, res) => sendJson(res, 200, {}));
    // The configured API origin; it can redirect away from itself or within itself.
    api = await ScriptedServer.start((req, res) => {
      if (req.url === '/away') res.writeHead(302, { Location: `${elsewhere.origin}/landing` }).end();
      else if (req.url === '/home') res.writeHead(302, { Location: '/data' }).end();
      else sendJson(res, 200, {});
    });
    stack = await startStack({ accessTokenTtl: 300, apiBaseUrl: api.origin });
    http = stack.app.get<HttpService>(getTokenRefreshHttpToken());
  });
  afterAll(async () => {
    await stack.close();
    await Promise.all([api.close(), elsewhere.close()]);
  });
  beforeEach(() => {
    api.forget();
    elsewhere.forget();
  });

  /** Path and Authorization header of each request a server received. */
  const seen = (server: ScriptedServer) => server.requests.map((r) => ({ path: r.url, authorization: r.headers.authorization }));

  /** Booleans only, so a failing assertion never prints the token. */
  const carriesToken = (authorization: string | undefined): boolean =>
    authorization === `Bearer ${stack.service.peekAccessToken()}`;

  it('the configured origin gets the token', async () => {
    await firstValueFrom(http.get('/data'));
    expect(seen(api).map((r) => r.path)).toEqual(['/data']);
    expect(carriesToken(seen(api)[0].authorization)).toBe(true);
  });

  it.each([
    ['an absolute URL on another port', () => `${elsewhere.origin}/collect`, {}],
    ['the same port under another host name', () => `http://localhost:${api.port}/data`, {}],
    ['a per-request baseURL', () => '/collect', () => ({ baseURL: elsewhere.origin })],
  ])('%s gets no Authorization at all', async (_label, url, config) => {
    await firstValueFrom(http.get(url(), typeof config === 'function' ? config() : config));
    const all = [...seen(api), ...seen(elsewhere)];
    expect(all).toHaveLength(1);
    expect(all[0].authorization).toBeUndefined();
  });

  it('a redirect from the API to another origin arrives there without the token', async () => {
    const response = await firstValueFrom(http.get('/away'));
    expect(response.status).toBe(200);
    expect(carriesToken(seen(api)[0].authorization)).toBe(true);
    expect(seen(elsewhere)).toEqual([{ path: '/landing', authorization: undefined }]);
  });

  it('a redirect within the API origin keeps the token', async () => {
    await firstValueFrom(http.get('/home'));
    expect(seen(api).map((r) => r.path)).toEqual(['/home', '/data']);
    expect(seen(api).every((r) => carriesToken(r.authorization))).toBe(true);
  });
});
