/*
 * The public API, named one by one (as @nestjs/terminus does): anything not exported here
 * is internal and may change without notice. Health, Redis and OpenTelemetry live in their own
 * entry points (`nestjs-token-refresh/health`, `/redis`, `/otel`) so their optional peer
 * dependencies are needed only by apps that use them.
 */
export { TokenRefreshModule } from './token-refresh.module';
export type {
  TokenRefreshModuleAsyncOptions,
  TokenRefreshModuleExtras,
  TokenRefreshModuleRootOptions,
  TokenRefreshOptionsFactory,
} from './token-refresh.module-definition';
export { TokenRefreshService } from './token-refresh.service';
export { TokenRefreshManager } from './core/refresh-manager';
export { KeyedTokenRefreshService } from './keyed-token-refresh.service';
export { KeyedTokenRefreshManager } from './core/keyed-refresh-manager';
export type { StateCounts } from './core/refresh-engine';
export { InjectKeyedTokenRefresh, InjectTokenRefresh, InjectOAuthClient, InjectTokenStore } from './token-refresh.decorators';
export {
  DEFAULT_CHECK_INTERVAL,
  DEFAULT_LOCK_WAIT_TIMEOUT,
  DEFAULT_REFRESH_THRESHOLD,
  DEFAULT_REGISTRATION_NAME,
  DEFAULT_RETRY,
  DEFAULT_SHUTDOWN_TIMEOUT,
  DEFAULT_STORE_TIMEOUT,
  MIN_REFRESH_THRESHOLD,
  OAUTH_CLIENT,
  REFRESH_LOCK,
  TOKEN_STORE,
  TokenRefreshEvents,
  getKeyedTokenRefreshToken,
  getOAuthClientToken,
  getRefreshLockToken,
  getTokenRefreshToken,
  getTokenStoreToken,
} from './common/token-refresh.constants';
export type { TokenRefreshEventName } from './common/token-refresh.constants';
export {
  TokenRefreshExpiredEvent,
  TokenRefreshReauthenticatedEvent,
  TokenRefreshReauthRequiredEvent,
  TokenRefreshRefreshedEvent,
  TokenRefreshEvent,
  TokenRefreshRefreshFailedEvent,
  TokenRefreshStartedEvent,
  TokenRefreshStoppedEvent,
  TokenRefreshStoreFailedEvent,
} from './common/token-refresh.events';
export type { ErrorSummary, EventFields, RefreshSource } from './common/token-refresh.events';
export {
  InvalidTokenResponseError,
  MissingRefreshTokenError,
  OAuthProtocolError,
  PERMANENT_OAUTH_ERRORS,
  ReauthRequiredError,
  RefreshAbortedError,
  RefreshLockError,
  TokenEndpointHttpError,
  TokenEndpointNetworkError,
  TokenEndpointTimeoutError,
  TokenExpiredError,
  TokenRefreshConfigError,
  TokenRefreshError,
  TokenRefreshStateError,
  TokenStoreConflictError,
  TokenStoreError,
  TokenStoreUnreadableError,
  TokenValidationError,
  UnknownRefreshError,
} from './common/token-refresh.errors';
export type { OAuthErrorResponse, TokenRefreshErrorCode } from './common/token-refresh.errors';
export { HttpOAuthClient } from './oauth/http-oauth-client';
export { TokenRefreshHttpModule } from './http/token-refresh-http.module';
export { InjectTokenRefreshHttp, getTokenRefreshHttpToken } from './http/token-refresh-http.constants';
export type { TokenRefreshHttpConfig } from './http/token-refresh-http.options';
export type {
  TokenRefreshHttpModuleAsyncOptions,
  TokenRefreshHttpModuleExtras,
  TokenRefreshHttpModuleOptions,
  TokenRefreshHttpOptionsFactory,
} from './http/token-refresh-http.module-definition';
export { InMemoryTokenStore } from './core/in-memory-token.store';
export { InMemoryKeyedTokenStore } from './core/keyed-token.stores';
export { InProcessRefreshLock } from './core/in-process-refresh.lock';
export type { OAuthClient, RefreshRequestOptions, TokenResponse } from './common/interfaces/oauth-client.interface';
export type { RefreshLock, RefreshLockHandle, RefreshLockRequest } from './common/interfaces/refresh-lock.interface';
export type { RefreshState, RefreshStatus } from './common/interfaces/refresh-status.interface';
export type { TokenPair } from './common/interfaces/token-pair.interface';
export type { StoredTokens, TokenStore } from './common/interfaces/token-store.interface';
export type { KeyedTokenStore } from './common/interfaces/keyed-token-store.interface';
export type { ClientAuthMethod, HttpOAuthClientOptions } from './oauth/http-oauth-client.options';
export { DEFAULT_MAX_CONCURRENT_REFRESHES } from './core/options-validation';
export type { RefreshMode, RefreshPolicyOptions, RetryOptions } from './core/options-validation';
export type { TokenRefreshModuleOptions } from './token-refresh.options';
export type {
  AttemptOutcome,
  LockOutcome,
  RefreshAttemptInfo,
  RefreshAttemptProbe,
  RefreshGrant,
  RefreshTelemetry,
  RefreshTrigger,
  TelemetrySource,
} from './core/telemetry';
