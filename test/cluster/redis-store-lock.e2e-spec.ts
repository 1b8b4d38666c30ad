import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { inspect } from 'node:util';
import { ScheduleModule } from '@nestjs/schedule';
import { Test } from '@nestjs/testing';
import { type Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { type TokenPair } from '../../src/common/interfaces/token-pair.interface';
import { type StoredTokens } from '../../src/common/interfaces/token-store.interface';
import { createRedisConnection, RedisRefreshLock, type RedisRefreshLockOptions, RedisTokenStore } from '../../src/redis';
import { redisKeys } from '../../src/redis/redis-keys';
import { serializeTokens } from '../../src/redis/redis-token.serialization';
import { compareTokenOrder } from '../../src/core/tokens';
import {
  RefreshAbortedError,
  RefreshLockError,
  TokenRefreshConfigError,
  TokenStoreConflictError,
  TokenStoreError,
  TokenStoreUnreadableError,
} from '../../src/common/token-refresh.errors';
import { TokenRefreshModule } from '../../src/token-refresh.module';
import { FakeOAuthClient } from '../support/fake-oauth-client';
import { useRedis, useRedisProcess } from '../support/redis-hooks';
import { REDIS_URL, testConnection } from '../support/redis-test-server';
import { waitFor } from '../support/wait-for';
import { expectTypedError } from '../support/expect-error';

/** A port nothing listens on (connection refused at once). */
const DEAD_URL = 'redis://127.0.0.1:1';

/**
 * For the "fails fast" tests: the command timeout (and lock wait) given there. A refused
 * connection must fail well before either runs out, so "fast" is asserted as "sooner than
 * this", never as a tight wall-clock figure that a loaded machine could miss.
 */
const SLOW_PATH_MS = 20_000;

const { raw, prefix, cleanup } = useRedis('unit');

/** A fail-fast connection with a unique name, so a test can find and cut it with CLIENT KILL. */
function connection(url = REDIS_URL): { redis: Redis; name: string } {
  const name = `ntr-test-${randomUUID()}`;
  const redis = createRedisConnection(url, { connectionName: name });
  redis.on('error', () => undefined);
  cleanup(() => redis.disconnect());
  return { redis, name };
}

function store(redis: Redis, keyPrefix: string): RedisTokenStore {
  const value = new RedisTokenStore(redis, { keyPrefix });
  cleanup(() => value.close());
  return value;
}

function lock(redis: Redis, keyPrefix: string, options: Partial<RedisRefreshLockOptions> = {}): RedisRefreshLock {
  const value = new RedisRefreshLock(redis, { keyPrefix, ...options });
  cleanup(() => value.close());
  return value;
}

/** Pair `version` of a credential, obtained at `issuedAt` (default now), expiring `expiresInMs` from now (whole seconds). */
function tokens(label: string, expiresInMs: number, issuedAt = Date.now(), version = 1): StoredTokens {
  return {
    accessToken: `at-${label}-SECRET`,
    refreshToken: `rt-${label}-SECRET`,
    tokenType: 'Bearer',
    expiresAt: new Date(Math.floor(Date.now() / 1000) * 1000 + expiresInMs),
    issuedAt: new Date(issuedAt),
    version,
  };
}

/** Saves, and says whether the store kept it or refused it as older than what it holds. */
async function saveOutcome(subject: RedisTokenStore, pair: StoredTokens): Promise<'written' | 'refused'> {
  try {
    await subject.save(pair);
    return 'written';
  } catch (error) {
    if (error instanceof TokenStoreConflictError) return 'refused';
    throw error;
  }
}

/** What a notice on the channel says, parsed. */
type Notice = { version: number; issuedAt: number; expiresAt: number; origin: string };

/** Collects the notices published on a prefix's channel, through a connection of its own. */
async function noticesOn(keyPrefix: string): Promise<string[]> {
  const notices: string[] = [];
  const listener = testConnection();
  cleanup(() => listener.disconnect());
  listener.on('message', (_channel: string, message: string) => notices.push(message));
  await listener.subscribe(redisKeys(keyPrefix).channel);
  return notices;
}

/** Collects what a watch listener receives. */
function recorder(): { received: TokenPair[]; listener: (pair: TokenPair) => void } {
  const received: TokenPair[] = [];
  return { received, listener: (pair) => received.push(pair) };
}

/** Kills the server side of a named client's connection(s): `subscriber` picks the subscribed one. */
async function cutConnection(name: string, which: 'main' | 'subscriber'): Promise<void> {
  const list = (await raw.client('LIST')) as string;
  const ids = list
    .split('\n')
    .filter((line) => line.includes(` name=${name} `))
    .filter((line) => (/ sub=[1-9]/.test(line) ? which === 'subscriber' : which === 'main'))
    .map((line) => /^id=(\d+)/.exec(line)![1]);
  expect(ids.length).toBeGreaterThan(0);
  for (const id of ids) await raw.client('KILL', 'ID', id);
}

const signal = (): AbortSignal => new AbortController().signal;

/** Bounds a wait on an event (a generous timeout, not a synchronisation), naming it when it does not come. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  const timeout = new AbortController();
  try {
    return await Promise.race([
      promise,
      sleep(ms, undefined, { signal: timeout.signal }).then(() => Promise.reject(new Error(`no ${what} within ${ms} ms`))),
    ]);
  } finally {
    timeout.abort(); // the timer must not outlive the wait
  }
}

describe('RedisTokenStore against Redis', () => {
  it('saves JSON with version, expiresAt and issuedAt (epoch ms) under <prefix>:tokens, and loads it back', async () => {
    const keyPrefix = prefix();
    const { redis } = connection();
    const subject = store(redis, keyPrefix);
    const pair = { ...tokens('one', 3_600_000, Date.now(), 4), scope: 'openid' };
    await subject.save(pair);
    const stored = JSON.parse((await raw.get(`${keyPrefix}:tokens`))!);
    expect(stored).toMatchObject({
      v: 1,
      version: 4,
      expiresAt: pair.expiresAt.getTime(),
      issuedAt: pair.issuedAt.getTime(),
      accessToken: pair.accessToken,
    });
    expect(await subject.load()).toEqual(pair);
  });

  it.each([
    ['corrupt JSON', '{"accessToken":"at-GARBAGE-SECRET"'],
    ['a format version this release does not know (left by a newer one)', JSON.stringify({ v: 2, accessToken: 'at-NEWER-SECRET', expiresAt: 1, issuedAt: 1, version: 99 })],
  ])('load calls %s unreadable (no content in the error), and the next save overwrites it', async (_label, value) => {
    const keyPrefix = prefix();
    const subject = store(connection().redis, keyPrefix);
    expect(await subject.load()).toBeNull();
    await raw.set(`${keyPrefix}:tokens`, value);
    const error = await expectTypedError(subject.load(), TokenStoreUnreadableError);
    expect(JSON.stringify(error) + String(error) + inspect(error)).not.toContain('SECRET');
    const pair = tokens('fresh', 3_600_000);
    expect(await saveOutcome(subject, pair)).toBe('written');
    expect(await subject.load()).toEqual(pair);
  });

  it('a pair of a higher version replaces the stored one, even if it was obtained "earlier" by a clock that stepped back', async () => {
    const keyPrefix = prefix();
    const subject = store(connection().redis, keyPrefix);
    const notices = await noticesOn(keyPrefix);
    const now = Date.now();
    const stored = tokens('stored', 3_600_000, now, 5);
    // Rotated after an NTP correction of two hours back: judged by issuedAt it would look older.
    const rotated = tokens('rotated', 3_600_000, now - 7_200_000, 6);
    await subject.save(stored);
    expect(await saveOutcome(subject, rotated)).toBe('written');
    expect(await subject.load()).toEqual(rotated);
    await waitFor(() => notices.length >= 2, 5_000, 'two notices');
    expect(notices.map((n) => (JSON.parse(n) as Notice).version)).toEqual([5, 6]);
    expect(notices.join()).not.toContain('SECRET');
  });

  it('never overwrites a pair of a higher version; breaks a tie by issuedAt, then expiry; refuses with TokenStoreConflictError and announces only real writes', async () => {
    const keyPrefix = prefix();
    const subject = store(connection().redis, keyPrefix);
    const notices = await noticesOn(keyPrefix);
    const now = Date.now();

    const current = tokens('current', 1_800_000, now - 10_000, 3);
    const late = tokens('late', 7_200_000, now + 20_000, 2); // a lower version: a late save, whatever its times
    const sameTimeSooner = tokens('same-sooner', 900_000, now - 10_000, 3);
    const sameTimeLater = tokens('same-later', 3_600_000, now - 10_000, 3); // same version and issuedAt, expires later
    expect(await saveOutcome(subject, current)).toBe('written');
    expect(await saveOutcome(subject, late)).toBe('refused');
    expect(await subject.load()).toEqual(current);
    expect(await saveOutcome(subject, sameTimeSooner)).toBe('refused');
    expect(await saveOutcome(subject, sameTimeLater)).toBe('written');
    expect(await saveOutcome(subject, current)).toBe('refused');
    expect(await subject.load()).toEqual(sameTimeLater);

    // A marker write after the refused ones: once its notice is in, no refused save can still
    // publish (pub/sub keeps order), so the list below is complete.
    const marker = tokens('marker', 60_000, now + 1_000, 4);
    await subject.save(marker);
    await waitFor(() => notices.length >= 3, 5_000, 'the marker notice');
    expect(notices.map((n) => JSON.parse(n) as Notice).map(({ version, expiresAt }) => ({ version, expiresAt }))).toEqual([
      { version: 3, expiresAt: current.expiresAt.getTime() },
      { version: 3, expiresAt: sameTimeLater.expiresAt.getTime() },
      { version: 4, expiresAt: marker.expiresAt.getTime() },
    ]);
  });

  it('the save script and compareTokenOrder agree on which pair is newer', async () => {
    const keyPrefix = prefix();
    const subject = store(connection().redis, keyPrefix);
    const now = Date.now();
    const parts = { version: [1, 2], issuedAt: [now - 1_000, now], expiresIn: [60_000, 120_000] };
    const pairs: StoredTokens[] = [];
    for (const version of parts.version) {
      for (const issuedAt of parts.issuedAt) {
        for (const expiresIn of parts.expiresIn) pairs.push(tokens(`v${version}-${issuedAt}-${expiresIn}`, expiresIn, issuedAt, version));
      }
    }
    for (const stored of pairs) {
      for (const incoming of pairs) {
        await raw.set(`${keyPrefix}:tokens`, serializeTokens(stored).json);
        const order = (pair: StoredTokens) => ({ version: pair.version, issuedAt: pair.issuedAt.getTime(), expiresAt: pair.expiresAt.getTime() });
        const expected = compareTokenOrder(order(stored), order(incoming)) > 0 ? 'refused' : 'written';
        expect(await saveOutcome(subject, incoming), `${stored.accessToken} then ${incoming.accessToken}`).toBe(expected);
      }
    }
  });

  it('concurrent saves from many replicas leave the highest version, whatever the order, the clocks and the expiries', async () => {
    const keyPrefix = prefix();
    const replicas = Array.from({ length: 5 }, () => store(connection().redis, keyPrefix));
    const now = Date.now();
    // Each version obtained "earlier" and expiring sooner than the one before: the version decides.
    const pairs = replicas.map((_, i) => tokens(`r${i}`, 600_000 * (5 - i), now - i * 1_000, i + 1));
    await Promise.all(replicas.map((replica, i) => saveOutcome(replica, pairs[(i * 3) % 5])));
    expect(await replicas[0].load()).toEqual(pairs[4]);
  });

  it('watch: another replica hears a save at once; a store ignores its own notices', async () => {
    const keyPrefix = prefix();
    const a = store(connection().redis, keyPrefix);
    const b = store(connection().redis, keyPrefix);
    const atA = recorder();
    const atB = recorder();
    a.watch(atA.listener);
    b.watch(atB.listener);
    // Wait until both are subscribed: the channel then has two subscribers.
    await waitFor(async () => ((await raw.pubsub('NUMSUB', redisKeys(keyPrefix).channel)) as [string, number])[1] === 2, 2_000, 'subscriptions');

    const first = tokens('first', 3_600_000);
    await a.save(first);
    await waitFor(() => atB.received.length === 1, 2_000, 'b to hear the first save');
    expect(atB.received[0]).toEqual(first);

    const second = tokens('second', 7_200_000);
    await b.save(second);
    await waitFor(() => atA.received.length >= 1, 2_000, 'a to hear the second save');
    // Had a been told about its own first save, that call would have come before this one.
    expect(atA.received).toEqual([second]);
    expect(atB.received).toEqual([first]);
  });

  it('a late save or a late or replayed notice never hands over tokens older than the stored ones', async () => {
    const keyPrefix = prefix();
    const writer = store(connection().redis, keyPrefix);
    const lateWriter = store(connection().redis, keyPrefix);
    const reader = store(connection().redis, keyPrefix);
    const seen = recorder();
    const now = Date.now();
    const current = tokens('current', 3_600_000, now - 10_000, 2);
    await writer.save(current);
    reader.watch(seen.listener);
    await waitFor(() => seen.received.length === 1, 5_000, 'the initial resync');
    const channel = redisKeys(keyPrefix).channel;
    // A save that arrives late: an older version, though obtained "later" and expiring later.
    const stale = tokens('stale', 7_200_000, now + 20_000, 1);
    expect(await saveOutcome(lateWriter, stale)).toBe('refused');
    // A replay of an old notice, a forged one claiming a later time at the same version, and noise.
    const old = { version: 1, issuedAt: now - 20_000, expiresAt: current.expiresAt.getTime() + 60_000, origin: 'old-replica' };
    await raw.publish(channel, JSON.stringify(old));
    await raw.publish(channel, JSON.stringify({ expiresAt: current.expiresAt.getTime() - 60_000, origin: 'no-version' }));
    await raw.publish(channel, JSON.stringify({ version: 2, issuedAt: now + 60_000, expiresAt: current.expiresAt.getTime(), origin: 'forged' }));
    await raw.publish(channel, 'not a notice');
    // The next version, expiring sooner than what is stored: a real update.
    const latest = tokens('latest', 1_800_000, now, 3);
    await writer.save(latest);
    await waitFor(() => seen.received.some((pair) => pair.accessToken === latest.accessToken), 5_000, 'the real save');
    expect(seen.received.map((pair) => pair.accessToken)).not.toContain(stale.accessToken);
    const versions = seen.received.map((pair) => pair.version as number);
    expect(versions).toEqual([...versions].sort((x, y) => x - y));
    expect(Math.min(...versions)).toBe(2);
    expect(await reader.load()).toEqual(latest);
  });

  it('after its subscriber connection is cut, reloads and tells the listeners what it missed', async () => {
    const keyPrefix = prefix();
    const { redis, name } = connection();
    const subject = store(redis, keyPrefix);
    const seen = recorder();
    subject.watch(seen.listener);
    await waitFor(async () => ((await raw.pubsub('NUMSUB', redisKeys(keyPrefix).channel)) as [string, number])[1] === 1, 2_000, 'subscription');
    // Written behind its back with no notice: only a resync can find it.
    const missed = tokens('missed', 3_600_000);
    await raw.set(`${keyPrefix}:tokens`, serializeTokens(missed).json);
    await cutConnection(name, 'subscriber');
    await waitFor(() => seen.received.length === 1, 5_000, 'the resync after reconnect');
    expect(seen.received[0]).toEqual(missed);
  });

  it('after its connection comes back, writes back the newest tokens it knows (a restarted Redis may have lost them)', async () => {
    const keyPrefix = prefix();
    const { redis, name } = connection();
    const subject = store(redis, keyPrefix);
    const now = Date.now();
    // The newest is the higher version, though the first expires later.
    await subject.save(tokens('earlier', 7_200_000, now - 60_000, 1));
    const pair = tokens('kept', 3_600_000, now, 2);
    await subject.save(pair);
    await raw.del(`${keyPrefix}:tokens`); // what a restart without persistence does
    const back = once(redis, 'ready');
    await cutConnection(name, 'main');
    await within(back, 10_000, 'reconnect');
    await waitFor(async () => (await raw.exists(`${keyPrefix}:tokens`)) === 1, 10_000, 'the write-back');
    expect(await subject.load()).toEqual(pair);
  });

  it('with Redis unreachable, load and save fail fast with TokenStoreError, never an ioredis error', async () => {
    const subject = new RedisTokenStore({ url: DEAD_URL, keyPrefix: prefix(), commandTimeout: SLOW_PATH_MS });
    cleanup(() => subject.close());
    for (const attempt of [() => subject.load(), () => subject.save(tokens('x', 60_000))]) {
      const started = Date.now();
      const error = await expectTypedError(attempt(), TokenStoreError);
      // Failed on the refused connection, not by running out its (long) command timeout.
      expect(Date.now() - started).toBeLessThan(SLOW_PATH_MS);
      expect(String(error) + inspect(error)).not.toContain('SECRET');
    }
  }, 3 * SLOW_PATH_MS);

  it('never shows tokens or a password under util.inspect or JSON', async () => {
    const subject = new RedisTokenStore({ url: 'redis://user:hunter2-PASSWORD@127.0.0.1:1', keyPrefix: prefix() });
    cleanup(() => subject.close());
    await subject.save(tokens('shown', 60_000)).catch(() => undefined);
    const shown = inspect(subject, { depth: 10 }) + JSON.stringify(subject);
    expect(shown).toContain('RedisTokenStore');
    expect(shown).not.toMatch(/SECRET|PASSWORD/);
    const lockShown = inspect(new RedisRefreshLock({ url: 'redis://user:hunter2-PASSWORD@127.0.0.1:1', keyPrefix: prefix() }), { depth: 10 });
    expect(lockShown).not.toContain('PASSWORD');
  });

  it('given to the module as a class (no connection), fails bootstrap saying what to pass', async () => {
    for (const [option, value, usage] of [
      ['tokenStore', RedisTokenStore, 'new RedisTokenStore(redis, { keyPrefix })'],
      ['lock', RedisRefreshLock, 'new RedisRefreshLock(redis, { keyPrefix })'],
    ] as const) {
      const error = await Test.createTestingModule({
        imports: [ScheduleModule.forRoot(), TokenRefreshModule.forRoot({ oauthClient: new FakeOAuthClient(), [option]: value as never })],
      })
        .compile()
        .then(() => undefined, (thrown: unknown) => thrown);
      expect(error).toBeInstanceOf(TokenRefreshConfigError);
      expect((error as TokenRefreshConfigError).option).toBe(option);
      expect((error as Error).message).toContain(usage);
    }
  });
});

describe('RedisRefreshLock against Redis', () => {
  it('is exclusive: of five replicas racing, exactly one gets it', async () => {
    const keyPrefix = prefix();
    const locks = Array.from({ length: 5 }, () => lock(connection().redis, keyPrefix));
    const handles = await Promise.all(locks.map((l) => l.acquire({ waitMs: 0, signal: signal() })));
    expect(handles.filter(Boolean)).toHaveLength(1);
  });

  it("a keyed registration's keys each have their own lock: one held does not block another, and the same key excludes", async () => {
    const keyPrefix = prefix();
    const [a, b] = [lock(connection().redis, keyPrefix), lock(connection().redis, keyPrefix)];
    const heldA = (await a.acquire({ waitMs: 0, signal: signal(), key: 'user:a' }))!;
    expect(heldA).not.toBeNull();
    // Another key, on the other replica and on this one: granted at once.
    const heldB = await b.acquire({ waitMs: 0, signal: signal(), key: 'user:b' });
    expect(heldB).not.toBeNull();
    expect(await a.acquire({ waitMs: 0, signal: signal(), key: 'user:c' })).not.toBeNull();
    // The same key, from either replica: refused while held.
    expect(await b.acquire({ waitMs: 0, signal: signal(), key: 'user:a' })).toBeNull();
    expect(await a.acquire({ waitMs: 0, signal: signal(), key: 'user:a' })).toBeNull();
    // Nor does a key's lock stand for the registration's, or for a key whose name only looks like its escape.
    expect(await b.acquire({ waitMs: 0, signal: signal() })).not.toBeNull();
    expect(await b.acquire({ waitMs: 0, signal: signal(), key: 'user%3Aa' })).not.toBeNull();
    expect(await raw.exists(`${keyPrefix}:lock:user%3Aa`)).toBe(1);
    await heldA.release();
    expect(await raw.exists(`${keyPrefix}:lock:user%3Aa`)).toBe(0);
    expect(await b.acquire({ waitMs: 0, signal: signal(), key: 'user:a' })).not.toBeNull();
  });

  it("a key's lease is renewed and lost on its own key", async () => {
    const keyPrefix = prefix();
    const holder = lock(connection().redis, keyPrefix, { lease: 600, renewInterval: 100 });
    const handle = (await holder.acquire({ waitMs: 0, signal: signal(), key: 'tenant{7}' }))!;
    const name = `${keyPrefix}:lock:tenant%7B7%7D`;
    const lost = once(handle.lost!, 'abort');
    await raw.set(name, 'someone-else', 'PX', 5_000);
    await within(lost, 10_000, 'lost signal');
    await handle.release();
    expect(await raw.get(name)).toBe('someone-else');
  });

  it('a waiter gets null after waitMs while held, and the lock once it is released', async () => {
    const keyPrefix = prefix();
    const [a, b] = [lock(connection().redis, keyPrefix), lock(connection().redis, keyPrefix)];
    const held = (await a.acquire({ waitMs: 0, signal: signal() }))!;
    const started = Date.now();
    expect(await b.acquire({ waitMs: 300, signal: signal() })).toBeNull();
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    const waiting = b.acquire({ waitMs: 5_000, signal: signal() });
    await held.release();
    await held.release(); // twice is fine
    expect(await waiting).not.toBeNull();
  });

  it('only the owner releases: a holder whose lease ran out cannot delete its successor\'s lock', async () => {
    const keyPrefix = prefix();
    const [a, b, c] = [lock(connection().redis, keyPrefix), lock(connection().redis, keyPrefix), lock(connection().redis, keyPrefix)];
    const stale = (await a.acquire({ waitMs: 0, signal: signal() }))!;
    await raw.del(`${keyPrefix}:lock`); // as if its lease had expired
    const successor = await b.acquire({ waitMs: 0, signal: signal() });
    expect(successor).not.toBeNull();
    await stale.release();
    expect(await raw.exists(`${keyPrefix}:lock`)).toBe(1);
    expect(await c.acquire({ waitMs: 0, signal: signal() })).toBeNull();
  });

  it('a dead holder\'s lease expires and a waiter proceeds', async () => {
    const keyPrefix = prefix();
    const deadLease = 400;
    // A holder that died: its key is there, and nothing renews it. Timed from before the SET,
    // so the key cannot expire earlier than deadLease after `started`.
    const started = Date.now();
    await raw.set(`${keyPrefix}:lock`, 'crashed-replica', 'PX', deadLease);
    // waitMs far longer than the dead lease: a handle (not null) means the waiter got the lock
    // once the lease lapsed, while still polling. No upper bound on wall time: a loaded
    // machine may take long to poll, and waitMs already bounds it.
    const handle = await lock(connection().redis, keyPrefix).acquire({ waitMs: 20_000, signal: signal() });
    expect(handle).not.toBeNull();
    expect(Date.now() - started).toBeGreaterThanOrEqual(deadLease - 10); // 10 ms: clock granularity
    expect(await raw.get(`${keyPrefix}:lock`)).not.toBe('crashed-replica');
  });

  it('renews its lease while held, for many leases', async () => {
    const keyPrefix = prefix();
    const key = `${keyPrefix}:lock`;
    // A generous margin (lease - renewInterval = 700 ms) so a slow event loop still renews in time.
    const lease = 800;
    const holder = lock(connection().redis, keyPrefix, { lease, renewInterval: 100 });
    const handle = (await holder.acquire({ waitMs: 0, signal: signal() }))!;
    const acquiredAt = Date.now();
    // Watch the key itself: it must never vanish, and its TTL must go back up (a renewal) again
    // and again, over more than three leases. An unrenewed key would be gone after one.
    let renewals = 0;
    let lastTtl = await raw.pttl(key);
    await waitFor(
      async () => {
        const ttl = await raw.pttl(key);
        expect(ttl, 'the lock key expired while held').toBeGreaterThan(0);
        if (ttl > lastTtl) renewals++;
        lastTtl = ttl;
        return renewals >= 5 && Date.now() - acquiredAt > 3 * lease;
      },
      30_000,
      'renewals across more than three leases',
    );
    expect(await lock(connection().redis, keyPrefix).acquire({ waitMs: 0, signal: signal() })).toBeNull();
    expect(handle.lost!.aborted).toBe(false);
    await handle.release();
    expect(await raw.exists(key)).toBe(0);
  });

  it('aborts `lost` when a renewal finds the lock gone', async () => {
    const keyPrefix = prefix();
    const handle = (await lock(connection().redis, keyPrefix, { lease: 600, renewInterval: 100 }).acquire({ waitMs: 0, signal: signal() }))!;
    const lost = once(handle.lost!, 'abort');
    await raw.set(`${keyPrefix}:lock`, 'someone-else', 'PX', 5_000);
    await within(lost, 10_000, 'lost signal');
    expect(handle.lost!.reason).toBeInstanceOf(RefreshLockError);
    await handle.release();
    expect(await raw.get(`${keyPrefix}:lock`)).toBe('someone-else');
  });

  it('stops waiting when the caller aborts', async () => {
    const keyPrefix = prefix();
    await raw.set(`${keyPrefix}:lock`, 'other', 'PX', 10_000);
    const controller = new AbortController();
    const waiting = lock(connection().redis, keyPrefix).acquire({ waitMs: 10_000, signal: controller.signal });
    controller.abort();
    await expect(waiting).rejects.toBeInstanceOf(RefreshAbortedError);
  });

  it('with Redis unreachable, acquire fails fast with RefreshLockError, never an ioredis error', async () => {
    const subject = new RedisRefreshLock({ url: DEAD_URL, keyPrefix: prefix(), commandTimeout: SLOW_PATH_MS });
    cleanup(() => subject.close());
    const started = Date.now();
    await expectTypedError(subject.acquire({ waitMs: SLOW_PATH_MS, signal: signal() }), RefreshLockError);
    // Failed on the refused connection: it neither polled until waitMs nor ran out the command timeout.
    expect(Date.now() - started).toBeLessThan(SLOW_PATH_MS);
  }, 2 * SLOW_PATH_MS);
});

describe('RedisRefreshLock across a Redis restart (a private redis-server)', () => {
  const server = useRedisProcess();

  it('a holder loses it within a lease; while down acquire fails fast; once back it grants only after resyncDelay', async () => {
    const keyPrefix = prefix();
    const { redis } = connection(server.url);
    const subject = lock(redis, keyPrefix, { lease: 800, renewInterval: 200, resyncDelay: 700 });
    const handle = (await subject.acquire({ waitMs: 0, signal: signal() }))!;
    const lost = once(handle.lost!, 'abort');

    await server.kill();
    await expectTypedError(subject.acquire({ waitMs: 5_000, signal: signal() }), RefreshLockError);
    await within(lost, 10_000, 'lost signal');

    // Listening before the restart: ioredis may reconnect before server.start() returns.
    const back = new Promise<number>((resolve) => redis.once('ready', () => resolve(Date.now())));
    await server.start();
    const backAt = await within(back, 10_000, 'reconnect');
    const granted = await subject.acquire({ waitMs: 5_000, signal: signal() });
    expect(granted).not.toBeNull();
    expect(Date.now() - backAt).toBeGreaterThanOrEqual(600);
    await granted!.release();
  });
});
