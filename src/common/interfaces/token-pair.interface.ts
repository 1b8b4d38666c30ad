/**
 * What callers hand in (start, updateTokens, reauthenticate, a store's load) and what
 * stores receive. Mirrors the Go TokenPair, plus the fields real providers send.
 */
export interface TokenPair {
  accessToken: string;
  /** Optional: a response without one keeps the previous refresh token (RFC 6749 section 6). */
  refreshToken?: string;
  /** Defaults to `Bearer`. */
  tokenType?: string;
  /** Lifetime in seconds, counted from when the request that obtained the token started. */
  expiresIn?: number;
  /** Absolute expiry (Date or epoch ms). Wins over expiresIn when both are given. */
  expiresAt?: Date | number;
  scope?: string;
  idToken?: string;
  /**
   * When these tokens were obtained (Date or epoch ms); defaults to now. Stores round-trip it:
   * it orders pairs written by different replicas, so a later login is never undone by a
   * pair that merely expires later.
   */
  issuedAt?: Date | number;
  /**
   * Which pair of this credential this is: every new pair saved gets the previous one's version
   * plus one. Stores round-trip it; it orders pairs without relying on any machine's clock.
   */
  version?: number;
}

/** A TokenPair after normalisation: absolute times, every default applied. Frozen. */
export interface ResolvedTokens {
  readonly accessToken: string;
  readonly refreshToken?: string;
  readonly tokenType: string;
  /** Epoch ms. */
  readonly expiresAt: number;
  /** Epoch ms when the request that produced these tokens started (or when they were handed in). */
  readonly issuedAt: number;
  /** Undefined when the pair came from a store that does not keep it. */
  readonly version?: number;
  readonly scope?: string;
  readonly idToken?: string;
}
