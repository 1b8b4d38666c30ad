import { type KeyedTokenStore } from '../common/interfaces/keyed-token-store.interface';
import { type TokenPair } from '../common/interfaces/token-pair.interface';
import { type StoredTokens, type TokenStore } from '../common/interfaces/token-store.interface';
import { TokenStoreConflictError } from '../common/token-refresh.errors';
import { Redacted } from './redaction';
import { compareTokenOrder, orderOfPair } from './tokens';

/** The default keyed store: each key's last saved pair, for the life of the process. */
export class InMemoryKeyedTokenStore extends Redacted implements KeyedTokenStore {
  readonly #tokens = new Map<string, StoredTokens>();

  async load(key: string): Promise<TokenPair | undefined> {
    const tokens = this.#tokens.get(key);
    return tokens && { ...tokens };
  }

  async save(key: string, tokens: StoredTokens): Promise<void> {
    const held = this.#tokens.get(key);
    if (held && compareTokenOrder(orderOfPair(tokens), orderOfPair(held)) < 0) throw new TokenStoreConflictError();
    this.#tokens.set(key, { ...tokens });
  }

  async delete(key: string): Promise<void> {
    this.#tokens.delete(key);
  }

  get size(): number {
    return this.#tokens.size;
  }

  protected redactedSummary(): Record<string, unknown> {
    return { keys: this.#tokens.size };
  }
}

/** The key of the one credential of a single-credential registration. */
export const SINGLE_KEY = '';

/** A single registration's TokenStore seen as a keyed store with one key. */
export function asKeyedStore(store: TokenStore): KeyedTokenStore {
  return new SingleKeyStore(store);
}

class SingleKeyStore implements KeyedTokenStore {
  constructor(private readonly store: TokenStore) {
    if (!store.watch) this.watch = undefined;
  }

  load(): Promise<TokenPair | null | undefined> {
    return this.store.load();
  }

  save(_key: string, tokens: StoredTokens): Promise<void> {
    return this.store.save(tokens);
  }

  /** A single registration never deletes its one credential. */
  async delete(): Promise<void> {}

  watch?(listener: (key: string, tokens: TokenPair) => void): () => void | Promise<void> {
    return this.store.watch!((tokens) => listener(SINGLE_KEY, tokens));
  }
}
