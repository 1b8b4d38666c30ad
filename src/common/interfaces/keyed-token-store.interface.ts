import { type TokenPair } from './token-pair.interface';
import { type StoredTokens } from './token-store.interface';

/**
 * Persists the tokens of a keyed registration: one pair per key (a user, a tenant). The same
 * contract as TokenStore, per key: save() comes before the new pair replaces the old one in
 * memory, and a store shared by replicas refuses (TokenStoreConflictError) a pair of a lower
 * version than the one it holds.
 */
export interface KeyedTokenStore {
  load(key: string): Promise<TokenPair | null | undefined>;
  save(key: string, tokens: StoredTokens): Promise<void>;
  /** Forgets the key's tokens (the user disconnected). Deleting an absent key is not an error. */
  delete(key: string): Promise<void>;
  /**
   * Optional: tokens saved by another process. Returns an unsubscribe function. The service
   * adopts a pair when it is newer than the one it holds for that key.
   */
  watch?(listener: (key: string, tokens: TokenPair) => void): () => void | Promise<void>;
  /**
   * Optional: keys whose refresh is due before `before` (their saved `refreshAt`), at most
   * `limit` of them. With it, the service can refresh keys it does not hold in memory: after
   * a restart, or when `maxKeysInMemory` evicted them.
   */
  dueKeys?(before: Date, limit: number): Promise<string[]>;
}
