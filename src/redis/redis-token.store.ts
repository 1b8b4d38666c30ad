import { Logger, type OnApplicationShutdown } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { type Redis } from 'ioredis';
import { Redacted } from '../core/redaction';
import { compareTokenOrder, type TokenOrder } from '../core/tokens';
import { type TokenPair } from '../common/interfaces/token-pair.interface';
import { type StoredTokens, type TokenStore } from '../common/interfaces/token-store.interface';
import { TokenStoreConflictError, TokenStoreError } from '../common/token-refresh.errors';
import { Messages } from '../common/token-refresh.messages';
import { RedisChannelWatch } from './redis-channel-watch';
import { RedisConnectionHandle } from './redis-connection-handle';
import { SAVE_IF_NOT_OLDER } from './redis-scripts';
import {
  encodeAnnouncement,
  orderOfStored,
  parseAnnouncement,
  parseStoredTokens,
  serializeTokens,
} from './redis-token.serialization';
import {
  type RedisTokenStoreOptions,
  type RedisUrlOptions,
  type ResolvedStoreOptions,
  resolveStoreOptions,
} from './redis.options';

type Listener = (tokens: TokenPair) => void;

/**
 * Tokens in Redis, shared by every replica of an app: one JSON value per key prefix.
 *
 * - save() never replaces stored tokens that are newer (compareTokenOrder, checked in Lua):
 *   a higher version, then obtained later (issuedAt), then expiring later. So a new login
 *   replaces an older pair that expires later, and a late or replayed save never wins. It
 *   announces the change on a pub/sub channel: a notice with the order only, never a token.
 * - watch() listeners hear about tokens saved by other replicas at once: on a notice, the
 *   store loads the key and hands the pair over (the manager adopts it only if newer).
 * - After a lost connection comes back, it writes back the newest pair it has seen (a
 *   restarted Redis may have lost it; the Lua check keeps whichever is newer), then reloads
 *   and tells the listeners, since notices sent meanwhile were missed.
 *
 * `new RedisTokenStore(redis, { keyPrefix })` uses the app's connection and leaves it open;
 * `new RedisTokenStore({ url, keyPrefix })` opens its own and closes it on shutdown.
 */
export class RedisTokenStore extends Redacted implements TokenStore, OnApplicationShutdown {
  readonly keyPrefix: string;
  readonly #connection: RedisConnectionHandle<ResolvedStoreOptions>;
  readonly #logger = new Logger(RedisTokenStore.name);
  /** Tells this instance's own notices apart from other replicas'. */
  readonly #origin = randomUUID();
  readonly #watch: RedisChannelWatch<Listener>;
  /** The newest pair seen here (saved, attempted or loaded): what a reconnect writes back. */
  #newest: StoredTokens | undefined;
  #writeBackPending = false;
  #resyncing: Promise<void> | undefined;
  #resyncAgain = false;
  #closed = false;

