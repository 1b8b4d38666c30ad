import { randomUUID } from 'node:crypto';
import { type Redis } from 'ioredis';
import { epochOf } from '../core/tokens';
import { type KeyedTokenStore } from '../common/interfaces/keyed-token-store.interface';
import { type TokenPair } from '../common/interfaces/token-pair.interface';
import { type StoredTokens } from '../common/interfaces/token-store.interface';
import { TokenStoreConflictError, TokenValidationError } from '../common/token-refresh.errors';
import { decodeKeyPart, encodeKeyPart } from './redis-keys';
import { CLAIM_DUE_KEYS, DELETE_KEYED, SAVE_KEYED_IF_NOT_OLDER } from './redis-scripts';
import { RedisStoreBase } from './redis-store-base';
import { encodeAnnouncement, parseAnnouncement, parseStoredTokens, serializeTokens } from './redis-token.serialization';
import {
  type RedisKeyedTokenStoreOptions,
  type RedisUrlOptions,
  type ResolvedKeyedStoreOptions,
  resolveKeyedStoreOptions,
} from './redis.options';

type KeyedListener = (key: string, tokens: TokenPair) => void;

/**
 * The tokens of a keyed registration (one pair per user or tenant) in Redis, shared by every
 * replica. Per key: a string `<prefix>:key:<escaped key>` holding the pair as JSON (the
 * format RedisTokenStore uses), and the escaped key in the sorted set `<prefix>:due`, scored by
 * its refresh instant, which dueKeys() reads. (Escaped there too: Redis stores UTF-8, which has
 * no room for a lone surrogate, and the escape is exact for every string.)
 *
 * - save() never replaces a key's stored pair when that is newer (compareTokenOrder, checked
 *   in Lua, as RedisTokenStore does), and writes the record, its due score and the notice in
 *   one step; a refused save throws TokenStoreConflictError. delete() removes record and score
 *   together.
 * - dueKeys() claims the keys it returns for a while (option dueClaim), so that replicas
 *   scanning at the same time get different keys: the due keys spread over the replicas. The
 *   lock (RedisRefreshLock, one per key) still decides who refreshes.
 * - watch() listeners hear of a key saved by another replica: the notice carries the key and
 *   the pair's order (never a token), and the store loads the key and hands the pair over. After
 *   a lost subscription nothing is replayed: a refresh re-reads the key under its lock, so a
 *   missed notice costs only an older (still valid) access token until then.
 *
 * `new RedisKeyedTokenStore(redis, { keyPrefix })` uses the app's connection and leaves it
 * open; `new RedisKeyedTokenStore({ url, keyPrefix })` opens its own and closes it on shutdown.
 */
