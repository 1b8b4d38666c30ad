import { type OAuthClient } from '../interfaces/oauth-client.interface';
import { type RefreshLock, type RefreshLockHandle } from '../interfaces/refresh-lock.interface';
import { type RefreshState, type RefreshStatus } from '../interfaces/refresh-status.interface';
import { type ResolvedTokens, type TokenPair } from '../interfaces/token-pair.interface';
import { type TokenStore } from '../interfaces/token-store.interface';
import { TokenRefreshEvents } from '../token-refresh.constants';
import {
  MissingRefreshTokenError,
  ReauthRequiredError,
  RefreshAbortedError,
  RefreshLockError,
  TokenExpiredError,
  type TokenRefreshError,
  TokenRefreshStateError,
  TokenStoreError,
  TokenValidationError,
  InvalidTokenResponseError,
} from '../token-refresh.errors';
import {
  summarizeError,
  TokenExpiredEvent,
  TokenReauthenticatedEvent,
  TokenReauthRequiredEvent,
  TokenRefreshedEvent,
  TokenRefreshFailedEvent,
  TokenRefreshStartedEvent,
  TokenRefreshStoppedEvent,
  TokenStoreFailedEvent,
  type RefreshSource,
} from '../token-refresh.events';
import { Messages } from '../token-refresh.messages';
import { backoffDelay } from './backoff';
import { retryAfterOf, toRefreshError } from './error-classification';
import { type ResolvedSettings } from './options-validation';
import { type EventSink, type LoggerPort, type TimerPort } from './ports';
import { redactedInspect } from './redaction';
import { computeRefreshAt, computeWaitFrom, timerDelay } from './refresh-schedule';
import { SingleFlight } from './single-flight';
import { mergeRefreshResponse, resolveTokens, storedSupersedes, toPublicTokens, toStoredTokens } from './tokens';

export interface RefreshManagerDeps {
  settings: ResolvedSettings;
  client: OAuthClient;
  store: TokenStore;
  lock: RefreshLock;
  timers: TimerPort;
  events?: EventSink;
  logger: LoggerPort;
  onRefreshFail?: (error: TokenRefreshError) => boolean | Promise<boolean>;
  reauthenticate?: () => Promise<TokenPair>;
  random?: () => number;
}

const NO_TOKEN: Promise<string> = Promise.reject(new Error('unreachable'));
NO_TOKEN.catch(() => undefined);

/**
 * The Go `refresh` Manager, done right, with no framework in sight. One instance keeps one
 * credential valid: it refreshes at refreshAt on a timer (not at the next poll), shares one
 * request among all callers, never forgets a rotated refresh token, backs off on transient
 * failures and stops for good on permanent ones.
 */
export class TokenRefreshManager {
  readonly #deps: RefreshManagerDeps;
  readonly #flight = new SingleFlight<ResolvedTokens>();

  #tokens: ResolvedTokens | undefined;
  #state: RefreshState = 'stopped';
  #running = false;
  /** Bumped by start and updateTokens: a refresh that began for replaced tokens is void. */
  #generation = 0;
  #flightGeneration = 0;
  #refreshAt = 0;
  /** Hot path: before this instant getAccessToken() returns #freshPromise without other work. */
  #freshUntil = 0;
  #freshPromise: Promise<string> = NO_TOKEN;
  /** From this instant a caller waits for the refresh in flight instead of taking the held token. */
  #waitFrom = 0;
  #waiters: { flight: Promise<ResolvedTokens>; result: Promise<string> } | undefined;
  #lastRefreshAt: number | undefined;
  #consecutiveFailures = 0;
  #lastError: TokenRefreshError | undefined;
  #nextAttemptAt: number | undefined;
  #expiredNotified = false;
  #abort: AbortController | undefined;
  #stopping: Promise<void> | undefined;
  #starting: Promise<void> | undefined;
  /** The unwinding flight a re-check is already chained to (one per flight, not one per call). */
  #recheckAfter: Promise<ResolvedTokens> | undefined;
  /** Refreshes in a row whose tokens were due on arrival: backs off instead of looping. */
  #dueOnArrival = 0;
  #unwatch: (() => void | Promise<void>) | undefined;
  /** Saves run one after another, newest last; a pair that failed to save waits here. */
  #saveChain: Promise<void> = Promise.resolve();
  #latestToSave: ResolvedTokens | undefined;
  #unsaved: ResolvedTokens | undefined;
  #storeFailures = 0;
  /** A distributed lock kept after a refresh whose tokens failed to save; released once they are saved. */
  #heldLock: RefreshLockHandle | undefined;

