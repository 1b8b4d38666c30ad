import { type Redis } from 'ioredis';
import { TokenRefreshConfigError } from '../common/token-refresh.errors';
import { createRedisConnection, isRedisClient } from './redis-connection';
import { type RedisKeys, redisKeys } from './redis-keys';
import { type RedisCoordinationOptions, type RedisUrlOptions, type ResolvedStoreOptions, validateRedisUrl } from './redis.options';

/** How a RedisTokenStore or RedisRefreshLock reads its "connection or URL" constructor arguments. */
export interface RedisClientSourceSpec<O extends RedisCoordinationOptions, R extends ResolvedStoreOptions> {
  /** The option path in error messages: `tokenStore` or `lock`. */
  path: string;
  /** Thrown when the first argument is neither a client nor an options object (e.g. the class itself). */
  notAnInstanceMessage: string;
  /** Names an opened connection in its logs, followed by the quoted key prefix: `token store`, `refresh lock`. */
  label: string;
  resolveOptions(options: O | undefined, path: string): R;
}

export interface RedisClientSource<R extends ResolvedStoreOptions> {
  redis: Redis;
  /** True when the connection was opened here from a URL: its owner closes it. */
  ownsConnection: boolean;
  options: R;
  keys: RedisKeys;
}

/**
 * `(redis, options)` adopts the app's connection; `({ url, ...options })` opens one with the
 * fail-fast options. Options are checked before any connection is opened.
 */
export function resolveRedisClientSource<O extends RedisCoordinationOptions, R extends ResolvedStoreOptions>(
  redisOrOptions: Redis | (O & RedisUrlOptions),
  maybeOptions: O | undefined,
  spec: RedisClientSourceSpec<O, R>,
): RedisClientSource<R> {
  const byUrl = !isRedisClient(redisOrOptions);
  // Nest builds a class given as an option with no arguments: say what to pass instead.
  if (byUrl && (redisOrOptions === null || typeof redisOrOptions !== 'object')) {
    throw new TokenRefreshConfigError(spec.path, spec.notAnInstanceMessage);
  }
  const options = spec.resolveOptions(byUrl ? (redisOrOptions as O & RedisUrlOptions) : maybeOptions, spec.path);
  const keys = redisKeys(options.keyPrefix);
  if (!byUrl) return { redis: redisOrOptions as Redis, ownsConnection: false, options, keys };
  const { url, redisOptions } = redisOrOptions as RedisUrlOptions;
  const redis = createRedisConnection(validateRedisUrl(url, spec.path), redisOptions, `${spec.label} "${options.keyPrefix}"`);
  return { redis, ownsConnection: true, options, keys };
}
