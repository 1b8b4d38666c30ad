import { type Logger } from '@nestjs/common';
import { type Redis } from 'ioredis';
import { withTimeout } from '../core/deadline';
import { TokenRefreshConfigError, TokenStoreError } from '../common/token-refresh.errors';
import { Messages } from '../common/token-refresh.messages';
import { ConnectionMonitor, createRedisConnection, isRedisClient, quit, RedisCommandError, redisErrorCode } from './redis-connection';
import { type RedisKeys, redisKeys } from './redis-keys';
import { type RedisCoordinationOptions, type RedisUrlOptions, type ResolvedStoreOptions, validateRedisUrl } from './redis.options';

/** How a RedisTokenStore or RedisRefreshLock reads its "connection or URL" constructor arguments. */
export interface RedisConnectionSpec<O extends RedisCoordinationOptions, R extends ResolvedStoreOptions> {
  /** The option path in error messages: `tokenStore` or `lock`. */
  path: string;
  /** The class being built, for the message that says how to build it. */
  className: string;
  /** Names the user of the connection in logs, followed by the quoted key prefix: `token store`, `refresh lock`. */
  kind: string;
  resolveOptions(options: O | undefined, path: string): R;
  /** Called when the connection is ready again after it was lost (not on the first connect). */
  onRecovered?: () => void;
}

/**
 * What a RedisTokenStore and a RedisRefreshLock share: their connection (the app's, or one
 * opened here from a URL and closed here), checked options, key names and connection state,
 * and the one way to run a command on it.
 */
export class RedisConnectionHandle<R extends ResolvedStoreOptions> {
  readonly redis: Redis;
  readonly options: R;
  readonly keys: RedisKeys;
  /** Names the user of the connection in logs, e.g. `token store "myapp:crm"`. */
  readonly label: string;
  readonly #ownsConnection: boolean;
  readonly #monitor: ConnectionMonitor;
  #closing: Promise<void> | undefined;

  /**
   * `(redis, options)` adopts the app's connection; `({ url, ...options })` opens one with the
   * fail-fast options. Options are checked before any connection is opened.
   */
  static open<O extends RedisCoordinationOptions, R extends ResolvedStoreOptions>(
    redisOrOptions: Redis | (O & RedisUrlOptions),
    maybeOptions: O | undefined,
    spec: RedisConnectionSpec<O, R>,
  ): RedisConnectionHandle<R> {
    const byUrl = !isRedisClient(redisOrOptions);
    // Nest builds a class given as an option with no arguments: say what to pass instead.
    if (byUrl && (redisOrOptions === null || typeof redisOrOptions !== 'object')) {
      const { className: name, path } = spec;
      throw new TokenRefreshConfigError(
        path,
        `${name} needs a connection or a URL: pass ${path}: new ${name}(redis, { keyPrefix }) or new ${name}({ url, keyPrefix }), not the class`,
      );
    }
    const options = spec.resolveOptions(byUrl ? (redisOrOptions as O & RedisUrlOptions) : maybeOptions, spec.path);
    const label = Messages.redisLabel(spec.kind, options.keyPrefix);
    if (!byUrl) return new RedisConnectionHandle(redisOrOptions as Redis, false, options, label, spec.onRecovered);
    const { url, redisOptions } = redisOrOptions as RedisUrlOptions;
    const redis = createRedisConnection(validateRedisUrl(url, spec.path), redisOptions, label);
    return new RedisConnectionHandle(redis, true, options, label, spec.onRecovered);
  }

  private constructor(redis: Redis, ownsConnection: boolean, options: R, label: string, onRecovered?: () => void) {
    this.redis = redis;
    this.#ownsConnection = ownsConnection;
    this.options = options;
    this.keys = redisKeys(options.keyPrefix);
    this.label = label;
    this.#monitor = new ConnectionMonitor(redis, { onRecovered });
  }

  get connected(): boolean {
    return this.#monitor.isReady;
  }

  /** ms since the connection came back from its last loss; undefined if it never dropped. */
  msSinceRecovery(): number | undefined {
    return this.#monitor.msSinceRecovery();
  }

  /**
   * Runs one command: waits for the first connect only, bounds it by commandTimeout, and fails
   * with a RedisCommandError that carries the failure's code and nothing else (an ioredis error
   * can hold the command's arguments, and ours include tokens). A result that arrives after the
   * timeout goes to `onLate`.
   */
  async run<T>(command: (redis: Redis) => Promise<T>, onLate?: (value: T) => void): Promise<T> {
    const timeout = this.options.commandTimeout;
    try {
      await this.#monitor.ensureReady(timeout);
      return await withTimeout(command(this.redis), timeout, onLate);
    } catch (error) {
      throw new RedisCommandError(redisErrorCode(error));
    }
  }

  /**
   * A store's command (see run): any failure becomes a TokenStoreError for `operation`, its code
   * logged at debug level.
   */
  async runStoreCommand<T>(operation: TokenStoreError['operation'], logger: Logger, command: (redis: Redis) => Promise<T>): Promise<T> {
    try {
      return await this.run(command);
    } catch (error) {
      logger.debug(Messages.redisCommandFailed(this.label, operation, redisErrorCode(error)));
      throw new TokenStoreError(operation);
    }
  }

  /** Stops following the connection, and closes it if it was opened here (the app closes its own). */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#monitor.dispose();
    if (this.#ownsConnection) await quit(this.redis, this.options.commandTimeout);
  }
}
