import { type Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { getKeyedTokenRefreshToken, type KeyedTokenRefreshService, TokenRefreshModule } from '../../src';
import { type OAuthClient, type RefreshRequestOptions, type TokenResponse } from '../../src/common/interfaces/oauth-client.interface';
import { createRedisConnection, RedisKeyedTokenStore, RedisRefreshLock } from '../../src/redis';
import { GrantServer } from '../support/grant-server';
import { createKeyedTestManager } from '../support/manager';
import { nestApps } from '../support/nest-apps';
import { useRedis } from '../support/redis-hooks';
import { REDIS_URL } from '../support/redis-test-server';
import { ScriptedServer, sendJson } from '../support/scripted-server';
import { waitFor } from '../support/wait-for';

/*
 * Keyed registrations on the real Redis store and lock: replicas that share users' tokens
 * through Redis, in one process (test/durable's replica harness runs them as processes).
 */
const { raw, prefix, cleanup } = useRedis('keyed-engine');

function connection(): Redis {
  const redis = createRedisConnection(REDIS_URL);
  redis.on('error', () => undefined);
  cleanup(() => redis.disconnect());
  return redis;
}

/** One replica's view of the shared token endpoint: counts the requests it sent, per key. */
class ReplicaClient implements OAuthClient {
  readonly sent = new Map<string, number>();
  constructor(private readonly server: GrantServer) {}
  refresh(refreshToken: string, options: RefreshRequestOptions): Promise<TokenResponse> {
    this.sent.set(options.key!, (this.sent.get(options.key!) ?? 0) + 1);
    return this.server.refresh(refreshToken, options);
  }
  get total(): number {
    return [...this.sent.values()].reduce((sum, n) => sum + n, 0);
  }
}

function replica(server: GrantServer, keyPrefix: string) {
  const redis = connection();
  const store = new RedisKeyedTokenStore(redis, { keyPrefix, dueClaim: 5_000 });
  const lock = new RedisRefreshLock(redis, { keyPrefix, lease: 5_000 });
  cleanup(() => Promise.all([store.close(), lock.close()]));
  const client = new ReplicaClient(server);
  const { manager } = createKeyedTestManager({
    client,
    store,
    lock,
    // 3 s tokens: each key is due 1.5 s after it was obtained.
    options: { refreshThreshold: 60_000, checkInterval: 500, maxConcurrentRefreshes: 32 },
    random: Math.random,
  });
  cleanup(() => manager.stop());
  return { manager, store, client };
}

describe('keyed registrations sharing Redis', () => {
  it('two replicas, 200 users, several rotations each: one request per rotation, no reuse, every record current', async () => {
    const KEYS = 200;
    const ROTATIONS = 3;
    const keyPrefix = prefix();
    const server = new GrantServer(3);
    const a = replica(server, keyPrefix);
    const b = replica(server, keyPrefix);
    await Promise.all([a.manager.start(), b.manager.start()]);

    // Users connect through either replica.
    const logins = new Map<string, string>();
    for (let i = 0; i < KEYS; i++) {
      const login = server.login();
      logins.set(`user:${i}`, login.refreshToken!);
      await (i % 2 === 0 ? a : b).manager.set(`user:${i}`, login);
    }
    // A replica asked for a user that connected through the other answers from the store (no
    // request of its own: the count below finds every request was a rotation).
    expect(server.isValid(await b.manager.getAccessToken('user:0'))).toBe(true);
    expect(server.isValid(await a.manager.getAccessToken('user:1'))).toBe(true);

    const rotated = (key: string): number => (a.client.sent.get(key) ?? 0) + (b.client.sent.get(key) ?? 0);
    await waitFor(() => [...logins.keys()].every((key) => rotated(key) >= ROTATIONS), 45_000, `${ROTATIONS} rotations of every key`);
    await Promise.all([a.manager.stop(), b.manager.stop()]);
    console.log(`[redis keyed] ${server.rotations} rotations of ${KEYS} keys: replica a sent ${a.client.total}, b ${b.client.total}`);

    expect(server.reuse).toBe(0);
    expect(server.concurrentPresentations).toBe(0);
    // Every request rotated a grant: none was refused (invalid_grant) and none was sent twice.
    expect(server.presented).toHaveLength(server.rotations);
    expect(a.client.total + b.client.total).toBe(server.rotations);
    // Both replicas did part of the work.
    expect(a.client.total).toBeGreaterThan(0);
    expect(b.client.total).toBeGreaterThan(0);
    // Each key's record in Redis holds the refresh token its grant accepts now.
    const reader = new RedisKeyedTokenStore(connection(), { keyPrefix });
    cleanup(() => reader.close());
    for (const [key, first] of logins) expect((await reader.load(key))?.refreshToken, key).toBe(server.currentOf(first));
  }, 60_000);
});

describe('a keyed registration built by the module on Redis', () => {
  const apps = nestApps();
  let endpoint: ScriptedServer | undefined;
  afterEach(async () => {
    await apps.close();
    await endpoint?.close();
  });

  it('forRootAsync({ keyed: true, useFactory }) with RedisKeyedTokenStore and RedisRefreshLock: set, refresh, stored under the prefix', async () => {
    endpoint = await ScriptedServer.start();
    endpoint.behave((_req, res) => sendJson(res, 200, { access_token: 'at-ROTATED', refresh_token: 'rt-ROTATED', token_type: 'Bearer', expires_in: 3600 }));
    const keyPrefix = prefix();
    const redis = connection();
    const tokenEndpoint = endpoint.tokenEndpoint;
    const app = await apps.compile([
      TokenRefreshModule.forRootAsync({
        name: 'users',
        keyed: true,
        useFactory: () => ({
          oauth: { tokenEndpoint, clientId: 'app' },
          tokenStore: new RedisKeyedTokenStore(redis, { keyPrefix }),
          lock: new RedisRefreshLock(redis, { keyPrefix }),
        }),
      }),
    ]);
    const users = app.get<KeyedTokenRefreshService>(getKeyedTokenRefreshToken('users'));
    await users.set('user:42', { accessToken: 'at-FIRST', refreshToken: 'rt-FIRST', expiresAt: Date.now() + 3_600_000 });
    expect(JSON.parse((await raw.get(`${keyPrefix}:key:user%3A42`))!)).toMatchObject({ refreshToken: 'rt-FIRST', version: 1 });
    await users.forceRefresh('user:42');
    expect(endpoint.requests.map((request) => request.form.refresh_token)).toEqual(['rt-FIRST']);
    expect(JSON.parse((await raw.get(`${keyPrefix}:key:user%3A42`))!)).toMatchObject({ refreshToken: 'rt-ROTATED', version: 2 });
    expect(await raw.zscore(`${keyPrefix}:due`, 'user%3A42')).not.toBeNull();
    expect(await users.getAccessToken('user:42')).toBe('at-ROTATED');
    await users.delete('user:42');
    expect(await raw.exists(`${keyPrefix}:key:user%3A42`)).toBe(0);
  });
});
