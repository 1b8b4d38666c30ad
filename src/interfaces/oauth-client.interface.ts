import { type TokenPair } from './token-pair.interface';

export interface RefreshRequestOptions {
  /** Aborted when the service stops; a client should cancel its request. */
  signal: AbortSignal;
}

/**
 * Exchanges a refresh token for new tokens. Implementations should throw the typed errors
 * from `token-refresh.errors` (OAuthProtocolError, TokenEndpointHttpError, ...) so that
 * permanent failures are told apart from transient ones; anything else counts as transient.
 */
export interface OAuthClient {
  refresh(refreshToken: string, options: RefreshRequestOptions): Promise<TokenPair>;
}
