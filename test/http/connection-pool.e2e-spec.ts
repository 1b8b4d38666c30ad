import { HttpService } from '@nestjs/axios';
import { AxiosError, type AxiosResponse } from 'axios';
import { Agent, type ClientRequest } from 'node:http';
import { inspect } from 'node:util';
import { firstValueFrom } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { getTokenRefreshHttpToken, TokenRefreshHttpModule, TokenRefreshModule, TokenRefreshService } from '../../src';
import { type AccessTokenSource } from '../../src/http/authenticated-adapter';
import { createTokenRefreshHttpService } from '../../src/http/authenticated-http';
import { deferred, FakeOAuthClient } from '../support/fake-oauth-client';
import { nestApps } from '../support/nest-apps';
import { ScriptedServer, sendJson } from '../support/scripted-server';

const SECRET = 'tok-5ecret-pool';

const tokens: AccessTokenSource = {
  getAccessToken: async () => SECRET,
  peekAccessToken: () => SECRET,
  getTokens: () => ({ tokenType: 'Bearer' }),
  forceRefresh: async () => undefined,
};

interface TestServer {
  url: string;
  readonly authorizations: Array<string | undefined>;
  /** TCP connections accepted. */
  readonly connections: number;
  /** Resolves when a request to /held has arrived; the test answers it with `release`. */
  held: Promise<void>;
  release(): void;
  close(): Promise<void>;
}

/** /fail answers 500, /reset drops the connection, /held waits for the test, /away redirects to `awayTo`. */
async function startServer(awayTo?: () => string): Promise<TestServer> {
  const arrived = deferred<void>();
  const released = deferred<void>();
  const server = await ScriptedServer.start((req, res) => {
    if (req.url === '/fail') sendJson(res, 500, {});
    else if (req.url === '/reset') req.socket.destroy();
    else if (req.url === '/away' && awayTo) res.writeHead(302, { Location: `${awayTo()}/landing` }).end();
    else if (req.url === '/held') {
      arrived.resolve();
      void released.promise.then(() => sendJson(res, 200, {}));
    } else sendJson(res, 200, { ok: true });
  });
  return {
    url: server.origin,
    get authorizations() {
      return server.requests.map((r) => r.headers.authorization);
    },
    get connections() {
      return server.connections;
    },
    held: arrived.promise,
    release: () => released.resolve(),
    close: async () => {
      released.resolve();
      await server.close();
    },
  };
}

async function settled(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => value,
    (error: unknown) => error,
  );
}

/** Everything `console.log(x)` could print, hidden properties included; a boolean, so a failure never prints the token. */
const reachesToken = (value: unknown): boolean =>
  [inspect(value, { depth: Infinity }), inspect(value, { depth: Infinity, showHidden: true })].some((text) =>
    text.includes(SECRET),
  );

