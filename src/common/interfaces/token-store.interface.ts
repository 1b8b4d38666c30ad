import { type TokenPair } from './token-pair.interface';

/** Tokens as stores receive them: absolute expiry, so they survive a restart. */
export interface StoredTokens extends TokenPair {
  accessToken: string;
  tokenType: string;
  expiresAt: Date;
  /** When they were obtained: keep it; it breaks a tie between two writers of one version. */
  issuedAt: Date;
  /** Incremented with every new pair of the credential: keep it, and never replace a pair of a higher version. */
  version: number;
  /** When the service plans to refresh this pair: a store may index it to find due keys (see KeyedTokenStore.dueKeys). */
  refreshAt?: Date;
}

/**
 * Persists tokens. save() is called with every new pair before it replaces the old one in
 * memory, so a rotated refresh token survives a crash.
 */
export interface TokenStore {
  load(): Promise<TokenPair | null | undefined>;
  save(tokens: StoredTokens): Promise<void>;
  /**
   * Optional: tokens saved by another process. The service adopts them when they are newer
   * than its own (used by cluster mode to spread a rotation at once).
   * Returns an unsubscribe function.
   */
  watch?(listener: (tokens: TokenPair) => void): () => void | Promise<void>;
}
