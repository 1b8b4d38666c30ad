import { type TokenPair } from '../interfaces/token-pair.interface';
import { type StoredTokens, type TokenStore } from '../interfaces/token-store.interface';
import { redactedInspect } from './redaction';

/** The default store: keeps the last saved pair for the life of the process. */
export class InMemoryTokenStore implements TokenStore {
  #tokens: TokenPair | undefined;

  /** `initial` seeds the store, e.g. with tokens from a login, so autoStart can use them. */
  constructor(initial?: TokenPair) {
    this.#tokens = initial && { ...initial };
  }

  async load(): Promise<TokenPair | undefined> {
    return this.#tokens && { ...this.#tokens };
  }

  async save(tokens: StoredTokens): Promise<void> {
    this.#tokens = { ...tokens };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return redactedInspect('InMemoryTokenStore', { hasTokens: this.#tokens !== undefined });
  }

  toJSON(): object {
    return { hasTokens: this.#tokens !== undefined };
  }
}
