import { Logger, type OnApplicationShutdown } from '@nestjs/common';
import { type Redis } from 'ioredis';
import { Redacted } from '../core/redaction';
import { TokenStoreError } from '../common/token-refresh.errors';
import { RedisChannelWatch } from './redis-channel-watch';
import { RedisConnectionHandle } from './redis-connection-handle';
import { type RedisKeys } from './redis-keys';
import { type RedisCoordinationOptions, type RedisUrlOptions, type ResolvedStoreOptions } from './redis.options';

export interface RedisStoreSpec<O extends RedisCoordinationOptions, R extends ResolvedStoreOptions> {
  className: string;
  /** Names the store in logs, followed by the quoted key prefix. */
  kind: string;
  resolveOptions(options: O | undefined, path: string): R;
  /** The pub/sub channel its saves announce on. */
  channel(keys: RedisKeys): string;
}

/**
 * What RedisTokenStore and RedisKeyedTokenStore share: the connection (the app's, or one
 * opened from a URL and closed here), the watch subscription, closing, and running a command.
 * A store says what a notice on its channel means (onNotice), and may act when the
 * subscription is (re)made or the connection comes back from a loss.
 */
export abstract class RedisStoreBase<O extends RedisCoordinationOptions, R extends ResolvedStoreOptions, L>
  extends Redacted
  implements OnApplicationShutdown
{
  readonly keyPrefix: string;
  protected readonly connection: RedisConnectionHandle<R>;
  protected readonly logger: Logger;
  protected readonly listeners: RedisChannelWatch<L>;
  #closed = false;

  protected constructor(redisOrOptions: Redis | (O & RedisUrlOptions), maybeOptions: O | undefined, spec: RedisStoreSpec<O, R>) {
    super();
    this.logger = new Logger(spec.className);
    this.connection = RedisConnectionHandle.open(redisOrOptions, maybeOptions, {
      path: 'tokenStore',
      className: spec.className,
      kind: spec.kind,
      resolveOptions: spec.resolveOptions,
      onRecovered: () => this.onConnectionRecovered(),
    });
    this.keyPrefix = this.connection.options.keyPrefix;
    this.listeners = new RedisChannelWatch<L>({
      connection: this.connection,
      channel: spec.channel(this.connection.keys),
      logger: this.logger,
      onMessage: (message) => this.onNotice(message),
      onSubscribed: () => this.onSubscribed(),
    });
  }

  /** Listens for tokens other replicas save (each store ignores its own saves). Returns the unwatch. */
  watch(listener: L): () => Promise<void> {
    if (this.#closed) return async () => undefined;
    return this.listeners.add(listener);
  }

  /** Closes what this store opened: the subscriber connection, and its own connection if it made one. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.listeners.close();
    await this.connection.close();
  }

  /** Nest calls this after every beforeApplicationShutdown, so the service has saved its last tokens. */
  async onApplicationShutdown(): Promise<void> {
    await this.close();
  }

  protected get closed(): boolean {
    return this.#closed;
  }

  /** Runs one command (see RedisConnectionHandle.runStoreCommand); a closed store runs none. */
  protected async command<T>(operation: TokenStoreError['operation'], command: (redis: Redis) => Promise<T>): Promise<T> {
    if (this.#closed) throw new TokenStoreError(operation);
    return this.connection.runStoreCommand(operation, this.logger, command);
  }

  /** A message on the store's channel (anything may be published there: check it). */
  protected abstract onNotice(message: string): void;

  /** Subscribed (again): notices published meanwhile were missed. */
  protected onSubscribed(): void {}

  /** The connection is back from a loss (a restarted Redis may have lost data). */
  protected onConnectionRecovered(): void {}

  protected redactedSummary(): Record<string, unknown> {
    return { keyPrefix: this.keyPrefix, connected: this.connection.connected, watching: this.listeners.size > 0 };
  }
}
