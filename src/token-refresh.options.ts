import { type Type } from '@nestjs/common';
import { type OAuthClient } from './common/interfaces/oauth-client.interface';
import { type RefreshLock } from './common/interfaces/refresh-lock.interface';
import { type KeyedTokenStore } from './common/interfaces/keyed-token-store.interface';
import { type TokenStore } from './common/interfaces/token-store.interface';
import { TokenRefreshConfigError } from './common/token-refresh.errors';
import { assertShape, type RefreshPolicyOptions, resolveSettings, type ResolvedSettings } from './core/options-validation';
import { type RefreshTelemetry } from './core/telemetry';
import { type HttpOAuthClientOptions } from './oauth/http-oauth-client.options';

/** What forRoot takes (plus `name` and `isGlobal`), and what a forRootAsync factory returns. */
export interface TokenRefreshModuleOptions extends RefreshPolicyOptions {
  /** Your own client (a value or a class Nest instantiates). Exclusive with `oauth`. */
  oauthClient?: OAuthClient | Type<OAuthClient>;
  /** Settings for the built-in HTTP client. Exclusive with `oauthClient`. */
  oauth?: HttpOAuthClientOptions;
  /** Where tokens live between restarts (a value or a class): a KeyedTokenStore for a keyed registration. Default: in memory. */
  tokenStore?: TokenStore | Type<TokenStore> | KeyedTokenStore | Type<KeyedTokenStore>;
  /** Cross-process refresh lock (a value or a class). Default: in-process. */
  lock?: RefreshLock | Type<RefreshLock>;
  /**
   * Where refresh attempts, lock waits and gauges are reported. Default: OpenTelemetry metrics and
   * traces through the global providers when @opentelemetry/api is installed (a no-op until the app
   * registers an SDK), nothing otherwise. `false` turns it off; a RefreshTelemetry replaces it.
   */
  telemetry?: RefreshTelemetry | false;
}

/**
 * Checks a registration's options at bootstrap, before anything is built from them, so a typo
 * fails the app's start with the option's name. The collaborators are checked where they are
 * built (the oauth settings by HttpOAuthClient, the others for the methods we call).
 */
export function validateModuleOptions(options: TokenRefreshModuleOptions, name: string): ResolvedSettings {
  if (options === null || typeof options !== 'object') {
    throw new TokenRefreshConfigError('options', 'TokenRefreshModule options must be an object');
  }
  if (options.oauthClient !== undefined && options.oauth !== undefined) {
    throw new TokenRefreshConfigError('oauthClient', 'give either oauthClient or oauth, not both');
  }
  if (options.oauthClient === undefined && options.oauth === undefined) {
    throw new TokenRefreshConfigError('oauthClient', 'an OAuth client is required: give oauthClient, or oauth settings');
  }
  if (options.telemetry !== undefined && options.telemetry !== false) {
    assertShape(options.telemetry, 'telemetry', ['attempt', 'reauthRequired', 'watch']);
  }
  return resolveSettings(options, name);
}

/**
 * forRootAsync and registerAsync need one way to get their options: without one, Nest would
 * only say it cannot resolve the options provider's dependencies.
 */
export function assertAsyncOptions(options: { useFactory?: unknown; useClass?: unknown; useExisting?: unknown } | undefined, method: string): void {
  if (options === null || typeof options !== 'object') {
    throw new TokenRefreshConfigError('options', `${method} needs an options object with useFactory, useClass or useExisting`);
  }
  const given = ['useFactory', 'useClass', 'useExisting'].filter((key) => options[key as keyof typeof options] !== undefined);
  if (given.length !== 1) {
    throw new TokenRefreshConfigError(
      'useFactory',
      `${method} needs exactly one of useFactory, useClass or useExisting${given.length > 1 ? `; got ${given.join(' and ')}` : ''}`,
    );
  }
}