  constructor(deps: RefreshManagerDeps) {
    this.#deps = deps;
  }

  get name(): string {
    return this.#deps.settings.name;
  }

  protected get autoStart(): boolean {
    return this.#deps.settings.autoStart;
  }

  // ---------------------------------------------------------------- lifecycle

  /** Starts with the given tokens, or with the store's when none are given. */
  start(tokens?: TokenPair): Promise<void> {
    const starting = this.#start(tokens);
    const settled = starting.then(noop, noop);
    this.#starting = settled;
    void settled.then(() => {
      if (this.#starting === settled) this.#starting = undefined;
    });
    return starting;
  }

  async #start(tokens: TokenPair | undefined): Promise<void> {
    if (this.#stopping) await this.#stopping;
    // A refresh left over from before stop() may still bring rotated tokens: let it land first.
    const leftover = this.#flight.inFlight;
    if (leftover) await settleWithin(leftover, this.#deps.settings.shutdownTimeout);
    if (this.#running) {
      throw new TokenRefreshStateError(`token refresh "${this.name}" is already running; call stop() first`);
    }
    const now = Date.now();
    let resolved: ResolvedTokens;
    if (tokens === undefined) {
      const loaded = await this.#load();
      if (!loaded) {
        throw new TokenRefreshStateError(
          `token refresh "${this.name}" has no tokens: the store is empty; call start(tokens)`,
        );
      }
      resolved = resolveTokens(loaded, now);
    } else {
      resolved = resolveTokens(tokens, now);
    }
    if (this.#running) {
      throw new TokenRefreshStateError(`token refresh "${this.name}" is already running; call stop() first`);
    }
    this.#generation++;
    this.#running = true;
    try {
      if (tokens !== undefined) await this.#persist(resolved);
      this.#adopt(resolved, undefined);
      this.#watchStore();
    } catch (error) {
      // A store whose watch() throws must not leave us "running" with no schedule.
      this.#running = false;
      this.#state = 'stopped';
      this.#clearTimers();
      throw toRefreshError(error, secretsOf(resolved));
    }
    this.#deps.timers.setInterval('check', () => this.#check(), this.#deps.settings.checkInterval);
    this.#deps.logger.log(Messages.started(this.name, resolved.expiresAt));
    this.#emit(TokenRefreshEvents.STARTED, new TokenRefreshStartedEvent(this.name, new Date(), new Date(resolved.expiresAt)));
    // The first check runs now, not one interval later: tokens loaded from a store may be due.
    this.#check();
  }

  /**
   * Idempotent and safe before start. Waits up to shutdownTimeout for a refresh in flight
   * (so a rotated token is not lost halfway), then aborts it. The service can start again.
   */
  stop(): Promise<void> {
    if (this.#stopping) return this.#stopping;
    const starting = this.#starting;
    if (!this.#running && !starting) return Promise.resolve();
    // A stop() that arrives while start() is still loading or saving stops what it starts.
    this.#stopping = (async () => {
      if (starting) await starting;
      if (this.#running) await this.#stop();
    })().finally(() => {
      this.#stopping = undefined;
    });
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    this.#running = false;
    this.#clearTimers();
    const unwatch = this.#unwatch;
    this.#unwatch = undefined;
    if (unwatch) await Promise.resolve().then(unwatch).catch(() => undefined);

    const timeout = this.#deps.settings.shutdownTimeout;
    const deadline = Date.now() + timeout;
    // No new refresh can start once #running is false, but one queued behind a stale flight
    // may follow the one in flight now: wait for each, within the one deadline.
    for (let inFlight = this.#flight.inFlight; inFlight; inFlight = this.#flight.inFlight) {
      if (await settleWithin(inFlight, Math.max(0, deadline - Date.now()))) continue;
      this.#deps.logger.warn(Messages.abortedOnStop(this.name, timeout));
      this.#abort?.abort(new RefreshAbortedError());
      // A client that honours the signal unwinds at once; one that does not is not waited for.
      // If its tokens still arrive later they are saved and kept: the old refresh token is spent.
      await settleWithin(inFlight, Math.min(ABORT_GRACE, timeout));
      break;
    }
    // Last chance for a rotated refresh token that the store refused earlier.
    if (this.#unsaved) await this.#retrySave();
    await this.#release(this.#takeHeldLock());
    this.#state = 'stopped';
    this.#nextAttemptAt = undefined;
    this.#deps.logger.log(Messages.stopped(this.name));
    this.#emit(TokenRefreshEvents.STOPPED, new TokenRefreshStoppedEvent(this.name, new Date()));
  }

  // ---------------------------------------------------------------- API

  /** Refreshes now, sharing a refresh already in flight. Rejects with the typed error on failure. */
  async forceRefresh(): Promise<void> {
    if (!this.#running) {
      throw new TokenRefreshStateError(`token refresh "${this.name}" is not running; call start() first`);
    }
    if (this.#state === 'reauth-required') {
      throw new ReauthRequiredError(this.name);
    }
    if (this.#state === 'reauthenticating') {
      await this.#flight.inFlight;
      return;
    }
    await this.#refresh();
  }

  /**
   * Replaces the tokens (e.g. after a new login): validated, saved, rescheduled. A refresh in
   * flight for the old tokens is aborted and its result dropped. Invalid tokens are rejected
   * and the previous ones stay.
   */
  async updateTokens(tokens: TokenPair): Promise<void> {
    const resolved = resolveTokens(tokens, Date.now());
    this.#generation++;
    this.#abort?.abort(new RefreshAbortedError());
    await this.#persist(resolved);
    this.#adopt(resolved, undefined);
    this.#check();
  }

  /** The access token: at once while fresh or comfortably valid; near expiry, after the refresh. */
  getAccessToken(): Promise<string> {
    if (Date.now() < this.#freshUntil) return this.#freshPromise;
    return this.#slowAccessToken();
  }

  /** Synchronous read: the access token if one is held and unexpired, else undefined. Never waits, never refreshes. */
  peekAccessToken(): string | undefined {
    const tokens = this.#tokens;
    return tokens !== undefined && Date.now() < tokens.expiresAt ? tokens.accessToken : undefined;
  }

  /** A frozen copy of the tokens held, or null. With getAccessToken and peekAccessToken, the only methods that return secrets. */
  getTokens(): Readonly<TokenPair & { expiresAt: Date }> | null {
    return this.#tokens ? toPublicTokens(this.#tokens, Date.now()) : null;
  }

  getExpiresAt(): Date | null {
    return this.#tokens ? new Date(this.#tokens.expiresAt) : null;
  }

  getLastRefreshAt(): Date | null {
    return this.#lastRefreshAt === undefined ? null : new Date(this.#lastRefreshAt);
  }

  isRunning(): boolean {
    return this.#running;
  }

  getRefreshStatus(): RefreshStatus {
    const now = Date.now();
    const tokens = this.#tokens;
    const error = this.#lastError;
    return Object.freeze({
      name: this.name,
      isRunning: this.#running,
      state: this.#state,
      expiresAt: tokens ? new Date(tokens.expiresAt) : null,
      refreshAt: tokens ? new Date(this.#refreshAt) : null,
      lastRefreshAt: this.getLastRefreshAt(),
      timeUntilExpiry: tokens ? Math.max(0, tokens.expiresAt - now) : null,
      timeUntilRefresh: tokens ? Math.max(0, this.#refreshAt - now) : null,
      needsRefresh: tokens !== undefined && now >= this.#refreshAt,
      consecutiveFailures: this.#consecutiveFailures,
      lastError: error ? Object.freeze({ code: error.code, message: error.message }) : null,
      nextAttemptAt: this.#nextAttemptAt === undefined ? null : new Date(this.#nextAttemptAt),
    });
  }

  // ---------------------------------------------------------------- access token slow path

  /**
   * Past refreshAt. The held token keeps serving while it is comfortably valid (a slow or hung
   * token endpoint must not stall every outbound call); only near expiry do callers wait, and
   * then all of them share one promise per refresh rather than one closure each.
   */
  #slowAccessToken(): Promise<string> {
    if (!this.#tokens) {
      return Promise.reject(new TokenRefreshStateError(`token refresh "${this.name}" holds no tokens yet; call start()`));
    }
    const now = Date.now();
    if (this.#running && this.#state === 'idle' && now >= this.#refreshAt) this.#refreshInBackground();
    const inFlight = this.#flight.inFlight;
    if (inFlight && now >= this.#waitFrom) return this.#afterFlight(inFlight);
    try {
      return Promise.resolve(this.#currentAccessToken());
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #afterFlight(flight: Promise<ResolvedTokens>): Promise<string> {
    if (this.#waiters?.flight !== flight) {
      const settled = () => this.#currentAccessToken();
      this.#waiters = { flight, result: flight.then(settled, settled) };
    }
    return this.#waiters.result;
  }

  #currentAccessToken(): string {
    const tokens = this.#tokens;
    if (tokens && Date.now() < tokens.expiresAt) return tokens.accessToken;
    throw this.#state === 'reauth-required' ? new ReauthRequiredError(this.name) : new TokenExpiredError(this.name);
  }

  // ---------------------------------------------------------------- scheduling

  /** Runs on the interval, on the refresh timer and at start. Catches late timers and clock jumps. */
  #check(): void {
    if (!this.#running || !this.#tokens) return;
    const now = Date.now();
    if (now >= this.#tokens.expiresAt && !this.#expiredNotified) {
      this.#expiredNotified = true;
      this.#freshUntil = 0;
      this.#deps.logger.warn(Messages.expired(this.name));
      this.#emit(TokenRefreshEvents.EXPIRED, new TokenExpiredEvent(this.name, new Date(now), new Date(this.#tokens.expiresAt)));
    }
    switch (this.#state) {
      case 'idle':
        return now >= this.#refreshAt ? this.#refreshInBackground() : this.#arm(this.#refreshAt, now);
      case 'backoff': {
        const at = this.#nextAttemptAt ?? now;
        return now >= at ? this.#refreshInBackground() : this.#arm(at, now);
      }
      default:
        return; // refreshing, reauthenticating: in hand; reauth-required: waits for the user.
    }
  }

  #clearTimers(): void {
    for (const kind of ['check', 'refresh', 'store'] as const) this.#deps.timers.clear(kind);
  }

  /** One timeout at the exact instant; delays beyond setTimeout's range re-arm via #check. */
  #arm(at: number, now: number): void {
    if (!this.#running) return;
    this.#deps.timers.setTimeout('refresh', () => this.#check(), timerDelay(at, now));
  }

  #refreshInBackground(): void {
    const unwinding = this.#flight.inFlight;
    if (unwinding) {
      // A flight that has already set the state (idle, backoff) is finishing, e.g. releasing
      // the lock: joining it would refresh nothing. Look again once it has settled.
      if (this.#recheckAfter !== unwinding) {
        this.#recheckAfter = unwinding;
        void unwinding.then(noop, noop).then(() => this.#check());
      }
      return;
    }
    // Failures are handled (state, events, backoff) inside; nobody awaits a background refresh.
    this.#refresh().catch(noop);
  }

  // ---------------------------------------------------------------- refresh

  #refresh(): Promise<ResolvedTokens> {
    // A flight begun for tokens that updateTokens/start replaced is being aborted: let it
    // settle, then refresh the current tokens rather than share its failure.
    const stale = this.#flight.inFlight;
    if (stale && this.#flightGeneration !== this.#generation) {
      const again = () => (this.#running ? this.#refresh() : Promise.reject(new RefreshAbortedError()));
      return stale.then(again, again);
    }
    if (!stale) this.#flightGeneration = this.#generation;
    return this.#flight.run(() => this.#performRefresh());
  }

  async #performRefresh(): Promise<ResolvedTokens> {
    if (!this.#running) throw new RefreshAbortedError();
    const generation = this.#generation;
    // What is sent may differ from what is held by the time an error comes back (updateTokens).
    const sent = this.#tokens;
    const abort = new AbortController();
    this.#abort = abort;
    this.#state = 'refreshing';
    this.#freshUntil = 0;
    this.#deps.timers.clear('refresh');
    const startedAt = Date.now();
    try {
      return await this.#refreshUnderLock(generation, abort.signal, startedAt);
    } catch (thrown) {
      const error = toRefreshError(thrown, [...secretsOf(sent), ...secretsOf(this.#tokens)]);
      // A successful reauthenticate() ends the episode: waiting callers get its tokens.
      if (generation === this.#generation && (await this.#onFailure(error, generation)) && this.#tokens) {
        return this.#tokens;
      }
      throw error;
    } finally {
      if (this.#abort === abort) this.#abort = undefined;
    }
  }

  async #refreshUnderLock(generation: number, signal: AbortSignal, startedAt: number): Promise<ResolvedTokens> {
    const { lock, settings } = this.#deps;
    const handle = this.#takeHeldLock() ?? (await lock.acquire({ waitMs: settings.lockWaitTimeout, signal }));
    if (!handle) throw new RefreshLockError('refresh lock not acquired: another replica holds it, or its backend is unreachable');
    try {
      this.#assertCurrent(generation, signal);
      if (lock.distributed) {
        // Another replica may have rotated while we waited; under the lock the store is the truth.
        const stored = await this.#load();
        this.#assertCurrent(generation, signal);
        if (stored) {
          const candidate = resolveTokens(stored, Date.now());
          if (storedSupersedes(stored, candidate, this.#tokens)) {
            this.#adopt(candidate, 'store');
            return candidate;
          }
        }
      }
      const current = this.#tokens;
      if (!current?.refreshToken) throw new MissingRefreshTokenError();
      // A lost lease is checked before sending, never used to abort a request already sent:
      // that cannot un-spend the refresh token, it would only lose our copy of the rotation.
      if (handle.lost?.aborted) throw new RefreshLockError('refresh lock lost before the request was sent');
      const response = await this.#deps.client.refresh(current.refreshToken, { signal });
      // Tokens that arrived are kept even if stop() aborted meanwhile: the old refresh token is spent.
      // Only updateTokens/start (a new generation) make them moot.
      if (generation !== this.#generation) throw new RefreshAbortedError();
      let next: ResolvedTokens;
      try {
        next = resolveTokens(mergeRefreshResponse(response, current), startedAt);
      } catch (error) {
        if (error instanceof TokenValidationError) throw new InvalidTokenResponseError(error.message);
        throw error;
      }
      await this.#persist(next);
      this.#adopt(next, 'refresh', Date.now() - startedAt);
      return next;
    } finally {
      // Until saved, the rotated refresh token lives only here: a replica that took the lock now
      // would re-read the old one from the store and spend it again. Keep the lock until #save succeeds.
      if (lock.distributed && this.#unsaved && !handle.lost?.aborted) this.#heldLock = handle;
      else await this.#release(handle);
    }
  }

  #takeHeldLock(): RefreshLockHandle | undefined {
    const held = this.#heldLock;
    this.#heldLock = undefined;
    if (!held?.lost?.aborted) return held;
    void this.#release(held);
    return undefined;
  }

  async #release(handle: RefreshLockHandle | undefined): Promise<void> {
    await handle?.release().catch(() => this.#deps.logger.warn(Messages.lockReleaseFailed(this.name)));
  }

  #assertCurrent(generation: number, signal: AbortSignal): void {
    if (generation !== this.#generation || signal.aborted) throw new RefreshAbortedError();
  }

  /** Takes new tokens into memory and reschedules. `source` undefined: given by the caller. */
  #adopt(tokens: ResolvedTokens, source: RefreshSource | undefined, durationMs = 0): void {
    const now = Date.now();
    this.#tokens = tokens;
    this.#refreshAt = computeRefreshAt(tokens, this.#deps.settings.refreshThreshold);
    this.#waitFrom = computeWaitFrom(tokens, this.#refreshAt);
    this.#consecutiveFailures = 0;
    this.#lastError = undefined;
    this.#nextAttemptAt = undefined;
    this.#expiredNotified = false;
    this.#freshPromise = Promise.resolve(tokens.accessToken);
    this.#freshUntil = this.#refreshAt;
    if (source !== undefined) this.#lastRefreshAt = now;
    if (!this.#running) {
      this.#state = 'stopped';
      return;
    }
    this.#state = 'idle';
    if (source !== undefined) {
      this.#deps.logger.log(Messages.refreshed(this.name, tokens.expiresAt, source));
      this.#emit(
        TokenRefreshEvents.REFRESHED,
        new TokenRefreshedEvent(this.name, new Date(now), new Date(tokens.expiresAt), new Date(this.#refreshAt), source, durationMs),
      );
    }
    // A timer, not a check: this often runs inside the flight that produced the tokens.
    this.#arm(this.#nextRefreshAfter(source, now), now);
  }

  /**
   * refreshAt, unless a refresh keeps returning tokens that are already due (expires_in: 0, a
   * clock far off): then the next one waits a backoff delay instead of following at once.
   */
  #nextRefreshAfter(source: RefreshSource | undefined, now: number): number {
    if (source !== 'refresh' || this.#refreshAt > now) {
      this.#dueOnArrival = 0;
      return this.#refreshAt;
    }
    this.#dueOnArrival++;
    return now + backoffDelay(this.#dueOnArrival, this.#deps.settings.retry, undefined, this.#deps.random);
  }

  // ---------------------------------------------------------------- failures

  /** Returns true when reauthenticate() recovered the episode. */
  async #onFailure(error: TokenRefreshError, generation: number): Promise<boolean> {
    const { settings, logger } = this.#deps;
    // Stopping: remember what happened, but schedule nothing and ask nobody.
    if (!this.#running) {
      this.#lastError = error;
      return false;
    }
    this.#consecutiveFailures++;
    this.#lastError = error;
    const attempt = this.#consecutiveFailures;
    const now = Date.now();

    if (!error.permanent && attempt < settings.retry.maxAttempts) {
      const delay = backoffDelay(attempt, settings.retry, retryAfterOf(error), this.#deps.random);
      this.#nextAttemptAt = now + delay;
      this.#state = 'backoff';
      this.#freshUntil = 0;
      logger.warn(Messages.retrying(this.name, error.code, attempt, delay));
      this.#emit(
        TokenRefreshEvents.REFRESH_FAILED,
        new TokenRefreshFailedEvent(this.name, new Date(now), summarizeError(error), attempt, true, new Date(this.#nextAttemptAt)),
      );
      this.#arm(this.#nextAttemptAt, now);
      return false;
    }

    // The episode has failed: ask once, then either re-authenticate or park until the user acts.
    this.#state = 'reauth-required';
    this.#nextAttemptAt = undefined;
    this.#deps.timers.clear('refresh');
    logger.error(Messages.episodeFailed(this.name, error.code, error.message));
    this.#emit(
      TokenRefreshEvents.REFRESH_FAILED,
      new TokenRefreshFailedEvent(this.name, new Date(now), summarizeError(error), attempt, false, null),
    );
    const wantsReauth = await this.#askOnRefreshFail(error);
    if (generation !== this.#generation) return false;
    if (wantsReauth) {
      if (this.#deps.reauthenticate) {
        if (await this.#reauthenticate(generation)) return true;
      } else {
        logger.warn(Messages.reauthUnavailable(this.name));
      }
    }
    if (generation !== this.#generation) return false;
    this.#state = 'reauth-required';
    logger.error(Messages.reauthRequired(this.name));
    this.#emit(
      TokenRefreshEvents.REAUTH_REQUIRED,
      new TokenReauthRequiredEvent(this.name, new Date(), summarizeError(this.#lastError ?? error)),
    );
    return false;
  }

  /** Without an onRefreshFail, re-authenticate whenever a reauthenticate function exists. */
  async #askOnRefreshFail(error: TokenRefreshError): Promise<boolean> {
    const { onRefreshFail, reauthenticate, logger } = this.#deps;
    if (!onRefreshFail) return reauthenticate !== undefined;
    try {
      return (await onRefreshFail(error)) === true;
    } catch {
      logger.warn(Messages.onRefreshFailThrew(this.name));
      return false;
    }
  }

  async #reauthenticate(generation: number): Promise<boolean> {
    const reauthenticate = this.#deps.reauthenticate!;
    this.#state = 'reauthenticating';
    const startedAt = Date.now();
    try {
      const next = resolveTokens(await reauthenticate(), startedAt);
      if (generation !== this.#generation) return false;
      await this.#persist(next);
      this.#adopt(next, undefined);
      this.#lastRefreshAt = Date.now();
      this.#deps.logger.log(Messages.reauthenticated(this.name));
      this.#emit(TokenRefreshEvents.REAUTHENTICATED, new TokenReauthenticatedEvent(this.name, new Date(), new Date(next.expiresAt)));
      return true;
    } catch (thrown) {
      const error = toRefreshError(thrown, secretsOf(this.#tokens));
      this.#lastError = error;
      this.#deps.logger.error(Messages.reauthFailed(this.name, error.code));
      return false;
    }
  }

  // ---------------------------------------------------------------- store

  async #load(): Promise<TokenPair | null | undefined> {
    try {
      return await this.#deps.store.load();
    } catch {
      const error = new TokenStoreError('load');
      this.#emit(
        TokenRefreshEvents.STORE_FAILED,
        new TokenStoreFailedEvent(this.name, new Date(), 'load', summarizeError(error), false),
      );
      throw error;
    }
  }

  /**
   * Saves before the new tokens replace the old in memory. A failure does not stop them
   * serving (the old refresh token may already be spent); they are kept and saved later.
   */
  #persist(tokens: ResolvedTokens): Promise<void> {
    this.#latestToSave = tokens;
    this.#saveChain = this.#saveChain.then(() => this.#save(tokens));
    return this.#saveChain;
  }

  #retrySave(): Promise<void> {
    const pending = this.#unsaved;
    if (!pending || pending !== this.#latestToSave) return Promise.resolve();
    this.#saveChain = this.#saveChain.then(() => this.#save(pending));
    return this.#saveChain;
  }

  async #save(tokens: ResolvedTokens): Promise<void> {
    // A newer pair was queued after this one: saving this would overwrite it.
    if (tokens !== this.#latestToSave) return;
    try {
      await this.#deps.store.save(toStoredTokens(tokens));
      if (this.#unsaved) this.#deps.logger.log(Messages.storeRecovered(this.name));
      this.#unsaved = undefined;
      this.#storeFailures = 0;
      this.#deps.timers.clear('store');
      await this.#release(this.#takeHeldLock());
    } catch {
      if (tokens !== this.#latestToSave) return;
      this.#unsaved = tokens;
      this.#storeFailures++;
      const error = new TokenStoreError('save');
      this.#deps.logger.error(Messages.storeFailed(this.name, 'save'));
      this.#emit(
        TokenRefreshEvents.STORE_FAILED,
        new TokenStoreFailedEvent(this.name, new Date(), 'save', summarizeError(error), this.#running),
      );
      if (this.#running) {
        const delay = backoffDelay(this.#storeFailures, this.#deps.settings.retry, undefined, this.#deps.random);
        this.#deps.timers.setTimeout('store', () => void this.#retrySave(), delay);
      }
    }
  }

  #watchStore(): void {
    const { store, logger } = this.#deps;
    if (!store.watch) return;
    this.#unwatch = store.watch((pair) => {
      if (!this.#running) return;
      try {
        const candidate = resolveTokens(pair, Date.now());
        // A late or replayed announcement never replaces newer tokens.
        if (storedSupersedes(pair, candidate, this.#tokens) && this.#state !== 'refreshing') this.#adopt(candidate, 'store');
      } catch {
        logger.warn(Messages.watchFailed(this.name));
      }
    });
  }

  #emit(event: string, payload: object): void {
    try {
      this.#deps.events?.emit(event, payload);
    } catch {
      // A throwing listener must not break the refresh loop.
    }
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return redactedInspect(this.constructor.name, this.#summary());
  }

  toJSON(): object {
    return this.#summary();
  }

  #summary(): Record<string, unknown> {
    return {
      name: this.name,
      state: this.#state,
      expiresAt: this.#tokens ? new Date(this.#tokens.expiresAt) : null,
    };
  }
}

/** After aborting a refresh at stop, how long it may take to unwind. */
const ABORT_GRACE = 1_000;

const noop = (): void => undefined;

/** Token values a foreign error message must not repeat. */
function secretsOf(tokens: ResolvedTokens | undefined): string[] {
  return tokens ? [tokens.accessToken, tokens.refreshToken ?? ''] : [];
}

/** True if the promise settled within `ms`. The timer is cleared either way. */
async function settleWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true, () => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
