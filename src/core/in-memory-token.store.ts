import { type TokenPair } from '../common/interfaces/token-pair.interface';
import { type StoredTokens, type TokenStore } from '../common/interfaces/token-store.interface';
import { TokenStoreConflictError } from '../common/token-refresh.errors';
import { Redacted } from './redaction';
import { compareTokenOrder, orderOfPair } from './tokens';

/**
 * The default store: keeps the last saved pair for the life of the process. It keeps the
 * TokenStore contract like any shared store: a pair older than the one held is refused.
 */
export class InMemoryTokenStore extends Redacted implements TokenStore {
  #tokens: TokenPair | undefined;

  /** `initial` seeds the store, e.g. with tokens from a login, so autoStart can use them. */
  constructor(initial?: TokenPair) {
    super();
    this.#tokens = initial && { ...initial };
  }

  async load(): Promise<TokenPair | undefined> {
    return this.#tokens && { ...this.#tokens };
  }

  async save(tokens: StoredTokens): Promise<void> {
    if (this.#tokens && compareTokenOrder(orderOfPair(tokens), orderOfPair(this.#tokens)) < 0) throw new TokenStoreConflictError();
    this.#tokens = { ...tokens };
  }

  protected redactedSummary(): Record<string, unknown> {
    return { hasTokens: this.#tokens !== undefined };
  }
}
