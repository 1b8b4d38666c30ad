import { type RedisOptions } from 'ioredis';
import { checkDuration } from '../core/durations';
import { TokenRefreshConfigError } from '../common/token-refresh.errors';
import { validateKeyPrefix } from './redis-keys';

/** Durations are in milliseconds, as everywhere in this package. */
export const DEFAULT_REDIS_COMMAND_TIMEOUT = 2_000;
/** Longer than the built-in OAuth client's 10 s timeout, so a lease never runs out under a slow request. */
export const DEFAULT_LOCK_LEASE = 30_000;
export const DEFAULT_LOCK_RETRY_DELAY = 50;
export const DEFAULT_RESYNC_DELAY = 1_000;

/** What both the store and the lock take. Give both the same keyPrefix. */
export interface RedisCoordinationOptions {
  /** Namespaces every key and channel: one per registration, e.g. `myapp:token-refresh:crm`. Required. */
  keyPrefix: string;
  /** ms a Redis command may take before it counts as failed. Default 2000. */
  commandTimeout?: number;
}

/** Instead of a connection: a URL, and the store or lock opens (and on shutdown closes) its own. */
export interface RedisUrlOptions {
  /** `redis://[user:password@]host:port[/db]` or `rediss://...`. */
  url: string;
  /** ioredis options merged over the fail-fast defaults (see createRedisConnection). */
  redisOptions?: RedisOptions;
}

export type RedisTokenStoreOptions = RedisCoordinationOptions;

export interface RedisKeyedTokenStoreOptions extends RedisCoordinationOptions {
  /**
   * ms a key that dueKeys() handed to this replica stays out of other replicas' dueKeys(),
   * counted from the key's refresh time (or from the scan, if that has passed): the time this
   * replica has to refresh it before another loads it too. It spreads due keys over the
   * replicas; the lock, not this, makes each refresh happen once. Give it the lock's lease.
   * Default 30000 (DEFAULT_LOCK_LEASE).
   */
  dueClaim?: number;
}

export interface RedisRefreshLockOptions extends RedisCoordinationOptions {
  /**
   * ms the lock lives without renewal: how long others wait after a holder dies. It is renewed
   * while the refresh runs. Keep it longer than the OAuth request timeout. Default 30000.
   */
  lease?: number;
  /** ms between renewals. Default lease / 3. */
  renewInterval?: number;
  /** ms between attempts while another replica holds the lock; each is jittered by +-50%. Default 50. */
  retryDelay?: number;
  /**
   * ms the lock grants nothing after its connection comes back from a loss, so that every replica
   * first writes back the newest tokens it holds (a restarted Redis may have lost them). Default 1000.
   */
  resyncDelay?: number;
}

export interface ResolvedStoreOptions {
  keyPrefix: string;
  commandTimeout: number;
}

export interface ResolvedKeyedStoreOptions extends ResolvedStoreOptions {
  dueClaim: number;
}

export interface ResolvedLockOptions extends ResolvedStoreOptions {
  lease: number;
  renewInterval: number;
  retryDelay: number;
  resyncDelay: number;
}

export function resolveStoreOptions(options: RedisTokenStoreOptions | undefined, path: string): ResolvedStoreOptions {
  if (options === null || typeof options !== 'object') {
    throw new TokenRefreshConfigError(path, `${path} options must be an object with a keyPrefix`);
  }
  return {
    keyPrefix: validateKeyPrefix(options.keyPrefix, `${path}.keyPrefix`),
    commandTimeout: checkDuration(options.commandTimeout, `${path}.commandTimeout`, { fallback: DEFAULT_REDIS_COMMAND_TIMEOUT }),
  };
}

export function resolveKeyedStoreOptions(options: RedisKeyedTokenStoreOptions | undefined, path: string): ResolvedKeyedStoreOptions {
  const base = resolveStoreOptions(options, path);
  const { dueClaim } = options as RedisKeyedTokenStoreOptions;
  return { ...base, dueClaim: checkDuration(dueClaim, `${path}.dueClaim`, { fallback: DEFAULT_LOCK_LEASE }) };
}

export function resolveLockOptions(options: RedisRefreshLockOptions | undefined, path: string): ResolvedLockOptions {
  const base = resolveStoreOptions(options, path);
  const lock = options as RedisRefreshLockOptions;
  const lease = checkDuration(lock.lease, `${path}.lease`, { fallback: DEFAULT_LOCK_LEASE });
  const renewInterval = checkDuration(lock.renewInterval, `${path}.renewInterval`, { fallback: Math.max(1, Math.floor(lease / 3)) });
  if (renewInterval >= lease) {
    throw new TokenRefreshConfigError(`${path}.renewInterval`, `${path}.renewInterval must be shorter than ${path}.lease`);
  }
  return {
    ...base,
    lease,
    renewInterval,
    retryDelay: checkDuration(lock.retryDelay, `${path}.retryDelay`, { fallback: DEFAULT_LOCK_RETRY_DELAY }),
    resyncDelay: checkDuration(lock.resyncDelay, `${path}.resyncDelay`, { fallback: DEFAULT_RESYNC_DELAY, allowZero: true }),
  };
}

/** Checks the URL form. The message never repeats the URL: it may hold a password. */
export function validateRedisUrl(url: unknown, path: string): string {
  let parsed: URL | undefined;
  try {
    parsed = typeof url === 'string' ? new URL(url) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!parsed || (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:')) {
    throw new TokenRefreshConfigError(`${path}.url`, `${path}.url must be a redis:// or rediss:// URL`);
  }
  return url as string;
}
