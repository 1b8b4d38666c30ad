import { type Redis } from 'ioredis';
import { createRedisConnection, RedisKeyedTokenStore, RedisRefreshLock } from '../../../src/redis';
import { deleteKeys, randomKeyPrefix, REDIS_URL, requireRedis, testConnection } from '../../support/redis-test-server';
import { type DurableBackend, type DurableBackendConfig, type OpenedBackend, type PreparedBackend } from '../backend';

/**
 * Redis for the keyed replica tests: a key prefix of its own per run on the local Redis, and in
 * each replica the store and lock an app would build, on one connection.
 */
export const redisBackend: DurableBackend = {
  name: 'redis',

  async prepare(options: { port?: number } = {}): Promise<PreparedBackend> {
    await requireRedis();
    const server = new URL(REDIS_URL);
    const serverPort = Number(server.port || 6379);
    const keyPrefix = randomKeyPrefix('durable');
    const url = `redis://${server.hostname || '127.0.0.1'}:${options.port ?? serverPort}`;
    let raw: Redis | undefined;
    const connection = (): Redis => (raw ??= testConnection());
    return {
      config: { url, keyPrefix },
      serverPort,
      rawValues: () => rawValues(connection(), keyPrefix),
      async drop() {
        const redis = connection();
        await deleteKeys(redis, keyPrefix);
        raw = undefined;
        await redis.quit();
      },
    };
  },

  async open(config: DurableBackendConfig, { lease }: { lease?: number }): Promise<OpenedBackend> {
    const url = String(config.url);
    const keyPrefix = String(config.keyPrefix);
    const redis = createRedisConnection(url, {}, `replica ${process.pid}`);
    // A key claimed by a replica that dies comes back to the others' scans one lease after it was due.
    const store = new RedisKeyedTokenStore(redis, lease === undefined ? { keyPrefix } : { keyPrefix, dueClaim: lease });
    const lock = new RedisRefreshLock(redis, lease === undefined ? { keyPrefix } : { keyPrefix, lease });
    return {
      store,
      lock,
      async close() {
        await Promise.allSettled([store.close(), lock.close()]);
        await redis.quit().catch(() => redis.disconnect());
      },
    };
  },
};

/** Every value under the prefix as text: records and locks (strings), due-index members (sorted sets), whatever else is there. */
async function rawValues(redis: Redis, keyPrefix: string): Promise<string[]> {
  const values: string[] = [];
  let cursor = '0';
  do {
    const [next, names] = await redis.scan(cursor, 'MATCH', `${keyPrefix}:*`, 'COUNT', 500);
    cursor = next;
    for (const name of names) {
      const type = await redis.type(name);
      if (type === 'string') values.push((await redis.get(name)) ?? '');
      else if (type === 'zset') values.push(...(await redis.zrange(name, '0', '-1')));
      else if (type === 'hash') values.push(...Object.values(await redis.hgetall(name)));
      else if (type === 'set') values.push(...(await redis.smembers(name)));
      else if (type === 'list') values.push(...(await redis.lrange(name, 0, -1)));
    }
  } while (cursor !== '0');
  return values;
}
