import { Logger } from '@nestjs/common';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { deleteKeys, randomKeyPrefix, REDIS_URL, RedisProcess, requireRedis } from './redis-test-server';

export interface RedisSuite {
  /** A plain connection for test code (it waits for Redis rather than failing fast); it connects on first use. */
  readonly raw: Redis;
  /** A fresh key prefix (named after the suite's label); every key under it is deleted after the test. */
  prefix(): string;
  /** Runs after the test, last registered first, before the prefixes' keys are deleted. */
  cleanup(step: () => unknown): void;
}

/**
 * The Redis setup of a suite that runs against the shared Redis: registers the hooks that fail
 * the suite (never skip it) with how to start Redis when none answers, clean up after each test
 * and close the connection. Nest's Logger is silenced: the Redis store and lock log the
 * connection trouble these suites cause on purpose.
 */
export function useRedis(label: string): RedisSuite {
  const raw = new Redis(REDIS_URL, { maxRetriesPerRequest: 3, lazyConnect: true });
  const steps: Array<() => unknown> = [];
  const prefixes: string[] = [];

  beforeAll(async () => {
    await requireRedis();
    Logger.overrideLogger(false);
  });

  afterEach(async () => {
    while (steps.length) await steps.pop()!();
    for (const keyPrefix of prefixes.splice(0)) await deleteKeys(raw, keyPrefix);
  });

  afterAll(async () => {
    // Never connected (no Redis, or no test used it): quit() would connect first.
    if (raw.status === 'wait') raw.disconnect();
    else await raw.quit();
  });

  return {
    raw,
    prefix() {
      const keyPrefix = randomKeyPrefix(label);
      prefixes.push(keyPrefix);
      return keyPrefix;
    },
    cleanup(step) {
      steps.push(step);
    },
  };
}

/** A private redis-server the tests may kill and restart, started before the suite and killed after it. */
export function useRedisProcess(): RedisProcess {
  const server = new RedisProcess();
  beforeAll(() => server.start());
  afterAll(() => server.kill());
  return server;
}
