import { TokenRefreshConfigError } from '../common/token-refresh.errors';

/** The Redis names one registration uses. Everything hangs off one prefix, so two never collide. */
export interface RedisKeys {
  /** String key: the token pair as JSON. */
  readonly tokens: string;
  /** String key: the refresh lock, holding the current owner's random id. */
  readonly lock: string;
  /** Pub/sub channel: "tokens changed" notices (expiry and origin only, never a token). */
  readonly channel: string;
}

const MAX_PREFIX_LENGTH = 200;

/**
 * Checks a key prefix and returns it. A prefix is required: a shared default would let two
 * registrations (or two apps on one Redis) overwrite each other's refresh tokens.
 */
export function validateKeyPrefix(keyPrefix: unknown, option: string): string {
  if (typeof keyPrefix !== 'string' || keyPrefix.length === 0) {
    throw new TokenRefreshConfigError(option, `${option} is required: a non-empty string, one per registration (e.g. "myapp:token-refresh:crm")`);
  }
  if (keyPrefix.length > MAX_PREFIX_LENGTH) {
    throw new TokenRefreshConfigError(option, `${option} must be at most ${MAX_PREFIX_LENGTH} characters`);
  }
  // Whitespace and control characters make keys that redis-cli users cannot type or read.
  if (/[\s\p{Cc}]/u.test(keyPrefix)) {
    throw new TokenRefreshConfigError(option, `${option} must not contain whitespace or control characters`);
  }
  return keyPrefix;
}

export function redisKeys(keyPrefix: string): RedisKeys {
  return Object.freeze({
    tokens: `${keyPrefix}:tokens`,
    lock: `${keyPrefix}:lock`,
    channel: `${keyPrefix}:tokens:saved`,
  });
}
