/*
 * `nestjs-token-refresh/redis`: cluster mode. Several replicas share one credential through
 * Redis: one refreshes per rotation (under RedisRefreshLock), saves, and announces; the others
 * adopt what it saved (RedisTokenStore.watch). A keyed registration does the same per key with
 * RedisKeyedTokenStore and the same lock. Needs the optional peer dependency ioredis.
 */
export { RedisTokenStore } from './redis-token.store';
export { RedisKeyedTokenStore } from './redis-keyed-token.store';
export { RedisRefreshLock } from './redis-refresh.lock';
export { createRedisConnection, FAIL_FAST_REDIS_OPTIONS } from './redis-connection';
export { redisKeys } from './redis-keys';
export type { RedisKeys } from './redis-keys';
export {
  DEFAULT_LOCK_LEASE,
  DEFAULT_LOCK_RETRY_DELAY,
  DEFAULT_REDIS_COMMAND_TIMEOUT,
  DEFAULT_RESYNC_DELAY,
} from './redis.options';
export type {
  RedisCoordinationOptions,
  RedisKeyedTokenStoreOptions,
  RedisRefreshLockOptions,
  RedisTokenStoreOptions,
  RedisUrlOptions,
} from './redis.options';
