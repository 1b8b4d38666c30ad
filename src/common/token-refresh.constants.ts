/** Durations are in milliseconds throughout. */
export const DEFAULT_REFRESH_THRESHOLD = 5 * 60_000;
export const MIN_REFRESH_THRESHOLD = 60_000;
export const DEFAULT_CHECK_INTERVAL = 60_000;
export const DEFAULT_SHUTDOWN_TIMEOUT = 5_000;
export const DEFAULT_LOCK_WAIT_TIMEOUT = 10_000;
/** A store call (load, save) that takes longer counts as failed: a hung database must not freeze refreshing. */
export const DEFAULT_STORE_TIMEOUT = 5_000;
/**
 * Full jitter averages half the cap, so a 120 s cap keeps a long outage near one request a
 * minute (the Go original's rate) while the first retries come within seconds.
 */
export const DEFAULT_RETRY = Object.freeze({ maxAttempts: Infinity, initialDelay: 1_000, maxDelay: 120_000 });
export const DEFAULT_REGISTRATION_NAME = 'default';

/** Event names emitted through EventEmitter2. Payload classes live in token-refresh.events.ts. */
export const TokenRefreshEvents = Object.freeze({
  STARTED: 'token-refresh.started',
  STOPPED: 'token-refresh.stopped',
  REFRESHED: 'token-refresh.refreshed',
  REFRESH_FAILED: 'token-refresh.refresh-failed',
  REAUTH_REQUIRED: 'token-refresh.reauth-required',
  REAUTHENTICATED: 'token-refresh.reauthenticated',
  EXPIRED: 'token-refresh.expired',
  STORE_FAILED: 'token-refresh.store-failed',
  REVOKE_FAILED: 'token-refresh.revoke-failed',
} as const);
export type TokenRefreshEventName = (typeof TokenRefreshEvents)[keyof typeof TokenRefreshEvents];

/*
 * Injection tokens are namespaced strings per registration, so two registrations never
 * collide and tests can overrideProvider(getOAuthClientToken('crm')).
 */
const PREFIX = 'nestjs-token-refresh';
export const OAUTH_CLIENT = `${PREFIX}:oauth-client`;
export const TOKEN_STORE = `${PREFIX}:token-store`;
export const REFRESH_LOCK = `${PREFIX}:refresh-lock`;

/** The default registration keeps the bare tokens; named ones get a suffix. */
function perName(token: string, name: string): string {
  return name === DEFAULT_REGISTRATION_NAME ? token : `${token}:${name}`;
}
export const getOAuthClientToken = (name: string = DEFAULT_REGISTRATION_NAME): string => perName(OAUTH_CLIENT, name);
export const getTokenStoreToken = (name: string = DEFAULT_REGISTRATION_NAME): string => perName(TOKEN_STORE, name);
export const getRefreshLockToken = (name: string = DEFAULT_REGISTRATION_NAME): string => perName(REFRESH_LOCK, name);
/** The service of a named registration; the default one is also injectable by its class. */
export const getTokenRefreshToken = (name: string = DEFAULT_REGISTRATION_NAME): string =>
  `${PREFIX}:service:${name}`;
/** The service of a keyed registration (`keyed: true`); the default one is also injectable by its class. */
export const getKeyedTokenRefreshToken = (name: string = DEFAULT_REGISTRATION_NAME): string =>
  `${PREFIX}:keyed-service:${name}`;
