/**
 * The names this package reports under: one place for the code, the tests, the README and the
 * example's dashboard. OpenTelemetry semantic-convention style: a `token_refresh` namespace,
 * dot-separated, units in UCUM (`s`, `{refresh}`), never in the name. Prometheus shows dots as
 * underscores and adds `_total` to counters: `token_refresh.refreshes` is `token_refresh_refreshes_total`.
 */

/** The instrumentation scope of every meter and tracer. */
export const INSTRUMENTATION_SCOPE = 'nestjs-token-refresh';

export const TokenRefreshMetrics = {
  /** Histogram, s: one refresh attempt, from its start to its outcome (lock wait and save included). */
  REFRESH_DURATION: 'token_refresh.refresh.duration',
  /** Counter, {refresh}: refresh attempts, by outcome. */
  REFRESHES: 'token_refresh.refreshes',
  /** Counter, {failure}: failed refresh attempts, with the server's error when it sent one. */
  FAILURES: 'token_refresh.failures',
  /** Counter, {transition}: a credential entered reauth-required (its grant is dead). */
  REAUTH_REQUIRED: 'token_refresh.reauth_required',
  /** Gauge, s: until the held access token expires (single registrations). */
  TIME_UNTIL_EXPIRY: 'token_refresh.time_until_expiry',
  /** UpDownCounter, {credential}: credentials per state (a single registration: 1 for its state, 0 for the others). */
  CREDENTIALS: 'token_refresh.credential.count',
  /** Histogram, s: waits for a distributed refresh lock, by outcome. */
  LOCK_WAIT_DURATION: 'token_refresh.lock.wait.duration',
  /** UpDownCounter, {key}: keys held in memory (keyed registrations). */
  KEYS: 'token_refresh.key.count',
  /** Counter, {eviction}: keys dropped from memory by maxKeysInMemory (keyed registrations). */
  KEY_EVICTIONS: 'token_refresh.key.evictions',
  /** Counter, {call}: getAccessToken() answers, by outcome. */
  ACCESS_TOKEN_READS: 'token_refresh.access_token.reads',
} as const;

export const TokenRefreshSpans = {
  /** One refresh attempt (kind internal); the token request's HTTP span nests under it. */
  REFRESH: 'token_refresh.refresh',
  /** Child of REFRESH: the wait for a distributed refresh lock. */
  LOCK_WAIT: 'token_refresh.lock.wait',
} as const;

export const TokenRefreshAttributes = {
  /** The registration's name (`default` unless named). On every metric and span. */
  REGISTRATION: 'token_refresh.registration',
  /** A keyed registration (spans). */
  KEYED: 'token_refresh.keyed',
  /** `refresh_token` or `client_credentials`. */
  GRANT_TYPE: 'token_refresh.grant_type',
  /** What started the attempt: `proactive`, `forced`, `unauthorized` (an API answered 401), `on-access`, `retry`. */
  TRIGGER: 'token_refresh.trigger',
  /** `success`, or the error's `code` (`oauth_error`, `http_error`, `timeout`, `lock_unavailable`, ...). */
  OUTCOME: 'token_refresh.outcome',
  /** Where a successful attempt's tokens came from: `refresh` (the server), or `store` (another replica's rotation). Spans. */
  SOURCE: 'token_refresh.source',
  /** The server's OAuth `error` (`invalid_grant`, ...), when it sent one. */
  OAUTH_ERROR: 'token_refresh.oauth_error',
  /** 1 for the first attempt of an episode, counting up while it fails transiently. Spans. */
  ATTEMPT: 'token_refresh.attempt',
  /** `acquired`, `unavailable` (held elsewhere past lockWaitTimeout) or `error` (the lock's backend failed). */
  LOCK_OUTCOME: 'token_refresh.lock.outcome',
  /** `stopped`, `idle`, `refreshing`, `backoff`, `reauthenticating`, `reauth-required`. */
  STATE: 'token_refresh.state',
  /** getAccessToken(): `fresh` (at once), `waited` (behind a refresh), `failed` (rejected). */
  READ_OUTCOME: 'token_refresh.read.outcome',
  /** The semantic-convention error attribute on a failed span: the error's `code`. */
  ERROR_TYPE: 'error.type',
} as const;

/** Bucket bounds (s) of both histograms: token endpoints answer in milliseconds to seconds; timeouts run to a minute. */
export const DURATION_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
