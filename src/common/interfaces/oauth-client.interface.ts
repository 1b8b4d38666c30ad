import { type TokenPair } from './token-pair.interface';

export interface RefreshRequestOptions {
  /** Aborted when the service stops; a client should cancel its request. */
  signal: AbortSignal;
  /** The credential's key, in a keyed registration (one client serving many users or tenants). */
  key?: string;
}

/**
 * What a token endpoint answered, as a TokenPair. The manager checks every field itself and is
 * lenient where the server has already acted: a rotated `refreshToken` is kept even when the
 * rest is unusable, so a client should return what it got (`accessToken` absent if the server
 * sent none) rather than throw once the body is a token response.
 */
export type TokenResponse = Omit<TokenPair, 'accessToken'> & { accessToken?: string };

/**
 * Exchanges a refresh token for new tokens. Implementations should throw the typed errors
 * from `token-refresh.errors` (OAuthProtocolError, TokenEndpointHttpError, ...) so that
 * permanent failures are told apart from transient ones; anything else counts as transient.
 */
export interface OAuthClient {
  refresh(refreshToken: string, options: RefreshRequestOptions): Promise<TokenResponse>;
  /**
   * Optional: obtains tokens without a refresh token (the client_credentials grant). When the
   * client has it, the manager uses it whenever it holds no refresh token, also to get the
   * very first tokens.
   */
  requestToken?(options: RefreshRequestOptions): Promise<TokenResponse>;
  /**
   * Optional (RFC 7009): revokes a token at the authorization server. Used, when the
   * `revokeRefreshToken` option is on, at stop() (single registration) or delete(key) (keyed).
   */
  revoke?(token: string, options: RevokeRequestOptions): Promise<void>;
}

export interface RevokeRequestOptions extends RefreshRequestOptions {
  tokenTypeHint: 'refresh_token' | 'access_token';
}
