/**
 * 8. Many users' tokens in Redis (RedisKeyedTokenStore on 127.0.0.1:6379):
 * - Memory per key: 10,000 keys (UUID-like user ids) with realistic tokens, a JWT-sized access
 *   token of about 800 B and a refresh token of 40-200 B, saved through the store. Measured as
 *   `INFO memory` used_memory before and after, per key (what the key really costs the server:
 *   record, due-index entry, key names, the keyspace's hash table), and split with `MEMORY
 *   USAGE` into the record and the sorted set's share (per key, so other clients of a shared
 *   Redis cannot move those, as they can the delta).
 * - The store's own time: save and load latency one at a time (what a refresh adds to the
 *   token endpoint's latency: a load under the lock, then a save).
 * Without Redis the rows say "pending" with the reason; the rest of the run is unaffected.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { type Redis } from 'ioredis';
import { type StoredTokens } from '../src/common/interfaces/token-store.interface';
import { createRedisConnection, RedisKeyedTokenStore } from '../src/redis';
import { deleteKeys, ping, REDIS_URL, testConnection } from '../test/support/redis-test-server';
import { type Row } from './report';
import { fmtBytes, fmtInt, percentile, round, type SectionResult } from './support';

const SECTION = '8 Many users on Redis (RedisKeyedTokenStore)';
const KEYS = 10_000;
const LATENCY_SAMPLES = 2_000;
/** Saves in flight at once while filling: a replica saving many rotations. */
const FILL_CONCURRENCY = 50;

/** base64url of `bytes` random bytes: incompressible, as real tokens are. */
function b64(bytes: number): string {
  return randomBytes(bytes).toString('base64url');
}

/** A JWT-shaped access token of about 800 characters: header, claims, RS256 signature. */
function jwtLike(): string {
  return `eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6IjEifQ.${b64(330)}.${b64(256)}`;
}

function pairFor(i: number, version = 1): StoredTokens {
  const now = Date.now();
  // Refresh tokens from 40 to 200 characters across the keys (120 on average).
  const refreshLength = 40 + (i % 161);
  return {
    accessToken: jwtLike(),
    refreshToken: b64(refreshLength).slice(0, refreshLength),
    tokenType: 'Bearer',
    expiresAt: new Date(now + 3_600_000),
    issuedAt: new Date(now),
    version,
    scope: 'openid profile email offline_access',
    refreshAt: new Date(now + 3_300_000 + (i % 60_000)),
  };
}

async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  const match = /^used_memory:(\d+)/m.exec(info);
  if (!match) throw new Error('INFO memory has no used_memory');
  return Number(match[1]);
}

async function memoryUsage(redis: Redis, key: string): Promise<number> {
  // SAMPLES 0: every element of a sorted set is counted, not an estimate from five.
  return Number(await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0'));
}

async function whyPending(): Promise<string | undefined> {
  const { hostname, port } = new URL(REDIS_URL);
  if (!(await ping(hostname || '127.0.0.1', Number(port || 6379), 2_000))) return `no Redis answers at ${REDIS_URL}`;
  return undefined;
}

export async function runRedisKeyed(): Promise<SectionResult> {
  const pending = await whyPending();
  if (pending) {
    return {
      key: 'redisKeyed',
      title: SECTION,
      rows: [{ section: SECTION, measure: 'Redis memory per key', value: 'pending (Redis absent)', target: '-', status: 'pending', sideBySide: pending }],
      data: { pending },
    };
  }
  const raw = testConnection();
  const redis = createRedisConnection(REDIS_URL);
  // As long as an app's would be (e.g. `myapp:token-refresh:users`): key names count in the figure.
  const keyPrefix = `ntr-bench:users:${randomBytes(4).toString('hex')}`;
  const store = new RedisKeyedTokenStore(redis, { keyPrefix });
  try {
    const keys = Array.from({ length: KEYS }, () => randomUUID());
    const pairs = keys.map((_, i) => pairFor(i));
    const tokenBytes = pairs.reduce((sum, p) => sum + p.accessToken.length + p.refreshToken!.length, 0) / KEYS;
    await store.load(keys[0]); // connected before the first measurement

    const before = await usedMemory(raw);
    for (let i = 0; i < KEYS; i += FILL_CONCURRENCY) {
      await Promise.all(keys.slice(i, i + FILL_CONCURRENCY).map((key, j) => store.save(key, pairs[i + j])));
    }
    const after = await usedMemory(raw);
    const perKey = (after - before) / KEYS;

    const sample = keys.filter((_, i) => i % 50 === 0);
    let recordBytes = 0;
    let jsonBytes = 0;
    for (const key of sample) {
      recordBytes += await memoryUsage(raw, `${keyPrefix}:key:${key}`);
      jsonBytes += await raw.strlen(`${keyPrefix}:key:${key}`);
    }
    recordBytes /= sample.length;
    jsonBytes /= sample.length;
    const dueShare = (await memoryUsage(raw, `${keyPrefix}:due`)) / KEYS;

    // One call at a time: the store's share of one refresh (a load under the lock, then a save).
    const saves: number[] = [];
    const loads: number[] = [];
    for (let i = 0; i < LATENCY_SAMPLES; i++) {
      const key = keys[i];
      const next = pairFor(i, 2);
      let started = performance.now();
      await store.load(key);
      loads.push((performance.now() - started) * 1000);
      started = performance.now();
      await store.save(key, next);
      saves.push((performance.now() - started) * 1000);
    }
    const us = (values: number[], p: number): number => round(percentile(values, p), 0);

    const rows: Row[] = [
      {
        section: SECTION,
        measure: `Redis memory per key, ${fmtInt(KEYS)} keys, ~800 B JWT + 40-200 B refresh token`,
        value: `${fmtBytes(perKey)} per key (used_memory delta)`,
        target: 'stated in README',
        status: 'info',
        // MEMORY USAGE is per key, so other clients of a shared Redis cannot move it; the delta can.
        sideBySide: `MEMORY USAGE: record ${fmtBytes(recordBytes)} (its JSON ${fmtBytes(jsonBytes)}) + due index ${fmtBytes(dueShare)} = ${fmtBytes(recordBytes + dueShare)}; the two tokens alone ${fmtBytes(tokenBytes)}`,
      },
      {
        section: SECTION,
        measure: '  store calls one at a time, local Redis',
        value: `load p50 ${us(loads, 50)} us, save p50 ${us(saves, 50)} us`,
        target: '-',
        status: 'info',
        sideBySide: `p99 load ${us(loads, 99)} us, save ${us(saves, 99)} us: a refresh adds one of each (plus the lock) to the endpoint's latency`,
      },
    ];
    return {
      key: 'redisKeyed',
      title: SECTION,
      rows,
      data: {
        keys: KEYS,
        usedMemoryDeltaBytesPerKey: round(perKey, 1),
        recordBytes: round(recordBytes, 1),
        recordJsonBytes: round(jsonBytes, 1),
        dueIndexBytesPerKey: round(dueShare, 1),
        tokenBytesPerKey: round(tokenBytes, 1),
        loadUs: { p50: us(loads, 50), p99: us(loads, 99) },
        saveUs: { p50: us(saves, 50), p99: us(saves, 99) },
      },
    };
  } finally {
    await store.close();
    redis.disconnect();
    await deleteKeys(raw, keyPrefix);
    await raw.quit();
  }
}
