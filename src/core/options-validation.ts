import { type TokenPair } from '../common/interfaces/token-pair.interface';
import {
  DEFAULT_CHECK_INTERVAL,
  DEFAULT_LOCK_WAIT_TIMEOUT,
  DEFAULT_REFRESH_THRESHOLD,
  DEFAULT_REGISTRATION_NAME,
  DEFAULT_RETRY,
  DEFAULT_SHUTDOWN_TIMEOUT,
  DEFAULT_STORE_TIMEOUT,
  MIN_REFRESH_THRESHOLD,
} from '../common/token-refresh.constants';
import { TokenRefreshConfigError, type TokenRefreshError } from '../common/token-refresh.errors';
import { checkDuration } from './durations';

export interface RetryOptions {
  /** Transient failures in a row before the episode counts as failed. Default Infinity. */
  maxAttempts?: number;
  /** First backoff ceiling in ms. Default 1000. */
  initialDelay?: number;
  /** Largest backoff in ms. Default 120000. */
  maxDelay?: number;
}

/** How a registration refreshes: the options the manager itself runs on (every duration in ms). */
export interface RefreshPolicyOptions {
  /** ms before expiry to refresh. Default 300000; at least 60000. */
  refreshThreshold?: number;
  /** ms between safety checks. Default 60000. */
  checkInterval?: number;
  /** Called once per failed episode; true asks for `reauthenticate`. A keyed registration passes the key. */
  onRefreshFail?: (error: TokenRefreshError, key?: string) => boolean | Promise<boolean>;
  /** Obtains a fresh pair from scratch (e.g. client credentials) after onRefreshFail says true. A keyed registration passes the key. */
  reauthenticate?: (key?: string) => Promise<TokenPair>;
  retry?: RetryOptions;
  /** ms stop() waits for a refresh in flight before aborting it. Default 5000. */
  shutdownTimeout?: number;
  /** At bootstrap, load tokens from the store and start if there are any. Default false. */
  autoStart?: boolean;
  /** ms a replica waits for the refresh lock before serving its current token and trying later. Default 10000. */
  lockWaitTimeout?: number;
  /**
   * ms a token store call (load, save) may take; a longer one counts as failed: new tokens keep
   * serving from memory and the save is retried. Default 5000.
   */
  storeTimeout?: number;
  /** Keyed registrations: refreshes in flight at most; more wait in a queue ordered by expiry. Default 8. */
  maxConcurrentRefreshes?: number;
  /**
   * Keyed registrations: `ahead` (default) refreshes every key before it expires, in the
   * background; `lazy` refreshes a key only when it is used at or after its refresh time, for
   * fleets where most keys sit idle.
   */
  refreshMode?: RefreshMode;
  /** Keyed registrations: refresh a key at least this often (ms), used or not, for providers that expire idle refresh tokens. */
  keepAliveInterval?: number;
  /** Keyed registrations with a persistent store: keys held in memory at most; the least recently used are dropped and reloaded on use. */
  maxKeysInMemory?: number;
  /**
   * Revoke the refresh token at the authorization server (RFC 7009) when it is no longer
   * wanted: at stop() for a single registration, at delete(key) for a keyed one. Needs a client
   * that can revoke (the built-in one can). A failure is reported, and never holds up the stop
   * beyond shutdownTimeout. Default false.
   */
  revokeRefreshToken?: boolean;
}

export type RefreshMode = 'ahead' | 'lazy';

export const DEFAULT_MAX_CONCURRENT_REFRESHES = 8;

/** The settings the manager runs on: every default applied, every value checked. */
export interface ResolvedSettings {
  name: string;
  refreshThreshold: number;
  checkInterval: number;
  shutdownTimeout: number;
  lockWaitTimeout: number;
  storeTimeout: number;
  autoStart: boolean;
  retry: { maxAttempts: number; initialDelay: number; maxDelay: number };
  maxConcurrentRefreshes: number;
  refreshMode: RefreshMode;
  keepAliveInterval: number | undefined;
  maxKeysInMemory: number | undefined;
  revokeRefreshToken: boolean;
}

/**
 * Checks options at bootstrap so a typo fails the app's start with the option's name,
 * rather than crashing (or silently clamping) hours later in a timer.
 */
