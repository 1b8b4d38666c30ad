import { type RefreshState } from '../common/interfaces/refresh-status.interface';
import { type TokenRefreshErrorCode } from '../common/token-refresh.errors';
import { type RefreshSource } from '../common/token-refresh.events';

/** The method the authenticated HttpService calls instead of forceRefresh() after a 401, so telemetry can say why. */
export const REFRESH_ON_UNAUTHORIZED: unique symbol = Symbol('nestjs-token-refresh:refresh-on-unauthorized');

/** What started a refresh attempt. */
export type RefreshTrigger = 'proactive' | 'forced' | 'unauthorized' | 'on-access' | 'retry';

/** The grant a refresh used. */
export type RefreshGrant = 'refresh_token' | 'client_credentials';

export interface RefreshAttemptInfo {
  registration: string;
  grantType: RefreshGrant;
  trigger: RefreshTrigger;
  /** 1 for the first attempt of an episode, counting up while it fails transiently. */
  attempt: number;
  keyed: boolean;
  /** The lock is shared with other processes (cluster mode): only then is its wait worth reporting. */
  distributedLock: boolean;
}

export type AttemptOutcome = { result: 'success'; source: RefreshSource } | { result: 'failure'; code: TokenRefreshErrorCode; oauthError?: string };

export type LockOutcome = 'acquired' | 'unavailable' | 'error';

/** One refresh attempt, seen by telemetry. Never given a token, a secret or a key. */
export interface RefreshAttemptProbe {
  /** The wait for the refresh lock begins; call what it returns when the wait ends. */
  lockWait(): (outcome: LockOutcome) => void;
  /** Runs the token request inside this attempt's trace context, so an HTTP instrumentation nests under it. */
  request<T>(send: () => Promise<T>): Promise<T>;
  end(outcome: AttemptOutcome): void;
}

/** What telemetry may read of a registration whenever it collects (gauges). */
export interface TelemetrySource {
  readonly registration: string;
  readonly keyed: boolean;
  /** Credentials per state (a single registration has one). */
  counts(): Record<RefreshState, number>;
  /** ms until the access token expires (single registration; null for keyed, or while none is held). */
  timeUntilExpiry(): number | null;
  /** getAccessToken() answers so far: at once, after waiting for a refresh, or with an error. */
  reads(): { fresh: number; waited: number; failed: number };
  /** Keys held in memory, and dropped by maxKeysInMemory so far (keyed registrations). */
  memory(): { keys: number; evictions: number };
}

/**
 * How the engine reports to an observability backend (OpenTelemetry, in nestjs-token-refresh/otel).
 * Every call is cheap when nothing listens; the hot path only counts, and telemetry reads the
 * counts when it collects.
 */
export interface RefreshTelemetry {
  attempt(info: RefreshAttemptInfo): RefreshAttemptProbe;
  reauthRequired(registration: string, keyed: boolean): void;
  /** Called once per engine; the returned function stops the watching (at stop). */
  watch(source: TelemetrySource): () => void;
}

const NO_PROBE: RefreshAttemptProbe = Object.freeze({
  lockWait: () => () => undefined,
  request: <T>(send: () => Promise<T>) => send(),
  end: () => undefined,
});

/** Telemetry that records nothing. */
export const NO_TELEMETRY: RefreshTelemetry = Object.freeze({
  attempt: () => NO_PROBE,
  reauthRequired: () => undefined,
  watch: () => () => undefined,
});
