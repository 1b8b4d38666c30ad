import { randomUUID } from 'node:crypto';
import { inspect } from 'node:util';
import fc from 'fast-check';
import { type Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { type TokenPair } from '../../src/common/interfaces/token-pair.interface';
import { type StoredTokens } from '../../src/common/interfaces/token-store.interface';
import {
  TokenRefreshConfigError,
  TokenStoreConflictError,
  TokenStoreError,
  TokenStoreUnreadableError,
  TokenValidationError,
} from '../../src/common/token-refresh.errors';
import { compareTokenOrder } from '../../src/core/tokens';
import { createRedisConnection, RedisKeyedTokenStore, type RedisKeyedTokenStoreOptions, RedisTokenStore } from '../../src/redis';
import { redisKeys } from '../../src/redis/redis-keys';
import { serializeTokens } from '../../src/redis/redis-token.serialization';
import { expectTypedError } from '../support/expect-error';
import { useRedis } from '../support/redis-hooks';
import { REDIS_URL, testConnection } from '../support/redis-test-server';
import { waitFor } from '../support/wait-for';

const { raw, prefix, cleanup } = useRedis('keyed');

/** A fail-fast connection with a unique name (its subscriber, a duplicate, shares it), closed after the test. */
function connection(name = `ntr-test-${randomUUID()}`): Redis {
  const redis = createRedisConnection(REDIS_URL, { connectionName: name });
  redis.on('error', () => undefined);
  cleanup(() => redis.disconnect());
  return redis;
}

function store(keyPrefix: string, options: Partial<RedisKeyedTokenStoreOptions> = {}, redis = connection()): RedisKeyedTokenStore {
  const value = new RedisKeyedTokenStore(redis, { keyPrefix, ...options });
  cleanup(() => value.close());
  return value;
}

/** Pair `version` of a key, obtained at `issuedAt`, expiring `expiresInMs` after it, due at `refreshAt` (default: 5 minutes before expiry). */
function tokens(label: string, { version = 1, issuedAt = Date.now(), expiresInMs = 3_600_000, refreshAt }: { version?: number; issuedAt?: number; expiresInMs?: number; refreshAt?: number } = {}): StoredTokens {
  const expiresAt = issuedAt + expiresInMs;
  return {
    accessToken: `at-${label}-SECRET`,
    refreshToken: `rt-${label}-SECRET`,
    tokenType: 'Bearer',
    expiresAt: new Date(expiresAt),
    issuedAt: new Date(issuedAt),
    version,
    refreshAt: new Date(refreshAt ?? expiresAt - 300_000),
  };
}

/** What load() gives back: the pair without its refresh instant (the service computes it from the pair). */
function loaded(pair: StoredTokens): StoredTokens {
  const { refreshAt: _refreshAt, ...rest } = pair;
  return rest;
}

async function saveOutcome(subject: { save(key: string, pair: StoredTokens): Promise<void> }, key: string, pair: StoredTokens): Promise<'written' | 'refused'> {
  try {
    await subject.save(key, pair);
    return 'written';
  } catch (error) {
    if (error instanceof TokenStoreConflictError) return 'refused';
    throw error;
  }
}

/** Collects what is published on the keyed channel, through a connection of its own. */
async function messagesOn(keyPrefix: string): Promise<string[]> {
  const messages: string[] = [];
  const listener = testConnection();
  cleanup(() => listener.disconnect());
  listener.on('message', (_channel: string, message: string) => messages.push(message));
  await listener.subscribe(redisKeys(keyPrefix).keyedChannel);
  return messages;
}

async function subscribers(keyPrefix: string): Promise<number> {
  return ((await raw.pubsub('NUMSUB', redisKeys(keyPrefix).keyedChannel)) as [string, number])[1];
}

describe('RedisKeyedTokenStore against Redis', () => {
  it('saves a record per key and its refresh instant in the due index, loads it back, and delete removes both', async () => {
    const keyPrefix = prefix();
    const subject = store(keyPrefix);
    const pair = { ...tokens('alice', { version: 4 }), scope: 'openid' };
    await subject.save('alice', pair);

    expect(JSON.parse((await raw.get(`${keyPrefix}:key:alice`))!)).toMatchObject({ v: 1, version: 4, accessToken: pair.accessToken });
    expect(Number(await raw.zscore(`${keyPrefix}:due`, 'alice'))).toBe(pair.refreshAt!.getTime());
    expect(await subject.load('alice')).toEqual(loaded(pair));
    expect(await subject.load('bob')).toBeNull();

    await subject.delete('alice');
    expect(await raw.exists(`${keyPrefix}:key:alice`)).toBe(0);
    expect(await raw.zscore(`${keyPrefix}:due`, 'alice')).toBeNull();
    expect(await subject.load('alice')).toBeNull();
    await subject.delete('alice'); // absent: no error
  });

  it('without refreshAt, indexes the key by its expiry', async () => {
    const keyPrefix = prefix();
    const subject = store(keyPrefix);
    const { refreshAt: _refreshAt, ...pair } = tokens('plain');
    await subject.save('k', pair);
    expect(Number(await raw.zscore(`${keyPrefix}:due`, 'k'))).toBe(pair.expiresAt.getTime());
  });

  it('refuses a pair older than the stored one (lower version; same version and issuedAt but sooner expiry) and leaves record and due score alone', async () => {
    const keyPrefix = prefix();
    const subject = store(keyPrefix);
    const messages = await messagesOn(keyPrefix);
    const now = Date.now();
    const current = tokens('current', { version: 3, issuedAt: now - 10_000, refreshAt: now + 100_000 });
    expect(await saveOutcome(subject, 'k', current)).toBe('written');

    // A late save: a lower version, though obtained later and expiring later.
    expect(await saveOutcome(subject, 'k', tokens('late', { version: 2, issuedAt: now + 20_000, expiresInMs: 7_200_000 }))).toBe('refused');
    // Same version, obtained earlier: refused, whatever its expiry.
    expect(await saveOutcome(subject, 'k', tokens('earlier', { version: 3, issuedAt: now - 20_000, expiresInMs: 7_200_000 }))).toBe('refused');
    // A tie on version and issuedAt: the later expiry wins, the sooner loses.
    expect(await saveOutcome(subject, 'k', tokens('sooner', { version: 3, issuedAt: now - 10_000, expiresInMs: 1_000_000 }))).toBe('refused');
    await expectTypedError(subject.save('k', tokens('late', { version: 1 })), TokenStoreConflictError);
    expect(await subject.load('k')).toEqual(loaded(current));
    expect(Number(await raw.zscore(`${keyPrefix}:due`, 'k'))).toBe(now + 100_000);

    const later = tokens('later', { version: 3, issuedAt: now - 10_000, expiresInMs: 7_200_000 });
    expect(await saveOutcome(subject, 'k', later)).toBe('written');
    expect(await subject.load('k')).toEqual(loaded(later));
    // Only the two writes were announced: once the second's notice is in, no refused save can still publish.
    await waitFor(() => messages.length >= 2, 5_000, 'the notices of the two writes');
    expect(messages.map((m) => (JSON.parse(m) as { expiresAt: number }).expiresAt)).toEqual([current.expiresAt.getTime(), later.expiresAt.getTime()]);
  });

  it('the save scripts (single and keyed) agree with compareTokenOrder on which pair is newer', async () => {
    const keyPrefix = prefix();
    const keyed = store(keyPrefix);
    const single = new RedisTokenStore(connection(), { keyPrefix });
    cleanup(() => single.close());
    const now = Date.now();
    // Small ranges, so ties on version, issuedAt and expiry all come up often.
    const order = fc.record({ version: fc.integer({ min: 0, max: 3 }), issuedAt: fc.integer({ min: 0, max: 3 }), expiresIn: fc.integer({ min: 1, max: 3 }) });
    const pair = (o: { version: number; issuedAt: number; expiresIn: number }, label: string) =>
      tokens(label, { version: o.version, issuedAt: now + o.issuedAt * 1_000, expiresInMs: o.expiresIn * 60_000 });
    await fc.assert(
      fc.asyncProperty(order, order, async (storedOrder, incomingOrder) => {
        const stored = pair(storedOrder, 'stored');
        const incoming = pair(incomingOrder, 'incoming');
        const of = (p: StoredTokens) => ({ version: p.version, issuedAt: p.issuedAt.getTime(), expiresAt: p.expiresAt.getTime() });
        const expected = compareTokenOrder(of(stored), of(incoming)) > 0 ? 'refused' : 'written';
        await raw.set(`${keyPrefix}:key:k`, serializeTokens(stored).json);
        expect(await saveOutcome(keyed, 'k', incoming)).toBe(expected);
        await raw.set(`${keyPrefix}:tokens`, serializeTokens(stored).json);
        expect(await saveOutcome({ save: (_key, p) => single.save(p) }, 'k', incoming)).toBe(expected);
      }),
      { numRuns: 300 },
    );
  });

  it('concurrent saves of one key from many replicas leave the highest version', async () => {
    const keyPrefix = prefix();
    const replicas = Array.from({ length: 5 }, () => store(keyPrefix));
    const now = Date.now();
    // Each version obtained "earlier" and expiring sooner than the one before: the version decides.
    const pairs = replicas.map((_, i) => tokens(`r${i}`, { version: i + 1, issuedAt: now - i * 1_000, expiresInMs: 600_000 * (5 - i) }));
    await Promise.all(replicas.map((replica, i) => saveOutcome(replica, 'k', pairs[(i * 3) % 5])));
    expect(await replicas[0].load('k')).toEqual(loaded(pairs[4]));
    expect(Number(await raw.zscore(`${keyPrefix}:due`, 'k'))).toBe(pairs[4].refreshAt!.getTime());
  });

  it('keeps keys apart whatever their characters: `a:b`, its escape, braces, spaces, unicode', async () => {
    const keyPrefix = prefix();
    const subject = store(keyPrefix);
    const keys = ['a:b', 'a%3Ab', 'a', 'a:b:c', '{a}:b', 'a b', 'ключ', '\uD800', 'due', 'lock'];
    for (const [i, key] of keys.entries()) await subject.save(key, tokens(`k${i}`));
    for (const [i, key] of keys.entries()) expect((await subject.load(key))?.accessToken).toBe(`at-k${i}-SECRET`);
    // Every name stays under the prefix, one segment per key; the index holds the same escaped segments.
    const names = await raw.keys(`${keyPrefix}:*`);
    expect(names).toHaveLength(keys.length + 1);
    const segments = names.filter((name) => name !== `${keyPrefix}:due`).map((name) => name.slice(`${keyPrefix}:key:`.length));
    for (const segment of segments) expect(segment).toMatch(/^[A-Za-z0-9._~@%u-]+$/);
    expect((await raw.zrange(`${keyPrefix}:due`, '0', '-1')).sort()).toEqual(segments.sort());
    // dueKeys gives every key back exactly as it was saved, the lone surrogate included.
    expect((await subject.dueKeys(new Date(Date.now() + 7_200_000), 100)).sort()).toEqual([...keys].sort());
    await subject.delete('a:b');
    expect(await subject.load('a:b')).toBeNull();
    expect(await subject.load('a%3Ab')).not.toBeNull();
  });

  it.each([
    ['corrupt JSON', '{"accessToken":"at-GARBAGE-SECRET"'],
    ['a format version this release does not know', JSON.stringify({ v: 2, accessToken: 'at-NEWER-SECRET', expiresAt: 1, issuedAt: 1, version: 99 })],
  ])('calls %s unreadable (no content in the error), and the next save replaces it', async (_label, value) => {
    const keyPrefix = prefix();
    const subject = store(keyPrefix);
    await raw.set(`${keyPrefix}:key:k`, value);
    const error = await expectTypedError(subject.load('k'), TokenStoreUnreadableError);
    expect(JSON.stringify(error) + String(error) + inspect(error)).not.toContain('SECRET');
    const pair = tokens('fresh', { version: 1 });
    expect(await saveOutcome(subject, 'k', pair)).toBe('written');
    expect(await subject.load('k')).toEqual(loaded(pair));
  });

  it('rejects bad input with typed errors naming it, before any command', async () => {
    const subject = store(prefix());
    await expectTypedError(subject.save('', tokens('x')), TokenValidationError, { field: 'key' });
    await expectTypedError(subject.save('k', { ...tokens('x'), refreshAt: new Date(Number.NaN) }), TokenValidationError, { field: 'refreshAt' });
    await expectTypedError(subject.save('k', { ...tokens('x'), version: -1 }), TokenValidationError, { field: 'version' });
    await expectTypedError(subject.dueKeys(new Date(Number.NaN), 10), TokenValidationError, { field: 'before' });
    expect(await subject.dueKeys(new Date(), 0)).toEqual([]);
    expectTypedError(() => new RedisKeyedTokenStore(connection(), { keyPrefix: '' }), TokenRefreshConfigError, { option: 'tokenStore.keyPrefix' });
    expectTypedError(() => new RedisKeyedTokenStore(connection(), { keyPrefix: 'p', dueClaim: 0 }), TokenRefreshConfigError, { option: 'tokenStore.dueClaim' });
    expectTypedError(() => new RedisKeyedTokenStore({ url: 'http://127.0.0.1:6379', keyPrefix: 'p' }), TokenRefreshConfigError, { option: 'tokenStore.url' });
  });

  it('with Redis unreachable, every call fails with TokenStoreError (never an ioredis error), and it shows no token or password', async () => {
    const subject = new RedisKeyedTokenStore({ url: 'redis://user:hunter2-PASSWORD@127.0.0.1:1', keyPrefix: prefix() });
    cleanup(() => subject.close());
    for (const call of [() => subject.load('k'), () => subject.save('k', tokens('x')), () => subject.delete('k'), () => subject.dueKeys(new Date(), 5)]) {
      const error = await expectTypedError(call(), TokenStoreError);
      expect(String(error) + inspect(error)).not.toMatch(/SECRET|PASSWORD/);
    }
    const shown = inspect(subject, { depth: 10 }) + JSON.stringify(subject);
    expect(shown).toContain('RedisKeyedTokenStore');
    expect(shown).not.toMatch(/SECRET|PASSWORD/);
  });
});

describe('RedisKeyedTokenStore.dueKeys', () => {
  it('returns the keys due before the instant, earliest first, at most the limit', async () => {
    const keyPrefix = prefix();
    const subject = store(keyPrefix);
    const now = Date.now();
    // Saved out of order; k0 is due first. k9 is due after the horizon.
    for (const i of [3, 0, 7, 1, 9, 2, 5, 4, 8, 6]) await subject.save(`k${i}`, tokens(`k${i}`, { refreshAt: now + i * 1_000 }));
    expect(await subject.dueKeys(new Date(now + 2_500), 2)).toEqual(['k0', 'k1']);
    // Those two are claimed: the next scan goes on with the rest, and stops at the instant (exclusive).
    expect(await subject.dueKeys(new Date(now + 9_000), 100)).toEqual(['k2', 'k3', 'k4', 'k5', 'k6', 'k7', 'k8']);
    expect(await subject.dueKeys(new Date(now + 9_000), 100)).toEqual([]);
  });

  it('spreads due keys: two replicas scanning at once get disjoint sets that together hold every due key', async () => {
    const keyPrefix = prefix();
    const [a, b] = [store(keyPrefix), store(keyPrefix)];
    const now = Date.now();
    const due = Array.from({ length: 200 }, (_, i) => `user-${i}`);
    await a.save('later', tokens('later', { refreshAt: now + 600_000 }));
    await Promise.all(due.map((key, i) => a.save(key, tokens(key, { refreshAt: now - 60_000 + i }))));
    const before = new Date(now + 60_000);
    const [fromA, fromB] = await Promise.all([
      (async () => [...(await a.dueKeys(before, 60)), ...(await a.dueKeys(before, 60))])(),
      (async () => [...(await b.dueKeys(before, 60)), ...(await b.dueKeys(before, 60))])(),
    ]);
    // However the four scans interleave, each first one finds 60 unclaimed keys.
    expect(fromA.filter((key) => fromB.includes(key))).toEqual([]);
    expect(Math.min(fromA.length, fromB.length)).toBeGreaterThanOrEqual(60);
    expect([...fromA, ...fromB].sort()).toEqual([...due].sort());
  });

  it("a claimed key comes back to every scan once the claim ends (its replica died), and a save sets its real refresh instant", async () => {
    const keyPrefix = prefix();
    const dueClaim = 300;
    const [dead, survivor] = [store(keyPrefix, { dueClaim }), store(keyPrefix, { dueClaim })];
    const now = Date.now();
    await survivor.save('k', tokens('k', { refreshAt: now - 1_000 }));
    const horizon = () => new Date(Date.now() + 60_000);
    expect(await dead.dueKeys(horizon(), 10)).toEqual(['k']);
    expect(await survivor.dueKeys(horizon(), 10)).toEqual([]);
    // Nobody refreshes it: after the claim, a scan finds it again (and claims it in turn).
    await waitFor(async () => (await survivor.dueKeys(horizon(), 10)).includes('k'), 10_000, 'the claim to end');
    const saved = tokens('k2', { version: 2, refreshAt: now + 3_600_000 });
    await survivor.save('k', saved);
    expect(Number(await raw.zscore(`${keyPrefix}:due`, 'k'))).toBe(saved.refreshAt!.getTime());
  });

  it('a claim on a key due later lasts until its refresh instant plus the claim, for scans looking as far ahead', async () => {
    const keyPrefix = prefix();
    const subject = store(keyPrefix, { dueClaim: 30_000 });
    const now = Date.now();
    await subject.save('soon', tokens('soon', { refreshAt: now + 50_000 }));
    const ahead = 60_000;
    const scannedAt = Date.now();
    expect(await subject.dueKeys(new Date(scannedAt + ahead), 10)).toEqual(['soon']);
    const scanned = Date.now();
    // Hidden from scans with the same look-ahead until 30 s after its refresh instant: its score is
    // that instant plus the look-ahead, which the store measures from its own clock reading (taken
    // between scannedAt and scanned).
    const score = Number(await raw.zscore(`${keyPrefix}:due`, 'soon'));
    expect(score).toBeLessThanOrEqual(now + 50_000 + 30_000 + ahead);
    expect(score).toBeGreaterThanOrEqual(now + 50_000 + 30_000 + ahead - (scanned - scannedAt));
  });
});

describe('RedisKeyedTokenStore.watch', () => {
  it("another replica hears each key saved, with that key's pair; a store ignores its own saves; the message names the key and no token", async () => {
    const keyPrefix = prefix();
    const [a, b] = [store(keyPrefix), store(keyPrefix)];
    const atA: Array<[string, TokenPair]> = [];
    const atB: Array<[string, TokenPair]> = [];
    a.watch((key, pair) => atA.push([key, pair]));
    b.watch((key, pair) => atB.push([key, pair]));
    const messages = await messagesOn(keyPrefix);
    await waitFor(async () => (await subscribers(keyPrefix)) === 3, 5_000, 'both stores subscribed');

    const alice = tokens('alice');
    const bob = tokens('bob');
    await a.save('user:alice', alice);
    await a.save('user:bob', bob);
    await waitFor(() => atB.length === 2, 5_000, 'b to hear both saves');
    expect(new Map(atB)).toEqual(new Map([['user:alice', loaded(alice)], ['user:bob', loaded(bob)]]));

    const alice2 = tokens('alice2', { version: 2 });
    await b.save('user:alice', alice2);
    await waitFor(() => atA.length === 1, 5_000, 'a to hear the save by b');
    expect(atA).toEqual([['user:alice', loaded(alice2)]]);
    expect(atB).toHaveLength(2); // b did not hear its own

    await waitFor(() => messages.length === 3, 5_000, 'three notices');
    expect(messages.map((m) => (JSON.parse(m) as { key: string }).key)).toEqual(['user:alice', 'user:bob', 'user:alice']);
    expect(messages.join()).not.toContain('SECRET');
  });

  it('ignores stray messages and keys it cannot read, and a listener that throws does not stop the others', async () => {
    const keyPrefix = prefix();
    const [writer, reader] = [store(keyPrefix), store(keyPrefix)];
    const heard: string[] = [];
    reader.watch(() => {
      throw new Error('listener bug');
    });
    reader.watch((key) => heard.push(key));
    await waitFor(async () => (await subscribers(keyPrefix)) === 1, 5_000, 'the subscription');
    const channel = redisKeys(keyPrefix).keyedChannel;
    await raw.publish(channel, 'not a notice');
    await raw.publish(channel, JSON.stringify({ version: 1, issuedAt: 1, expiresAt: 2, origin: 'x' })); // no key
    await raw.set(`${keyPrefix}:key:broken`, '{');
    await raw.publish(channel, JSON.stringify({ version: 1, issuedAt: 1, expiresAt: 2, origin: 'x', key: 'broken' }));
    await writer.save('good', tokens('good'));
    await waitFor(() => heard.length === 1, 5_000, 'the real save');
    expect(heard).toEqual(['good']);
  });

  it('after its subscriber connection is cut, subscribes again and hears the next saves', async () => {
    const keyPrefix = prefix();
    const name = `ntr-test-${randomUUID()}`;
    const [writer, reader] = [store(keyPrefix), store(keyPrefix, {}, connection(name))];
    const heard: string[] = [];
    reader.watch((key) => heard.push(key));
    await waitFor(async () => (await subscribers(keyPrefix)) === 1, 5_000, 'the subscription');
    const list = (await raw.client('LIST')) as string;
    const subscriberIds = list
      .split('\n')
      .filter((line) => line.includes(` name=${name} `) && / sub=[1-9]/.test(line))
      .map((line) => /^id=(\d+)/.exec(line)![1]);
    expect(subscriberIds).toHaveLength(1);
    await raw.client('KILL', 'ID', subscriberIds[0]);
    // Subscribed again on its new connection (a new client id), then a save is heard.
    await waitFor(
      async () => ((await raw.client('LIST')) as string).split('\n').some((line) => line.includes(` name=${name} `) && / sub=1/.test(line) && !line.startsWith(`id=${subscriberIds[0]} `)),
      10_000,
      'the new subscription',
    );
    await writer.save('after-cut', tokens('after'));
    await waitFor(() => heard.includes('after-cut'), 5_000, 'the save after the cut');
  });

  it('unsubscribes with the last unwatch, and close ends the subscription', async () => {
    const keyPrefix = prefix();
    const subject = store(keyPrefix);
    const first = subject.watch(() => undefined);
    const second = subject.watch(() => undefined);
    await waitFor(async () => (await subscribers(keyPrefix)) === 1, 5_000, 'the subscription');
    await first();
    expect(await subscribers(keyPrefix)).toBe(1);
    await second();
    await waitFor(async () => (await subscribers(keyPrefix)) === 0, 5_000, 'the unsubscribe');
    subject.watch(() => undefined);
    await waitFor(async () => (await subscribers(keyPrefix)) === 1, 5_000, 'the new subscription');
    await subject.close();
    await waitFor(async () => (await subscribers(keyPrefix)) === 0, 5_000, 'close to unsubscribe');
    await expectTypedError(subject.load('k'), TokenStoreError);
  });
});
