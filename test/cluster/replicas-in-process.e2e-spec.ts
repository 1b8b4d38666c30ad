import { describe, expect, it, vi } from 'vitest';
import { type TokenPair } from '../../src/common/interfaces/token-pair.interface';
import { type StoredTokens, type TokenStore } from '../../src/common/interfaces/token-store.interface';
import { createRedisConnection, RedisRefreshLock, RedisTokenStore } from '../../src/redis';
import { OAuthProtocolError, RefreshLockError } from '../../src/common/token-refresh.errors';
import { FakeOAuthClient } from '../support/fake-oauth-client';
import { createTestManager } from '../support/manager';
import { useRedis } from '../support/redis-hooks';
import { REDIS_URL } from '../support/redis-test-server';
import { waitFor } from '../support/wait-for';
import { expectTypedError } from '../support/expect-error';

/*
 * Replicas as several managers in one process, each with its own Redis connection, store and
 * lock, sharing one rotating token endpoint that rejects any reuse. Fast and exact about who
 * called the endpoint; the process-level suite (cluster.e2e-spec.ts) covers real crashes.
 */

const { raw, prefix, cleanup } = useRedis('replicas');

/** An endpoint that rotates and, like oidc-provider, refuses a refresh token presented twice. */
function rotatingEndpoint(): FakeOAuthClient {
  const spent = new Set<string>();
  return new FakeOAuthClient((refreshToken, call) => {
    if (spent.has(refreshToken)) throw new OAuthProtocolError({ error: 'invalid_grant', status: 400, errorDescription: 'refresh token already used' });
    spent.add(refreshToken);
    return { accessToken: `at-${call}`, refreshToken: `rt-${call}`, expiresIn: 3_600 + call };
  });
}

/** Saves fail while `failing` is set, like Redis refusing writes (OOM, READONLY) while DEL and PEXPIRE still work. */
class WriteRefusingStore implements TokenStore {
  failing = false;
  constructor(private readonly inner: RedisTokenStore) {}
  load(): Promise<TokenPair | null> {
    return this.inner.load();
  }
  async save(tokens: StoredTokens): Promise<void> {
    if (this.failing) throw new Error('OOM command not allowed when used memory > maxmemory');
    await this.inner.save(tokens);
  }
  watch(listener: (tokens: TokenPair) => void): () => Promise<void> {
    return this.inner.watch(listener);
  }
}

async function replicas(count: number, client: FakeOAuthClient) {
  const keyPrefix = prefix();
  const seed = new RedisTokenStore(raw, { keyPrefix });
  // A login a moment ago, so tokens a test hands in later count as obtained after it.
  const loggedInAt = Date.now() - 1_000;
  await seed.save({
    accessToken: 'at-0',
    refreshToken: 'rt-0',
    tokenType: 'Bearer',
    expiresAt: new Date(loggedInAt + 3_600_000),
    issuedAt: new Date(loggedInAt),
    version: 1,
  });
  await seed.close();
  return Array.from({ length: count }, () => {
    const redis = createRedisConnection(REDIS_URL);
    const redisStore = new RedisTokenStore(redis, { keyPrefix });
    const store = new WriteRefusingStore(redisStore);
    const lock = new RedisRefreshLock(redis, { keyPrefix, lease: 5_000 });
    const { manager, events } = createTestManager({
      client,
      store,
      lock,
      options: { lockWaitTimeout: 300, retry: { initialDelay: 1_000, maxDelay: 1_000 } },
      random: () => 0.999,
    });
    cleanup(async () => {
      await manager.stop();
      await redisStore.close();
      await lock.close();
      redis.disconnect();
    });
    return { manager, store, events, keyPrefix };
  });
}