  constructor(redis: Redis, options: RedisTokenStoreOptions);
  constructor(options: RedisTokenStoreOptions & RedisUrlOptions);
  constructor(
    redisOrOptions: Redis | (RedisTokenStoreOptions & RedisUrlOptions),
    maybeOptions?: RedisTokenStoreOptions,
  ) {
    super();
    this.#connection = RedisConnectionHandle.open(redisOrOptions, maybeOptions, {
      path: 'tokenStore',
      className: RedisTokenStore.name,
      kind: 'token store',
      resolveOptions: resolveStoreOptions,
      onRecovered: () => this.#requestResync(true),
    });
    this.keyPrefix = this.#connection.options.keyPrefix;
    this.#watch = new RedisChannelWatch<Listener>({
      connection: this.#connection,
      channel: this.#connection.keys.channel,
      logger: this.#logger,
      onMessage: (message) => this.#onNotice(message),
      // Notices sent while we were not subscribed are lost: read the key instead.
      onSubscribed: () => this.#requestResync(false),
    });
  }

  /**
   * The stored pair, or null. A record that cannot be read (corrupt, or of a format version this
   * release does not know) throws TokenStoreUnreadableError: the manager treats it as absent.
   */
  async load(): Promise<StoredTokens | null> {
    const raw = await this.#command('load', (redis) => redis.get(this.#connection.keys.tokens));
    if (raw === null) return null;
    const tokens = parseStoredTokens(raw);
    this.#remember(tokens);
    return tokens;
  }

  /** Saves unless the stored pair is newer (see compareTokenOrder); then throws TokenStoreConflictError. */
  async save(tokens: StoredTokens): Promise<void> {
    const { json, ...order } = serializeTokens(tokens);
    // Remembered even if the save fails: a reconnect writes it back.
    this.#remember(tokens);
    const written = await this.#command('save', (redis) => this.#saveIfNotOlder(redis, json, order));
    if (written === 0) throw new TokenStoreConflictError();
  }

  /** Deletes the stored tokens (e.g. to force every replica to log in again). */
  async clear(): Promise<void> {
    this.#newest = undefined;
    await this.#command('save', (redis) => redis.del(this.#connection.keys.tokens));
  }

  watch(listener: Listener): () => Promise<void> {
    if (this.#closed) return async () => undefined;
    return this.#watch.add(listener);
  }

  /** Closes what this store opened: the subscriber connection, and its own connection if it made one. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#watch.close();
    await this.#connection.close();
  }

  /** Nest calls this after every beforeApplicationShutdown, so the service has saved its last tokens. */
  async onApplicationShutdown(): Promise<void> {
    await this.close();
  }

  // ---------------------------------------------------------------- commands

  /** Runs one command (see RedisConnectionHandle.runStoreCommand); a closed store runs none. */
  async #command<T>(operation: 'load' | 'save', command: (redis: Redis) => Promise<T>): Promise<T> {
    if (this.#closed) throw new TokenStoreError(operation);
    return this.#connection.runStoreCommand(operation, this.#logger, command);
  }

  async #saveIfNotOlder(redis: Redis, json: string, order: Required<TokenOrder>): Promise<number> {
    const keys = this.#connection.keys;
    const notice = encodeAnnouncement({ ...order, origin: this.#origin });
    const { version, issuedAt, expiresAt } = order;
    return (await redis.eval(
      SAVE_IF_NOT_OLDER,
      1,
      keys.tokens,
      json,
      String(version),
      String(issuedAt),
      String(expiresAt),
      keys.channel,
      notice,
    )) as number;
  }

  /** Same order as the Lua: what a reconnect writes back must be what the key would keep. */
  #remember(tokens: StoredTokens): void {
    if (!this.#newest || compareTokenOrder(orderOfStored(tokens), orderOfStored(this.#newest)) > 0) this.#newest = { ...tokens };
  }

  // ---------------------------------------------------------------- watch

  #onNotice(message: string): void {
    const notice = parseAnnouncement(message);
    if (!notice || notice.origin === this.#origin) return;
    // A late or replayed notice: we already know tokens at least this new.
    if (this.#newest && compareTokenOrder(notice, orderOfStored(this.#newest)) <= 0) return;
    this.#requestResync(false);
  }

  /** Coalesces resyncs: one runs at a time, and one more follows if asked for meanwhile. */
  #requestResync(writeBack: boolean): void {
    if (writeBack) this.#writeBackPending = true;
    if (this.#resyncing) {
      this.#resyncAgain = true;
      return;
    }
    this.#resyncing = (async () => {
      do {
        this.#resyncAgain = false;
        await this.#resync();
      } while (this.#resyncAgain && !this.#closed);
    })().finally(() => {
      this.#resyncing = undefined;
    });
  }

  async #resync(): Promise<void> {
    if (this.#closed) return;
    const newest = this.#newest;
    if (this.#writeBackPending && newest) {
      this.#writeBackPending = false;
      try {
        const { json, ...order } = serializeTokens(newest);
        const written = await this.#command('save', (redis) => this.#saveIfNotOlder(redis, json, order));
        if (written === 1) this.#logger.log(Messages.redisWroteBack(this.#connection.label));
      } catch {
        this.#writeBackPending = true; // the next reconnect tries again
      }
    }
    if (this.#watch.size === 0) return;
    let tokens: StoredTokens | null;
    try {
      tokens = await this.load();
    } catch {
      return; // the next notice or reconnect tries again
    }
    if (!tokens) return;
    this.#watch.each((listener) => listener({ ...tokens }));
  }

  protected redactedSummary(): Record<string, unknown> {
    return { keyPrefix: this.keyPrefix, connected: this.#connection.connected, watching: this.#watch.size > 0 };
  }
}
