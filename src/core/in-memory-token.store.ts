import { type TokenPair } from '../interfaces/token-pair.interface';
import { type StoredTokens, type TokenStore } from '../interfaces/token-store.interface';
import { redactedInspect } from './redaction';

/** The default store: keeps the last saved pair for the life of the process. */
export class InMemoryTokenStore implements TokenStore {
  #tokens: StoredTokens | undefined;

  constructor(initial?: StoredTokens) {
    this.#tokens = initial;
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