export class RedisKeyedTokenStore
  extends RedisStoreBase<RedisKeyedTokenStoreOptions, ResolvedKeyedStoreOptions, KeyedListener>
  implements KeyedTokenStore
{
  /** Tells this instance's own notices apart from other replicas'. */
  readonly #origin = randomUUID();
  /** Keys being loaded after a notice: true when another notice for the key came meanwhile. */
  readonly #reloading = new Map<string, boolean>();

  constructor(redis: Redis, options: RedisKeyedTokenStoreOptions);
  constructor(options: RedisKeyedTokenStoreOptions & RedisUrlOptions);
  constructor(
    redisOrOptions: Redis | (RedisKeyedTokenStoreOptions & RedisUrlOptions),
    maybeOptions?: RedisKeyedTokenStoreOptions,
  ) {
    // After a lost subscription, notices missed meanwhile are not made up for (no onSubscribed):
    // which keys the service holds is not known here, and reloading every key would hit a Redis
    // that has just come back with all of them. The service re-reads a key under its lock
    // before refreshing it. Nor is anything written back after a reconnect: the store keeps no
    // copy of every key's tokens.
    super(redisOrOptions, maybeOptions, {
      className: RedisKeyedTokenStore.name,
      kind: 'keyed token store',
      resolveOptions: resolveKeyedStoreOptions,
      channel: (keys) => keys.keyedChannel,
    });
  }

  /**
   * The key's stored pair, or null. A record that cannot be read (corrupt, or of a format version
   * this release does not know) throws TokenStoreUnreadableError: the service treats it as absent,
   * and the next save replaces it.
   */
  async load(key: string): Promise<StoredTokens | null> {
    const record = this.connection.keys.record(checkKey(key));
    const raw = await this.command('load', (redis) => redis.get(record));
    return raw === null ? null : parseStoredTokens(raw);
  }

  /**
   * Saves the key's pair and its refresh instant (`refreshAt`, else `expiresAt`) in the due index,
   * unless the stored pair is newer (see compareTokenOrder): then throws TokenStoreConflictError.
   */
  async save(key: string, tokens: StoredTokens): Promise<void> {
    const keys = this.connection.keys;
    const record = keys.record(checkKey(key));
    const { json, version, issuedAt, expiresAt } = serializeTokens(tokens);
    const dueAt = tokens.refreshAt === undefined ? expiresAt : epochOf(tokens.refreshAt);
    if (dueAt === undefined) throw new TokenValidationError('refreshAt', 'tokens to store need refreshAt, when given, as a valid Date');
    const notice = encodeAnnouncement({ version, issuedAt, expiresAt, origin: this.#origin, key });
    const written = await this.command(
      'save',
      async (redis) =>
        (await redis.eval(
          SAVE_KEYED_IF_NOT_OLDER,
          2,
          record,
          keys.due,
          json,
          String(version),
          String(issuedAt),
          String(expiresAt),
          keys.keyedChannel,
          notice,
          encodeKeyPart(key),
          String(dueAt),
        )) as number,
    );
    if (written === 0) throw new TokenStoreConflictError();
  }

  /** Forgets the key: its record and its place in the due index, together. Deleting an absent key is no error. */
  async delete(key: string): Promise<void> {
    const keys = this.connection.keys;
    const record = keys.record(checkKey(key));
    await this.command('delete', (redis) => redis.eval(DELETE_KEYED, 2, record, keys.due, encodeKeyPart(key)));
  }

  /**
   * Keys whose refresh instant is before `before`, earliest first, at most `limit`. Each is claimed
   * for this replica (see the option dueClaim): another replica's dueKeys() skips it until the
   * claim ends, unless a save sets its refresh instant again first.
   */
  async dueKeys(before: Date, limit: number): Promise<string[]> {
    const until = epochOf(before);
    if (until === undefined) throw new TokenValidationError('before', 'dueKeys needs `before` as a valid Date');
    const count = Number.isFinite(limit) ? Math.floor(limit) : 0;
    if (count <= 0) return [];
    const { keys, options } = this.connection;
    const claim = String(options.dueClaim);
    const parts = await this.command(
      'load',
      async (redis) => (await redis.eval(CLAIM_DUE_KEYS, 1, keys.due, String(until), String(count), String(Date.now()), claim)) as string[],
    );
    return parts.map(decodeKeyPart);
  }

  protected onNotice(message: string): void {
    const notice = parseAnnouncement(message);
    if (!notice || notice.key === undefined || notice.origin === this.#origin) return;
    this.#reload(notice.key);
  }

  /** Loads a key another replica saved and hands it to the listeners; one load per key at a time, and one more if notified meanwhile. */
  #reload(key: string): void {
    if (this.#reloading.has(key)) {
      this.#reloading.set(key, true);
      return;
    }
    this.#reloading.set(key, false);
    void (async () => {
      do {
        this.#reloading.set(key, false);
        // Unreadable, or Redis down: the service re-reads the key under its lock before refreshing.
        const tokens = await this.load(key).catch(() => null);
        if (tokens && !this.closed) this.listeners.each((listener) => listener(key, { ...tokens }));
      } while (this.#reloading.get(key) === true && !this.closed);
    })().finally(() => this.#reloading.delete(key));
  }
}

/** The engine checks keys; this guards direct use of the store. */
function checkKey(key: unknown): string {
  if (typeof key !== 'string' || key.length === 0) throw new TokenValidationError('key', 'a key must be a non-empty string');
  return key;
}
