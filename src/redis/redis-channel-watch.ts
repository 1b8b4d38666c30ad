import { type Logger } from '@nestjs/common';
import { type Redis } from 'ioredis';
import { withTimeout } from '../core/deadline';
import { Messages } from '../common/token-refresh.messages';
import { ConnectionMonitor, FAIL_FAST_COMMANDS, quit, redisErrorCode } from './redis-connection';
import { type RedisConnectionHandle } from './redis-connection-handle';
import { type ResolvedStoreOptions } from './redis.options';

export interface ChannelWatchSpec {
  /** The store's connection: the subscriber is a duplicate of it. */
  connection: RedisConnectionHandle<ResolvedStoreOptions>;
  channel: string;
  logger: Logger;
  /** A message on the channel. */
  onMessage(message: string): void;
  /** Subscribed (again): messages published before this were missed. */
  onSubscribed(): void;
}

/**
 * A store's watch listeners and the pub/sub subscription that feeds them: opened with the first
 * listener, closed with the last. Resubscribes after every reconnect, then says so (onSubscribed),
 * so the store can make up for the messages it missed.
 */
export class RedisChannelWatch<L> {
  readonly #spec: ChannelWatchSpec;
  readonly #listeners = new Set<L>();
  #subscriber: Redis | undefined;
  #subscriberMonitor: ConnectionMonitor | undefined;
  #closed = false;

  constructor(spec: ChannelWatchSpec) {
    this.#spec = spec;
  }

  get size(): number {
    return this.#listeners.size;
  }

  /** Adds a listener (subscribing with the first); returns its unwatch. */
  add(listener: L): () => Promise<void> {
    if (this.#closed) return async () => undefined;
    this.#listeners.add(listener);
    this.#subscriber ??= this.#openSubscriber();
    return async () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) await this.#closeSubscriber();
    };
  }

  /** Calls `call` with each listener; one that throws is logged (never its error: it may quote a token) and the others still run. */
  each(call: (listener: L) => void): void {
    for (const listener of [...this.#listeners]) {
      try {
        call(listener);
      } catch {
        this.#spec.logger.warn(Messages.redisWatchListenerThrew(this.#spec.connection.label));
      }
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#listeners.clear();
    await this.#closeSubscriber();
  }

  #openSubscriber(): Redis {
    const { connection, channel, logger } = this.#spec;
    // Its own connection: a subscribed RESP2 connection can run nothing else. Subscribed on
    // every 'ready' by us, not by ioredis, so that the store hears of each (re)subscription.
    const subscriber = connection.redis.duplicate({ ...FAIL_FAST_COMMANDS, lazyConnect: false, autoResubscribe: false });
    this.#subscriberMonitor = new ConnectionMonitor(subscriber, { logger, label: Messages.redisSubscriberLabel(connection.label) });
    subscriber.on('ready', () => void this.#subscribe(subscriber));
    subscriber.on('message', (from: string, message: string) => {
      if (from === channel) this.#spec.onMessage(message);
    });
    return subscriber;
  }

  async #subscribe(subscriber: Redis): Promise<void> {
    const { connection, channel, logger } = this.#spec;
    try {
      await withTimeout(subscriber.subscribe(channel), connection.options.commandTimeout);
    } catch (error) {
      if (this.#subscriber !== subscriber) return;
      logger.warn(Messages.redisSubscribeFailed(connection.label, redisErrorCode(error)));
      subscriber.disconnect(true);
      return;
    }
    if (this.#subscriber === subscriber) this.#spec.onSubscribed();
  }

  async #closeSubscriber(): Promise<void> {
    const subscriber = this.#subscriber;
    this.#subscriber = undefined;
    this.#subscriberMonitor?.dispose();
    this.#subscriberMonitor = undefined;
    if (subscriber) {
      subscriber.removeAllListeners('message');
      subscriber.removeAllListeners('ready');
      // Errors during the close must still have a listener, or ioredis prints them.
      subscriber.on('error', () => undefined);
      await quit(subscriber, this.#spec.connection.options.commandTimeout);
    }
  }
}