export function resolveSettings(
  options: RefreshPolicyOptions | undefined,
  name: string = DEFAULT_REGISTRATION_NAME,
): ResolvedSettings {
  if (options === null || typeof options !== 'object') {
    throw new TokenRefreshConfigError('options', 'TokenRefreshModule options must be an object');
  }
  if (typeof name !== 'string' || !/^[\w.-]{1,64}$/.test(name)) {
    throw new TokenRefreshConfigError('name', 'name must be 1-64 characters of letters, digits, _, . or -');
  }
  const refreshThreshold = checkDuration(options.refreshThreshold, 'refreshThreshold', { fallback: DEFAULT_REFRESH_THRESHOLD });
  if (refreshThreshold < MIN_REFRESH_THRESHOLD) {
    throw new TokenRefreshConfigError(
      'refreshThreshold',
      `refreshThreshold must be at least ${MIN_REFRESH_THRESHOLD} ms (1 minute); got ${refreshThreshold}`,
    );
  }
  const checkInterval = checkDuration(options.checkInterval, 'checkInterval', { fallback: DEFAULT_CHECK_INTERVAL });
  const shutdownTimeout = checkDuration(options.shutdownTimeout, 'shutdownTimeout', { fallback: DEFAULT_SHUTDOWN_TIMEOUT, allowZero: true });
  const lockWaitTimeout = checkDuration(options.lockWaitTimeout, 'lockWaitTimeout', { fallback: DEFAULT_LOCK_WAIT_TIMEOUT, allowZero: true });
  const storeTimeout = checkDuration(options.storeTimeout, 'storeTimeout', { fallback: DEFAULT_STORE_TIMEOUT });

  const retry = options.retry ?? {};
  if (typeof retry !== 'object' || retry === null) {
    throw new TokenRefreshConfigError('retry', 'retry must be an object');
  }
  const maxAttempts = retry.maxAttempts ?? DEFAULT_RETRY.maxAttempts;
  if (!(maxAttempts === Infinity || (Number.isInteger(maxAttempts) && maxAttempts >= 1))) {
    throw new TokenRefreshConfigError('retry.maxAttempts', 'retry.maxAttempts must be a whole number >= 1, or Infinity');
  }
  const initialDelay = checkDuration(retry.initialDelay, 'retry.initialDelay', { fallback: DEFAULT_RETRY.initialDelay });
  const maxDelay = checkDuration(retry.maxDelay, 'retry.maxDelay', { fallback: DEFAULT_RETRY.maxDelay });
  if (maxDelay < initialDelay) {
    throw new TokenRefreshConfigError('retry.maxDelay', 'retry.maxDelay must be at least retry.initialDelay');
  }

  for (const key of ['onRefreshFail', 'reauthenticate'] as const) {
    if (options[key] !== undefined && typeof options[key] !== 'function') {
      throw new TokenRefreshConfigError(key, `${key} must be a function`);
    }
  }
  if (options.autoStart !== undefined && typeof options.autoStart !== 'boolean') {
    throw new TokenRefreshConfigError('autoStart', 'autoStart must be a boolean');
  }

  const maxConcurrentRefreshes = wholeNumber(options.maxConcurrentRefreshes, 'maxConcurrentRefreshes', DEFAULT_MAX_CONCURRENT_REFRESHES);
  const refreshMode = options.refreshMode ?? 'ahead';
  if (refreshMode !== 'ahead' && refreshMode !== 'lazy') {
    throw new TokenRefreshConfigError('refreshMode', "refreshMode must be 'ahead' or 'lazy'");
  }
  const keepAliveInterval =
    options.keepAliveInterval === undefined ? undefined : checkDuration(options.keepAliveInterval, 'keepAliveInterval', { fallback: 0 });
  const maxKeysInMemory = options.maxKeysInMemory === undefined ? undefined : wholeNumber(options.maxKeysInMemory, 'maxKeysInMemory', 0);
  if (options.revokeRefreshToken !== undefined && typeof options.revokeRefreshToken !== 'boolean') {
    throw new TokenRefreshConfigError('revokeRefreshToken', 'revokeRefreshToken must be a boolean');
  }

  return {
    name,
    refreshThreshold,
    checkInterval,
    shutdownTimeout,
    lockWaitTimeout,
    storeTimeout,
    autoStart: options.autoStart ?? false,
    retry: { maxAttempts, initialDelay, maxDelay },
    maxConcurrentRefreshes,
    refreshMode,
    keepAliveInterval,
    maxKeysInMemory,
    revokeRefreshToken: options.revokeRefreshToken ?? false,
  };
}

function wholeNumber(value: unknown, option: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new TokenRefreshConfigError(option, `${option} must be a whole number of at least 1; got ${typeof value === 'number' ? value : typeof value}`);
  }
  return value;
}

/** Checks a user-supplied collaborator has the methods we call, naming the option when not. */
export function assertShape<T>(value: unknown, option: string, methods: readonly string[]): T {
  const missing = methods.filter(
    (method) => typeof (value as Record<string, unknown> | null | undefined)?.[method] !== 'function',
  );
  if (value === null || typeof value !== 'object' || missing.length > 0) {
    throw new TokenRefreshConfigError(
      option,
      `${option} must be an object with ${methods.map((m) => `${m}()`).join(' and ')}; missing ${missing.join(', ') || 'object'}`,
    );
  }
  return value as T;
}
