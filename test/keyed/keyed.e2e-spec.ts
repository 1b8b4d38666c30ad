import { EventEmitter2, EventEmitterModule } from '@nestjs/event-emitter';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type AuthorizationServer, startAuthorizationServer } from '../../examples/auth-server/authorization-server';
import { getKeyedTokenRefreshToken, KeyedTokenRefreshService, TokenRefreshEvents, TokenRefreshModule } from '../../src';
import { GrantServer } from '../support/grant-server';
import { IndexedKeyedStore } from '../support/indexed-keyed-store';
import { nestApps } from '../support/nest-apps';
import { waitFor } from '../support/wait-for';

/*
 * Keyed registrations in a Nest app on real timers: thousands of users, each a grant of its
 * own at a token endpoint that revokes a grant when a refresh token is presented twice.
 */
describe('keyed registration with thousands of keys', () => {
  const apps = nestApps();
  afterEach(() => apps.close());

  const KEYS = 3_000;
  const CAP = 16;

  async function boot(server: GrantServer, store: IndexedKeyedStore, extra: Record<string, unknown> = {}) {
    const app = await apps.compile([
      EventEmitterModule.forRoot(),
      TokenRefreshModule.forRoot({
        keyed: true,
        oauthClient: server,
        tokenStore: store,
        maxConcurrentRefreshes: CAP,
        refreshThreshold: 60_000,
        checkInterval: 500,
        ...extra,
      }),
    ]);
    return { app, service: app.get(KeyedTokenRefreshService), emitter: app.get(EventEmitter2) };
  }

  it('refreshes every key on its own schedule: no reuse, one request per rotation, the cap held, a dead key isolated', async () => {
    // 3 s tokens: each key refreshes every 1.5 s.
    const server = new GrantServer(3);
    const store = new IndexedKeyedStore();
    const { service } = await boot(server, store);
    const logins = new Map<string, string>();
    for (let i = 0; i < KEYS; i++) {
      const login = server.login();
      logins.set(`user-${i}`, login.refreshToken!);
      await service.set(`user-${i}`, login);
    }
    server.revokeGrant(logins.get('user-13')!);
    await waitFor(() => server.rotations >= 2 * (KEYS - 1), 30_000, 'two rotations of every live key');

    expect(server.reuse).toBe(0);
    expect(server.concurrentPresentations).toBe(0);
    expect(server.maxInFlight).toBeLessThanOrEqual(CAP);
    // The dead key: one request, parked; the others current and valid.
    expect(server.presented.filter((rt) => rt === logins.get('user-13'))).toHaveLength(1);
    expect(service.keys('reauth-required')).toEqual(['user-13']);
    await expect(service.getAccessToken('user-13')).rejects.toMatchObject({ code: 'reauth_required', key: 'user-13' });
    for (let i = 0; i < KEYS; i += 97) {
      if (i === 13) continue;
      const token = await service.getAccessToken(`user-${i}`);
      expect(server.isValid(token)).toBe(true);
      expect(store.records.get(`user-${i}`)?.refreshToken).toBe(server.currentOf(logins.get(`user-${i}`)!));
    }
  });

  it('delete(key) stops a key for good, in memory and in the store', async () => {
    const server = new GrantServer(3);
    const store = new IndexedKeyedStore();
    const { service } = await boot(server, store);
    const gone = server.login();
    await service.set('gone', gone);
    await service.set('kept', server.login());
    await service.delete('gone');
    const before = server.rotations;
    await waitFor(() => server.rotations >= before + 2, 10_000, 'the kept key to rotate twice');
    expect(server.presented).not.toContain(gone.refreshToken);
    expect(store.records.has('gone')).toBe(false);
  });

  it('a graceful close with hundreds of refreshes in flight saves every rotation; a new app continues from the store', async () => {
    const server = new GrantServer(3);
    const store = new IndexedKeyedStore();
    const first = await boot(server, store, { maxConcurrentRefreshes: 1000, shutdownTimeout: 5_000 });
    for (let i = 0; i < 500; i++) await first.service.set(`user-${i}`, server.login());
    server.answer = { kind: 'slow', ms: 300 };
    await waitFor(() => server.inFlight >= 400, 10_000, 'hundreds of refreshes in flight');
    await apps.close();
    expect(first.service.isRunning()).toBe(false);
    for (let i = 0; i < 500; i++) {
      const held = store.records.get(`user-${i}`)!.refreshToken!;
      expect(held).toBe(server.currentOf(held));
    }

    server.answer = { kind: 'ok' };
    const rotationsAtRestart = server.rotations;
    const second = await boot(server, store);
    const refreshed = new Set<string>();
    second.emitter.on(TokenRefreshEvents.REFRESHED, (event: { key: string }) => refreshed.add(event.key));
    await waitFor(() => refreshed.size === 500, 20_000, 'every key refreshed by the new app');
    expect(server.rotations).toBeGreaterThanOrEqual(rotationsAtRestart + 500);
    expect(server.reuse).toBe(0);
  });
});

describe('keyed registration against oidc-provider (50 users, rotation + reuse detection)', () => {
  let server: AuthorizationServer;
  const apps = nestApps();

  beforeAll(async () => {
    server = await startAuthorizationServer({ accessTokenTtl: 2 });
  });
  afterEach(() => apps.close());
  afterAll(async () => {
    await server.close();
  });

  it('keeps 50 real grants valid across rotations, with no invalid_grant and no reuse', async () => {
    const client = server.clients.basic;
    const app = await apps.compile([
      EventEmitterModule.forRoot(),
      TokenRefreshModule.forRoot({
        name: 'users',
        keyed: true,
        oauth: { tokenEndpoint: server.tokenEndpoint, clientId: client.clientId, clientSecret: client.clientSecret },
        refreshThreshold: 60_000,
        checkInterval: 200,
        maxConcurrentRefreshes: 8,
      }),
    ]);
    const users = app.get<KeyedTokenRefreshService>(getKeyedTokenRefreshToken('users'));
    const rotations = new Map<string, number>();
    app.get(EventEmitter2).on(TokenRefreshEvents.REFRESHED, (event: { key: string }) => rotations.set(event.key, (rotations.get(event.key) ?? 0) + 1));
    for (let i = 0; i < 50; i++) await users.set(`user-${i}`, await server.issueTokens('basic'));
    await waitFor(() => rotations.size === 50 && [...rotations.values()].every((n) => n >= 3), 60_000, 'three rotations of every grant');
    expect(server.stats.invalidGrant).toBe(0);
    expect(server.stats.reuseDetected).toBe(0);
    for (let i = 0; i < 50; i += 7) expect(await server.verifyAccessToken(await users.getAccessToken(`user-${i}`))).toBe(true);
  });
});