describe('replicas sharing Redis (in one process)', () => {
  it('four replicas forced to refresh at the same moment call the endpoint once; the rest adopt', async () => {
    const client = rotatingEndpoint();
    const group = await replicas(4, client);
    await Promise.all(group.map(({ manager }) => manager.start()));
    await Promise.all(group.map(({ manager }) => manager.forceRefresh()));
    expect(client.presented).toEqual(['rt-0']);
    for (const { manager } of group) expect(manager.getTokens()?.accessToken).toBe('at-1');
    const sources = group.flatMap(({ events }) => events.named('token-refresh.refreshed').map((e) => (e as { source: string }).source));
    expect(sources.sort()).toEqual(['refresh', 'store', 'store', 'store']);
  });

  it('updateTokens() with a new login that expires sooner is not undone by the older pair that expires later', async () => {
    const client = rotatingEndpoint();
    const [a, b] = await replicas(2, client);
    await a.manager.start({ accessToken: 'at-P', refreshToken: 'revoked-rt', expiresIn: 3_600 });
    await b.manager.start();
    expect(b.manager.getTokens()?.accessToken).toBe('at-P');
    // Tokens are ordered by the millisecond they were obtained: let the clock move on.
    const startedAt = Date.now();
    await waitFor(() => Date.now() > startedAt, 1_000, 'the clock to tick');

    await a.manager.updateTokens({ accessToken: 'at-X', refreshToken: 'new-login-rt', expiresIn: 900 });
    expect(JSON.parse((await raw.get(`${a.keyPrefix}:tokens`))!).refreshToken).toBe('new-login-rt');
    await waitFor(() => b.manager.getTokens()?.accessToken === 'at-X', 5_000, 'b to adopt the new login');

    // Under the lock the manager re-reads the store: it must find the new login, not 'revoked-rt'.
    await a.manager.forceRefresh();
    expect(client.presented).toEqual(['new-login-rt']);
    expect(a.manager.getTokens()?.accessToken).toBe('at-1');
    await waitFor(() => b.manager.getTokens()?.accessToken === 'at-1', 5_000, 'b to adopt the rotation');
    expect(client.presented).not.toContain('revoked-rt');
  });

  it('a holder whose save failed keeps the lock until the save succeeds, so nobody spends the old refresh token', async () => {
    const client = rotatingEndpoint();
    const [a, b] = await replicas(2, client);
    await a.manager.start();
    await b.manager.start();

    a.store.failing = true;
    await a.manager.forceRefresh(); // rotates rt-0 away; the new pair is only in a's memory
    expect(client.presented).toEqual(['rt-0']);
    expect(await raw.exists(`${a.keyPrefix}:lock`)).toBe(1);

    // b, due now, must not re-read the stale store under the lock and present rt-0 again.
    await expectTypedError(b.manager.forceRefresh(), RefreshLockError);
    expect(client.presented).toEqual(['rt-0']);

    a.store.failing = false; // a's save retry (about 1 s later) succeeds, releases, announces
    await waitFor(() => b.manager.getTokens()?.accessToken === 'at-1', 5_000, 'b to adopt what a saved');
    expect(await raw.exists(`${a.keyPrefix}:lock`)).toBe(0);
    expect(client.presented).toEqual(['rt-0']);
    await b.manager.forceRefresh();
    expect(client.presented).toEqual(['rt-0', 'rt-1']);
  });

  it('a corrupt record, or one of a newer format, does not stop the replicas: one refreshes and overwrites it, the others adopt', async () => {
    for (const value of ['{"accessToken":"at-CORRUPT', JSON.stringify({ v: 2, accessToken: 'x', version: 50 })]) {
      const client = rotatingEndpoint();
      const [a, b] = await replicas(2, client);
      await a.manager.start();
      await b.manager.start();
      await raw.set(`${a.keyPrefix}:tokens`, value);
      await a.manager.forceRefresh();
      expect(client.presented).toEqual(['rt-0']);
      expect(JSON.parse((await raw.get(`${a.keyPrefix}:tokens`))!)).toMatchObject({ v: 1, refreshToken: 'rt-1' });
      await waitFor(() => b.manager.getTokens()?.accessToken === 'at-1', 5_000, 'b to adopt what a saved');
      const failed = a.events.named('token-refresh.store-failed');
      expect(failed).toMatchObject([{ operation: 'load', willRetry: false, error: { code: 'store_unreadable' } }]);
      await a.manager.stop();
      await b.manager.stop();
    }
  });

  it('a rotation made after the wall clock stepped back two hours is saved; no replica presents the spent token', async () => {
    const client = rotatingEndpoint();
    const [a, b] = await replicas(2, client);
    await a.manager.start();
    await b.manager.start();
    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
    try {
      vi.setSystemTime(Date.now() - 2 * 3_600_000); // NTP correction on a's host
      await a.manager.forceRefresh();
      expect(JSON.parse((await raw.get(`${a.keyPrefix}:tokens`))!).refreshToken).toBe('rt-1');
      await waitFor(() => b.manager.getTokens()?.accessToken === 'at-1', 5_000, 'b to adopt the rotation');
      await b.manager.forceRefresh();
      expect(client.presented).toEqual(['rt-0', 'rt-1']);
    } finally {
      vi.useRealTimers();
    }
  });
});
