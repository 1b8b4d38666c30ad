import { randomUUID } from 'node:crypto';
import { type Redis } from 'ioredis';
import { compareTokenOrder, type TokenOrder } from '../core/tokens';
import { type TokenPair } from '../common/interfaces/token-pair.interface';
import { type StoredTokens, type TokenStore } from '../common/interfaces/token-store.interface';
import { TokenStoreConflictError } from '../common/token-refresh.errors';
import { Messages } from '../common/token-refresh.messages';
import { SAVE_IF_NOT_OLDER } from './redis-scripts';
import { RedisStoreBase } from './redis-store-base';
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
export class RedisTokenStore extends RedisStoreBase<RedisTokenStoreOptions, ResolvedStoreOptions, Listener> implements TokenStore {
  /** Tells this instance's own notices apart from other replicas'. */
  readonly #origin = randomUUID();
  /** The newest pair seen here (saved, attempted or loaded): what a reconnect writes back. */
  #newest: StoredTokens | undefined;
  #writeBackPending = false;
  #resyncing: Promise<void> | undefined;
  #resyncAgain = false;

  constructor(redis: Redis, options: RedisTokenStoreOptions);
  constructor(options: RedisTokenStoreOptions & RedisUrlOptions);
  constructor(
    redisOrOptions: Redis | (RedisTokenStoreOptions & RedisUrlOptions),
    maybeOptions?: RedisTokenStoreOptions,
  ) {
    super(redisOrOptions, maybeOptions, {
      className: RedisTokenStore.name,
      kind: 'token store',
      resolveOptions: resolveStoreOptions,
      channel: (keys) => keys.channel,
    });
  }

  /**
   * The stored pair, or null. A record that cannot be read (corrupt, or of a format version this
   * release does not know) throws TokenStoreUnreadableError: the manager treats it as absent.
   */
  async load(): Promise<StoredTokens | null> {
    const raw = await this.command('load', (redis) => redis.get(this.connection.keys.tokens));
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
    const written = await this.command('save', (redis) => this.#saveIfNotOlder(redis, json, order));
    if (written === 0) throw new TokenStoreConflictError();
  }

  /** Deletes the stored tokens (e.g. to force every replica to log in again). */
  async clear(): Promise<void> {
    this.#newest = undefined;
    await this.command('save', (redis) => redis.del(this.connection.keys.tokens));
  }

  // ---------------------------------------------------------------- commands

  async #saveIfNotOlder(redis: Redis, json: string, order: Required<TokenOrder>): Promise<number> {
    const keys = this.connection.keys;
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

  protected onNotice(message: string): void {
    const notice = parseAnnouncement(message);
    if (!notice || notice.origin === this.#origin) return;
    // A late or replayed notice: we already know tokens at least this new.
    if (this.#newest && compareTokenOrder(notice, orderOfStored(this.#newest)) <= 0) return;
    this.#requestResync(false);
  }

  /** Notices sent while we were not subscribed are lost: read the key instead. */
  protected override onSubscribed(): void {
    this.#requestResync(false);
  }

  /** A restarted Redis may have lost the tokens: write back the newest seen here, then reload. */
  protected override onConnectionRecovered(): void {
    this.#requestResync(true);
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
      } while (this.#resyncAgain && !this.closed);
    })().finally(() => {
      this.#resyncing = undefined;
    });
  }

  async #resync(): Promise<void> {
    if (this.closed) return;
    const newest = this.#newest;
    if (this.#writeBackPending && newest) {
      this.#writeBackPending = false;
      try {
        const { json, ...order } = serializeTokens(newest);
        const written = await this.command('save', (redis) => this.#saveIfNotOlder(redis, json, order));
        if (written === 1) this.logger.log(Messages.redisWroteBack(this.connection.label));
      } catch {
        this.#writeBackPending = true; // the next reconnect tries again
      }
    }
    if (this.listeners.size === 0) return;
    let tokens: StoredTokens | null;
    try {
      tokens = await this.load();
    } catch {
      return; // the next notice or reconnect tries again
    }
    if (!tokens) return;
    this.listeners.each((listener) => listener({ ...tokens }));
  }

}