describe.each([
  ['in flight', 'Node global agent'],
  ['settled', 'Node global agent'],
  ['in flight', 'keep-alive agent the app configured and uses itself'],
  ['settled', 'keep-alive agent the app configured and uses itself'],
] as const)('objects the module does not own never reach the token (an authenticated request %s, %s)', (state, agentKind) => {
  let api: TestServer;
  let other: TestServer;
  let http: HttpService;
  let held: Promise<unknown>;
  let appAgent: Agent | undefined;
  // The app's own axios: @nestjs/axios' HttpService on the default instance.
  const axiosRef = new HttpService().axiosRef;
  const appAxios = { get: (url: string) => axiosRef.get(url, { httpAgent: appAgent }) };

  // Fresh servers and traffic per case: what one case's later request does to the pool must not hide the next case's leak.
  beforeEach(async () => {
    other = await startServer();
    api = await startServer(() => other.url);
    appAgent = agentKind === 'Node global agent' ? undefined : new Agent({ keepAlive: true });
    http = createTokenRefreshHttpService({ baseURL: api.url, httpAgent: appAgent }, () => tokens);
    // Keep-alive traffic on the API: a reset, a 500, three sockets at once (a later request reuses only
    // one of them), a redirect to the other origin.
    await settled(firstValueFrom(http.get('/reset')));
    await settled(firstValueFrom(http.get('/fail')));
    await Promise.all(['/a', '/b', '/c'].map((path) => firstValueFrom(http.get(path))));
    await firstValueFrom(http.get('/away'));
    held = settled(firstValueFrom(http.get('/held')));
    await api.held;
    if (state === 'settled') {
      api.release();
      await held;
    }
    // The token did go out (so there is something to find), and only to the API.
    expect(api.authorizations.length >= 7 && api.authorizations.every((a) => a === `Bearer ${SECRET}`)).toBe(true);
    expect(other.authorizations).toEqual([undefined]);
  });
  afterEach(async () => {
    api.release();
    await held;
    await Promise.all([api.close(), other.close()]);
    appAgent?.destroy();
  });

  it.each([
    ['a response from another origin, same HttpService', () => firstValueFrom(http.get(`${other.url}/ok`)), 200],
    ['a 500 from another origin, same HttpService', () => firstValueFrom(http.get(`${other.url}/fail`)), 500],
    ['a reset from another origin, same HttpService', () => firstValueFrom(http.get(`${other.url}/reset`)), undefined],
    ["a response to the API origin from the app's own axios", () => appAxios.get(`${api.url}/ok`), 200],
    ["a response from another origin, the app's own axios", () => appAxios.get(`${other.url}/ok`), 200],
    ["a 500 from the API origin, the app's own axios", () => appAxios.get(`${api.url}/fail`), 500],
    ["a reset from the API origin, the app's own axios", () => appAxios.get(`${api.url}/reset`), undefined],
  ])('%s', async (_label, later, status) => {
    const result = await settled(later());
    if (result instanceof Error) {
      expect(result).toBeInstanceOf(AxiosError);
      expect((result as AxiosError).response?.status).toBe(status);
    } else {
      expect((result as AxiosResponse).status).toBe(status);
    }
    expect(reachesToken(result)).toBe(false);
  });
});

describe('the connection pools of the authenticated HttpService', () => {
  let api: TestServer;
  let other: TestServer;
  beforeEach(async () => {
    other = await startServer();
    api = await startServer();
  });
  afterEach(async () => {
    await Promise.all([api.close(), other.close()]);
    await apps.close();
  });
  const apps = nestApps();

  it("copy the options of the app's agent, which keeps serving every other origin", async () => {
    const appAgent = new Agent({ keepAlive: true, maxSockets: 1 });
    const http = createTokenRefreshHttpService({ baseURL: api.url, httpAgent: appAgent }, () => tokens);
    await Promise.all(['/a', '/b', '/c'].map((path) => firstValueFrom(http.get(path))));
    // maxSockets: 1 held in the module's own pool: three requests, one connection.
    expect(api.connections).toBe(1);
    await firstValueFrom(http.get(`${other.url}/ok`));
    const poolKeys = [...Object.keys(appAgent.sockets), ...Object.keys(appAgent.freeSockets)];
    expect(poolKeys).toEqual([`${other.url.slice('http://'.length)}:`]);
    appAgent.destroy();
  });

  it('are closed when the app closes', async () => {
    const app = await apps.compile([
      TokenRefreshModule.forRoot({ oauthClient: new FakeOAuthClient() }),
      TokenRefreshHttpModule.register({ baseURL: api.url }),
    ]);
    await app.get(TokenRefreshService).start({ accessToken: SECRET, refreshToken: 'r', expiresIn: 3600 });
    const response = await firstValueFrom(app.get<HttpService>(getTokenRefreshHttpToken()).get('/ok'));
    // The request the caller cannot see (hidden, not gone) still names its keep-alive socket.
    const socket = (response.request as ClientRequest).socket!;
    expect(socket.destroyed).toBe(false);
    await apps.close();
    expect(socket.destroyed).toBe(true);
  });
});
