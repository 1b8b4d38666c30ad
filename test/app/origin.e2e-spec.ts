import { type HttpService } from '@nestjs/axios';
import { firstValueFrom } from 'rxjs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { getTokenRefreshHttpToken } from '../../src';
import { type RecordingServer, startRecordingServer } from './recording-server';
import { type Stack, startStack } from './stack';

describe('example app: the token never reaches another origin', () => {
  let elsewhere: RecordingServer;
  let api: RecordingServer;
  let stack: Stack;
  let http: HttpService;

  beforeAll(async () => {
    elsewhere = await startRecordingServer();
    // The configured API origin; it can redirect away from itself or within itself.
    api = await startRecordingServer((path, res) => {
      if (path === '/away') res.writeHead(302, { Location: `${elsewhere.url}/landing` }).end();
      else if (path === '/home') res.writeHead(302, { Location: '/data' }).end();
      else return false;
      return true;
    });
    stack = await startStack({ accessTokenTtl: 300, apiBaseUrl: api.url });
    http = stack.app.get<HttpService>(getTokenRefreshHttpToken());
  });
  afterAll(async () => {
    await stack.close();
    await Promise.all([api.close(), elsewhere.close()]);
  });
  beforeEach(() => {
    api.requests.length = 0;
    elsewhere.requests.length = 0;
  });

  /** Booleans only, so a failing assertion never prints the token. */
  const carriesToken = (authorization: string | undefined): boolean =>
    authorization === `Bearer ${stack.service.peekAccessToken()}`;

  it('the configured origin gets the token', async () => {
    await firstValueFrom(http.get('/data'));
    expect(api.requests.map((r) => r.path)).toEqual(['/data']);
    expect(carriesToken(api.requests[0].authorization)).toBe(true);
  });

  it.each([
    ['an absolute URL on another port', () => `${elsewhere.url}/collect`, {}],
    ['the same port under another host name', () => `http://localhost:${api.port}/data`, {}],
    ['a per-request baseURL', () => '/collect', () => ({ baseURL: elsewhere.url })],
  ])('%s gets no Authorization at all', async (_label, url, config) => {
    await firstValueFrom(http.get(url(), typeof config === 'function' ? config() : config));
    const all = [...api.requests, ...elsewhere.requests];
    expect(all).toHaveLength(1);
    expect(all[0].authorization).toBeUndefined();
  });

  it('a redirect from the API to another origin arrives there without the token', async () => {
    const response = await firstValueFrom(http.get('/away'));
    expect(response.status).toBe(200);
    expect(carriesToken(api.requests[0].authorization)).toBe(true);
    expect(elsewhere.requests).toEqual([{ path: '/landing', authorization: undefined }]);
  });

  it('a redirect within the API origin keeps the token', async () => {
    await firstValueFrom(http.get('/home'));
    expect(api.requests.map((r) => r.path)).toEqual(['/home', '/data']);
    expect(api.requests.every((r) => carriesToken(r.authorization))).toBe(true);
  });
});
