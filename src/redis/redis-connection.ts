import { Logger } from '@nestjs/common';
import { Redis, type RedisOptions } from 'ioredis';
import { DeadlineExceededError, withTimeout } from '../core/deadline';
import { safeIdentifier } from '../core/error-classification';
import { Messages } from '../common/token-refresh.messages';

/**
 * Commands fail at once while Redis is down (no offline queue, no resending after a
 * reconnect) instead of queueing: a refresh lock granted late, after its caller gave up, or a
 * save replayed minutes later, is worse than an error the refresh manager backs off from.
 */
export const FAIL_FAST_COMMANDS: Readonly<RedisOptions> = Object.freeze({
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  autoResendUnfulfilledCommands: false,
});

/** Options for connections this package opens: fail-fast commands, quick reconnects. */
export const FAIL_FAST_REDIS_OPTIONS: Readonly<RedisOptions> = Object.freeze({
  ...FAIL_FAST_COMMANDS,
  connectTimeout: 5_000,
  // Reconnect quickly and keep trying: a replica must resync soon after Redis is back.
  retryStrategy: (times: number) => Math.min(times * 100, 1_000) + Math.floor(Math.random() * 100),
});

/**
 * A connection with the fail-fast options, for sharing between a RedisTokenStore and a
 * RedisRefreshLock (one connection per replica is enough). Connection errors are logged
 * through Nest's Logger, once per outage and by code only. The caller closes it.
 */
export function createRedisConnection(url: string, overrides: RedisOptions = {}, label = 'Redis'): Redis {
  const redis = new Redis(url, { ...FAIL_FAST_REDIS_OPTIONS, ...overrides });
  // Lives as long as the connection; it also keeps ioredis from printing "Unhandled error event".
  new ConnectionMonitor(redis, { logger: new Logger('RedisConnection'), label });
  return redis;
}

/** The part of an ioredis client the monitor needs (a fake in unit tests). */
export interface MonitoredConnection {
  readonly status: string;
  connect(): Promise<void>;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  off(event: string, listener: (...args: unknown[]) => void): unknown;
  once(event: string, listener: (...args: unknown[]) => void): unknown;
}

export interface ConnectionMonitorOptions {
  /** Called when the connection is ready again after it was lost (not on the first connect). */
  onRecovered?: () => void;
  /** Log connection errors (once per outage). Only for connections we own: an 'error' listener on the app's own client would hide its errors from the app. */
  logger?: Logger;
  label?: string;
}

/** Raised by ensureReady; never carries an ioredis error (those can hold command arguments). */
export class RedisUnavailableError extends Error {
  constructor(readonly reason: string) {
    super(`Redis unavailable (${reason})`);
    this.name = 'RedisUnavailableError';
  }
}

/** A command that failed, timed out or could not be sent, by code only (see redisErrorCode). */
export class RedisCommandError extends Error {
  constructor(readonly reason: string) {
    super(`Redis command failed (${reason})`);
    this.name = 'RedisCommandError';
  }
}

/**
 * Follows one connection: whether it is usable, whether it came back from a loss (and when),
 * so callers can fail fast while it is down and resync once it returns.
 */
export class ConnectionMonitor {
  readonly #redis: MonitoredConnection;
  readonly #handlers: Array<[string, (...args: unknown[]) => void]> = [];
  #everReady: boolean;
  #lost = false;
  #recoveredAt: number | undefined;
  #failing = false;

  constructor(redis: MonitoredConnection, options: ConnectionMonitorOptions = {}) {
    this.#redis = redis;
    this.#everReady = redis.status === 'ready';
    this.#listen('ready', () => {
      const recovered = this.#lost;
      this.#lost = false;
      this.#everReady = true;
      if (this.#failing) {
        this.#failing = false;
        options.logger?.log(Messages.redisConnectionRestored(options.label ?? 'Redis'));
      }
      if (recovered) {
        this.#recoveredAt = Date.now();
        options.onRecovered?.();
      }
    });
    this.#listen('close', () => {
      if (this.#everReady) this.#lost = true;
    });
    if (options.logger) {
      this.#listen('error', (error: unknown) => {
        if (this.#failing) return;
        this.#failing = true;
        options.logger?.warn(Messages.redisConnectionFailed(options.label ?? 'Redis', redisErrorCode(error)));
      });
    }
  }

  get isReady(): boolean {
    return this.#redis.status === 'ready';
  }

  /** ms since the connection came back from its last loss; undefined if it never dropped. */
  msSinceRecovery(now = Date.now()): number | undefined {
    return this.#recoveredAt === undefined ? undefined : now - this.#recoveredAt;
  }

  /**
   * Resolves when the connection can take a command. Only the very first connect is waited
   * for (up to timeoutMs); after that a connection that is not ready fails at once.
   */
  async ensureReady(timeoutMs: number): Promise<void> {
    const status = this.#redis.status;
    if (status === 'ready') return;
    if (this.#everReady || !['wait', 'connecting', 'connect'].includes(status)) {
      throw new RedisUnavailableError(status);
    }
    if (status === 'wait') this.#redis.connect().catch(() => undefined);
    let onReady!: () => void;
    let onClose!: () => void;
    const connected = new Promise<void>((resolve, reject) => {
      onReady = resolve;
      onClose = () => reject(new RedisUnavailableError('connect failed'));
      this.#redis.once('ready', onReady);
      this.#redis.once('close', onClose);
    });
    try {
      await withTimeout(connected, timeoutMs);
    } catch (error) {
      throw error instanceof DeadlineExceededError ? new RedisUnavailableError('connect timeout') : error;
    } finally {
      this.#redis.off('ready', onReady);
      this.#redis.off('close', onClose);
    }
  }

  dispose(): void {
    for (const [event, handler] of this.#handlers) this.#redis.off(event, handler);
    this.#handlers.length = 0;
  }

  #listen(event: string, handler: (...args: unknown[]) => void): void {
    this.#handlers.push([event, handler]);
    this.#redis.on(event, handler);
  }
}

/**
 * A short, safe description of a Redis failure for logs and error messages: a code such as
 * ECONNREFUSED, or the error's class name. Never its message or fields: ioredis errors can
 * carry the command's arguments, and ours include tokens.
 */
export function redisErrorCode(error: unknown): string {
  const code = safeIdentifier((error as { code?: unknown } | null)?.code);
  if (code !== undefined) return code;
  if (error instanceof RedisUnavailableError) return `unavailable: ${error.reason}`;
  if (error instanceof RedisCommandError) return error.reason;
  if (error instanceof DeadlineExceededError) return 'timeout';
  return safeIdentifier((error as { name?: unknown } | null)?.name) ?? 'unknown';
}

/** An ioredis client (or anything shaped like one), as opposed to an options object. */
export function isRedisClient(value: unknown): value is Redis {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as Redis).eval === 'function' &&
    typeof (value as Redis).duplicate === 'function'
  );
}

/** QUIT, bounded; a connection that does not answer is dropped. */
export async function quit(redis: Redis, timeoutMs: number): Promise<void> {
  if (redis.status === 'end') return;
  if (redis.status !== 'ready') {
    redis.disconnect();
    return;
  }
  try {
    await withTimeout(redis.quit(), timeoutMs);
  } catch {
    redis.disconnect();
  }
}
