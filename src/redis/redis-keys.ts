import { TokenRefreshConfigError } from '../common/token-refresh.errors';

/** The Redis names one registration uses. Everything hangs off one prefix, so two never collide. */
export interface RedisKeys {
  /** String key: the token pair as JSON (a single registration). */
  readonly tokens: string;
  /** String key: the refresh lock of a single registration, holding the current owner's random id. */
  readonly lock: string;
  /** Pub/sub channel: "tokens changed" notices (expiry and origin only, never a token). */
  readonly channel: string;
  /** Keyed: sorted set of the keys, each scored by when it is due for a refresh (epoch ms). */
  readonly due: string;
  /** Keyed: pub/sub channel of "a key's tokens changed" notices (the key and the pair's order, never a token). */
  readonly keyedChannel: string;
  /** Keyed: string key holding one key's record (the same JSON as `tokens`). */
  record(key: string): string;
  /** The refresh lock: the registration's with no key, else one per key. */
  lockOf(key: string | undefined): string;
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
    due: `${keyPrefix}:due`,
    keyedChannel: `${keyPrefix}:keys:saved`,
    record: (key: string) => `${keyPrefix}:key:${encodeKeyPart(key)}`,
    lockOf: (key: string | undefined) => (key === undefined ? `${keyPrefix}:lock` : `${keyPrefix}:lock:${encodeKeyPart(key)}`),
  });
}

/**
 * Characters of a user's key that go into a Redis name as they are. Everything else is
 * escaped: `:` (so a key cannot reach into another part of the prefix scheme), `{` and `}` (so
 * only the prefix can carry a Redis Cluster hash tag), `*?[]` (SCAN and KEYS patterns), `%` (the
 * escape itself), whitespace, control and non-ASCII characters.
 */
const UNSAFE = /[^A-Za-z0-9._~@-]/g;

/**
 * A user's key as one segment of a Redis name: `user:42` becomes `user%3A42`. Each UTF-16 code
 * unit outside the safe set becomes `%XX` (below 0x100) or `%uXXXX`, so any string, even one with
 * a lone surrogate, has exactly one encoding and decodeKeyPart gives it back.
 */
export function encodeKeyPart(key: string): string {
  return key.replace(UNSAFE, (unit) => {
    const code = unit.charCodeAt(0);
    return code < 0x100 ? `%${hex(code, 2)}` : `%u${hex(code, 4)}`;
  });
}

export function decodeKeyPart(part: string): string {
  return part.replace(/%u([0-9A-F]{4})|%([0-9A-F]{2})/g, (_match, wide: string | undefined, narrow: string | undefined) =>
    String.fromCharCode(parseInt(wide ?? narrow!, 16)),
  );
}

function hex(code: number, digits: number): string {
  return code.toString(16).toUpperCase().padStart(digits, '0');
}
