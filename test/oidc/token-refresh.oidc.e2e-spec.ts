import { type INestApplicationContext } from '@nestjs/common';
import { EventEmitter2, EventEmitterModule } from '@nestjs/event-emitter';
import { ScheduleModule } from '@nestjs/schedule';
import { Test } from '@nestjs/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  type AuthorizationServer,
  type ClientKey,
  startAuthorizationServer,
} from '../../examples/auth-server/authorization-server';
import {
  type TokenRefreshError,
  TokenRefreshEvents,
  type TokenRefreshModuleOptions,
  TokenRefreshModule,
  TokenRefreshService,
} from '../../src';
import { waitFor } from '../support/wait-for';

/*
 * The whole module against a certified server that rotates refresh tokens and revokes the
 * grant on any reuse: a single double-spent refresh token fails these tests.
 */
describe('TokenRefreshModule against oidc-provider (rotation + reuse detection)', () => {
  let server: AuthorizationServer;
  const apps: INestApplicationContext[] = [];

  beforeAll(async () => {
    // 2 s tokens: refreshes every second, with a second of slack for a loaded CI machine.
    server = await startAuthorizationServer({ accessTokenTtl: 2 });
  });
  afterEach(async () => {
    while (apps.length) await apps.pop()!.close();
    server.resetStats();
  });
  afterAll(async () => {
    await server.close();
  });

  async function boot(clientKey: ClientKey, extra: Partial<TokenRefreshModuleOptions> = {}) {
    const client = server.clients[clientKey];
    const moduleRef = await Test.createTestingModule({
      imports: [
        ScheduleModule.forRoot(),
        EventEmitterModule.forRoot(),
        TokenRefreshModule.forRoot({
          oauth: {
            tokenEndpoint: server.tokenEndpoint,
            clientId: client.clientId,
            clientSecret: client.clientSecret,
            authMethod: client.authMethod,
          },
          refreshThreshold: 60_000,
          checkInterval: 200,
          ...extra,
        }),
      ],
    }).compile();
    const app = await moduleRef.init();
    apps.push(app);
    const issued = await server.issueTokens(clientKey);
    const service = app.get(TokenRefreshService);
    return { app, service, issued, emitter: app.get(EventEmitter2) };
  }

  it('keeps a valid token across 20 rotations driven by its own schedule (real timers)', async () => {
    const { service, issued, emitter } = await boot('basic');
    const valid: boolean[] = [];
    emitter.on(TokenRefreshEvents.REFRESHED, () => {
      void service.getAccessToken().then((token) => server.verifyAccessToken(token)).then((ok) => valid.push(ok));
    });
    await service.start({ ...issued });
    await waitFor(() => valid.length >= 20, 60_000, '20 refreshes');
    expect(valid.every(Boolean)).toBe(true);
    expect(server.stats.invalidGrant).toBe(0);
    expect(server.stats.reuseDetected).toBe(0);
    expect(server.stats.refreshSuccesses).toBe(server.stats.refreshRequests);
    expect(await server.verifyAccessToken(await service.getAccessToken())).toBe(true);
  });

  it('never sends the same refresh token twice under concurrent forceRefresh() and getAccessToken()', async () => {
    const { service, issued } = await boot('post', { checkInterval: 60_000 });
    await service.start({ ...issued });
    for (let wave = 1; wave <= 5; wave++) {
      const before = server.stats.refreshRequests;
      const results = await Promise.all([
        ...Array.from({ length: 20 }, () => service.forceRefresh()),
        ...Array.from({ length: 50 }, () => service.getAccessToken()),
      ]);
      // One for the wave (20 forceRefresh calls share it); the schedule may add its own in between.
      expect(server.stats.refreshRequests - before).toBeGreaterThanOrEqual(1);
      expect(server.stats.refreshRequests - before).toBeLessThanOrEqual(2);
      const tokens = results.filter((value): value is string => typeof value === 'string');
      expect(tokens).toHaveLength(50);
    }
    expect(server.stats.invalidGrant).toBe(0);
    expect(server.stats.reuseDetected).toBe(0);
    expect(await server.verifyAccessToken(await service.getAccessToken())).toBe(true);
  });

  it('after the grant is revoked: invalid_grant, reauth-required, one onRefreshFail call, no further requests', async () => {
    const onRefreshFail = vi.fn((_error: TokenRefreshError) => false);
    const { service, issued, emitter } = await boot('basic', { onRefreshFail });
    await service.start({ ...issued });
    await waitFor(() => service.getLastRefreshAt() !== null, 10_000, 'a first scheduled refresh');
    await server.revokeGrant(issued.grantId);
    const expired = new Promise((resolve) => emitter.once(TokenRefreshEvents.EXPIRED, resolve));
    await waitFor(() => service.getRefreshStatus().state === 'reauth-required', 10_000, 'reauth-required');
    const requestsAtFailure = server.stats.refreshRequests;
    // The expired event comes from a check that ran after the failure: a retrying manager would have sent by now.
    await expired;
    expect(server.stats.refreshRequests).toBe(requestsAtFailure);
    expect(onRefreshFail).toHaveBeenCalledTimes(1);
    expect(onRefreshFail.mock.calls[0][0]).toMatchObject({ code: 'oauth_error', error: 'invalid_grant', permanent: true });
    expect(service.getRefreshStatus()).toMatchObject({ state: 'reauth-required', lastError: { code: 'oauth_error', oauthError: 'invalid_grant' } });
  });

  it.each(['basic', 'post', 'none'] as const)('refreshes with client auth method %s', async (clientKey) => {
    const { service, issued } = await boot(clientKey, { checkInterval: 60_000 });
    await service.start({ ...issued });
    await service.forceRefresh();
    const token = await service.getAccessToken();
    expect(token).not.toBe(issued.accessToken);
    expect(await server.verifyAccessToken(token)).toBe(true);
    expect(service.getTokens()?.refreshToken).not.toBe(issued.refreshToken);
    expect(server.stats).toMatchObject({ refreshRequests: 1, refreshSuccesses: 1, invalidGrant: 0 });
  });
});
