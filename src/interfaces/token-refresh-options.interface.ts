import { type Type } from '@nestjs/common';
import { type OAuthClient } from './oauth-client.interface';
import { type RefreshLock } from './refresh-lock.interface';
import { type TokenPair } from './token-pair.interface';
import { type TokenStore } from './token-store.interface';
import { type TokenRefreshError } from '../token-refresh.errors';

export type ClientAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'none';

/** Settings for the built-in RFC 6749 client (HttpOAuthClient). */
export interface HttpOAuthClientOptions {
  /** https, or http on a loopback host only. */
  tokenEndpoint: string;
  clientId: string;
  clientSecret?: string;
  /** Default `client_secret_basic` (RFC 6749 section 2.3.1), or `none` when no secret is given. */
  authMethod?: ClientAuthMethod;
  /** Sent as `scope` with every refresh. */
  scope?: string;
  /** Request timeout in ms. Default 10000. */
  timeout?: number;
  /** Extra form fields, e.g. `{ audience: '...' }` for Auth0. */
  extraParams?: Record<string, string>;
}

export interface RetryOptions {
  /** Transient failures in a row before the episode counts as failed. Default Infinity. */
  maxAttempts?: number;
  /** First backoff ceiling in ms. Default 1000. */
  initialDelay?: number;
  /** Largest backoff in ms. Default 120000. */
  maxDelay?: number;
}

/** What forRoot takes (plus `name` and `isGlobal`), and what a forRootAsync factory returns. */
export interface TokenRefreshModuleOptions {
  /** Your own client (a value or a class Nest instantiates). Exclusive with `oauth`. */
  oauthClient?: OAuthClient | Type<OAuthClient>;
  /** Settings for the built-in HTTP client. Exclusive with `oauthClient`. */
  oauth?: HttpOAuthClientOptions;
  /** Where tokens live between restarts (a value or a class). Default: in memory. */
  tokenStore?: TokenStore | Type<TokenStore>;
  /** Cross-process refresh lock (a value or a class). Default: in-process. */
  lock?: RefreshLock | Type<RefreshLock>;
  /** ms before expiry to refresh. Default 300000; at least 60000. */
  refreshThreshold?: number;
  /** ms between safety checks. Default 60000. */
  checkInterval?: number;
  /** Called once per failed episode; true asks for `reauthenticate`. */
  onRefreshFail?: (error: TokenRefreshError) => boolean | Promise<boolean>;
  /** Obtains a fresh pair from scratch (e.g. client credentials) after onRefreshFail says true. */
  reauthenticate?: () => Promise<TokenPair>;
  retry?: RetryOptions;
  /** ms stop() waits for a refresh in flight before aborting it. Default 5000. */
  shutdownTimeout?: number;
  /** At bootstrap, load tokens from the store and start if there are any. Default false. */
  autoStart?: boolean;
  /** ms a replica waits for the refresh lock before serving its current token and trying later. Default 10000. */
  lockWaitTimeout?: number;
  /**
   * ms a token store call (load, save) may take; a longer one counts as failed: new tokens keep
   * serving from memory and the save is retried. Default 5000.
   */
  storeTimeout?: number;
}
