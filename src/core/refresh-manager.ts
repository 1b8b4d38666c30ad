import { type OAuthClient } from '../common/interfaces/oauth-client.interface';
import { type RefreshLock, type RefreshLockHandle } from '../common/interfaces/refresh-lock.interface';
import { type RefreshState, type RefreshStatus } from '../common/interfaces/refresh-status.interface';
import { type ResolvedTokens, type TokenPair } from '../common/interfaces/token-pair.interface';
import { type TokenStore } from '../common/interfaces/token-store.interface';
import { TokenRefreshEvents } from '../common/token-refresh.constants';
import {
  InvalidTokenResponseError,
  MissingRefreshTokenError,
  ReauthRequiredError,
  RefreshAbortedError,
  RefreshLockError,
  TokenExpiredError,
  type TokenRefreshError,
  TokenRefreshStateError,
  TokenStoreConflictError,
  TokenStoreError,
  TokenStoreUnreadableError,
} from '../common/token-refresh.errors';
import {
  type RefreshSource,
  summarizeError,
  TokenRefreshExpiredEvent,
  TokenRefreshReauthenticatedEvent,
  TokenRefreshReauthRequiredEvent,
  TokenRefreshRefreshedEvent,
  TokenRefreshRefreshFailedEvent,
  TokenRefreshStartedEvent,
  TokenRefreshStoppedEvent,
  TokenRefreshStoreFailedEvent,
} from '../common/token-refresh.events';
import { Messages } from '../common/token-refresh.messages';
import { backoffDelay } from './backoff';
import { anchoredNow, clockAnchor } from './clock';
import { Deadline, DeadlineExceededError, settleWithin, withTimeout } from './deadline';
import { retryAfterOf, toRefreshError } from './error-classification';
import { type ResolvedSettings } from './options-validation';
import { type EventSink, type LoggerPort, type TimerPort } from './ports';
import { Redacted } from './redaction';
import { computeRefreshAt, computeWaitFrom, timerDelay } from './refresh-schedule';
import { SingleFlight } from './single-flight';
import { resolveRefreshResponse, resolveTokens, storedSupersedes, toPublicTokens, toStoredTokens } from './tokens';

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
export class TokenRefreshManager extends Redacted {
  readonly #deps: RefreshManagerDeps;
  readonly #flight = new SingleFlight<ResolvedTokens>();

  #tokens: ResolvedTokens | undefined;
  /** wall - monotonic when #tokens were taken: their deadlines are checked on both clocks (see clock.ts). */
  #anchor = 0;
  #state: RefreshState = 'stopped';
  #running = false;
  /** Bumped when the app hands in tokens (start(tokens), updateTokens): a refresh begun for others is void. */
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
  /** start() calls run one after another; stop() waits for all of them. */
  #startChain: Promise<void> | undefined;
  #startsPending = 0;
  /** Bumped by a stop() that gave up waiting for a start: that start must not begin running later. */
  #stopEpoch = 0;
  /** The unwinding flight a re-check is already chained to (one per flight, not one per call). */
  #recheckAfter: Promise<ResolvedTokens> | undefined;
  /** Refreshes in a row whose tokens were due on arrival: backs off instead of looping. */
  #dueOnArrival = 0;
  #unwatch: (() => void | Promise<void>) | undefined;
  /** Saves run one after another, newest last; a pair that failed to save waits here. */
  #saveChain: Promise<void> | undefined;
  #latestToSave: ResolvedTokens | undefined;
  #unsaved: ResolvedTokens | undefined;
  #storeFailures = 0;
  /** An unreadable stored record is reported once, until the store is readable again. */
  #unreadableReported = false;
  /** A distributed lock kept after a refresh whose tokens failed to save; released once they are saved. */
  #heldLock: RefreshLockHandle | undefined;

  constructor(deps: RefreshManagerDeps) {
    super();
    this.#deps = deps;
  }

  get name(): string {
    return this.#deps.settings.name;
  }

  protected get autoStart(): boolean {
    return this.#deps.settings.autoStart;
  }

  /** The registration's logger, so every line about it shares one context. */
  protected get logger(): LoggerPort {
    return this.#deps.logger;
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * Starts with the given tokens, or with the store's when none are given. Calls that overlap
   * run one after another (the second finds the service running and says so).
   */
  start(tokens?: TokenPair): Promise<void> {
    this.#startsPending++;
    // Only a stop already under way is waited for: a stop() called after this waits for us,
    // and tells us (through the epoch) if it gave up waiting.
    const stopping = this.#stopping;
    const epoch = stopping ? undefined : this.#stopEpoch;
    const starting = (this.#startChain ?? Promise.resolve()).then(() => this.#start(tokens, stopping, epoch));
    const chain = starting.then(noop, noop).finally(() => {
      if (--this.#startsPending === 0 && this.#startChain === chain) this.#startChain = undefined;
    });
    this.#startChain = chain;
    return starting;
  }

  async #start(tokens: TokenPair | undefined, stopping: Promise<void> | undefined, startEpoch: number | undefined): Promise<void> {
    if (stopping) await stopping;
    const epoch = startEpoch ?? this.#stopEpoch;
    // A refresh left over from before stop() may still bring rotated tokens: let it land first.
    const leftover = this.#flight.inFlight;
    if (leftover) await settleWithin(leftover, this.#deps.settings.shutdownTimeout);
    this.#assertStartable(epoch);
    let resolved: ResolvedTokens;
    if (tokens === undefined) {
      const loaded = await this.#load();
      if (!loaded) {
        throw new TokenRefreshStateError(
          `token refresh "${this.name}" has no tokens: the store holds none it can use; call start(tokens)`,
        );
      }
      // A refresh that landed after the last save may hold a newer pair than the store has.
      const held = this.#tokens;
      resolved = held && !storedSupersedes(loaded.given, loaded.resolved, held) ? held : loaded.resolved;
    } else {
      resolved = await this.#handedIn(tokens);
    }
    // Everything that can throw has run: only now does any state change.
    this.#assertStartable(epoch);
    if (tokens !== undefined) this.#generation++;
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
    const now = this.#now();
    const lapsed = now >= resolved.expiresAt;
    // Lapsed while the app was down: expected after a restart, and refreshed next.
    this.#deps.logger.log(lapsed ? Messages.startedLapsed(this.name, resolved.expiresAt) : Messages.started(this.name, resolved.expiresAt));
    this.#emit(TokenRefreshEvents.STARTED, new TokenRefreshStartedEvent({ name: this.name, at: new Date(), expiresAt: new Date(resolved.expiresAt) }));
    if (lapsed) {
      this.#expiredNotified = true;
      this.#emit(TokenRefreshEvents.EXPIRED, new TokenRefreshExpiredEvent({ name: this.name, at: new Date(), expiredAt: new Date(resolved.expiresAt) }));
    }
    // The first check runs now, not one interval later: tokens loaded from a store may be due.
    this.#check();
  }

  #assertStartable(epoch: number): void {
    if (epoch !== this.#stopEpoch) {
      throw new TokenRefreshStateError(`token refresh "${this.name}" was stopped while starting`);
    }
    if (this.#running) {
      throw new TokenRefreshStateError(`token refresh "${this.name}" is already running; call stop() first`);
    }
  }

  /**
   * Tokens the app hands in (after a login) replace whatever is held or stored, so they get a
   * version above both; with several replicas the store is read to learn its version.
   */
  async #handedIn(tokens: TokenPair): Promise<ResolvedTokens> {
    // Checked before the store is asked anything: bad tokens fail fast and change nothing.
    const now = Date.now();
    const checked = resolveTokens(tokens, now);
    if (checked.version !== undefined) return checked;
    let base = this.#tokens?.version ?? 0;
    if (this.#deps.lock.distributed) {
      const stored = await this.#load().catch(() => undefined);
      base = Math.max(base, stored?.resolved.version ?? 0);
    }
    return resolveTokens(tokens, now, base + 1);
  }

  /**
   * Idempotent and safe before start. Waits up to shutdownTimeout for a refresh in flight
   * (so a rotated token is not lost halfway), then aborts it; the whole stop, starts in
   * progress and the store included, ends within shutdownTimeout plus a bounded grace.
   * The service can start again.
   */
  stop(): Promise<void> {
    if (this.#stopping) return this.#stopping;
    if (!this.#running && this.#startsPending === 0) return Promise.resolve();
    const timeout = this.#deps.settings.shutdownTimeout;
    const deadline = new Deadline(timeout);
    const hardDeadline = new Deadline(timeout + Math.min(STOP_GRACE, timeout));
    // Only the starts begun before this stop: a start() called during it waits for it.
    const starts = this.#startChain;
    const pending = this.#startsPending > 0;
    this.#stopping = (async () => {
      // A stop() that arrives while start() is still loading or saving stops what it starts;
      // a start that is still not done by the deadline is told not to start at all. Without
      // one, #stop begins at once: no refresh may slip in before #running is false.
      if (pending && starts && !(await settleWithin(starts, deadline.remaining()))) this.#stopEpoch++;
      if (this.#running) await this.#stop(deadline, hardDeadline);
    })().finally(() => {
      this.#stopping = undefined;
    });
    return this.#stopping;
  }

  async #stop(deadline: Deadline, hardDeadline: Deadline): Promise<void> {
    this.#running = false;
    this.#clearTimers();
    // While stopped, every read takes the checked path (no timer will mark the token stale).
    this.#freshUntil = 0;
    const unwatch = this.#unwatch;
    this.#unwatch = undefined;
    if (unwatch) await settleWithin(Promise.resolve().then(unwatch), deadline.remaining());

    // No new refresh can start once #running is false, but one queued behind a stale flight
    // may follow the one in flight now: wait for each, within the one deadline.
    for (let inFlight = this.#flight.inFlight; inFlight; inFlight = this.#flight.inFlight) {
      if (await settleWithin(inFlight, deadline.remaining())) continue;
      this.#deps.logger.warn(Messages.abortedOnStop(this.name, this.#deps.settings.shutdownTimeout));
      this.#abort?.abort(new RefreshAbortedError());
      // A client that honours the signal unwinds at once; one that does not is not waited for.
      // If its tokens still arrive later they are saved and kept: the old refresh token is spent.
      await settleWithin(inFlight, hardDeadline.remaining());
      break;
    }
    // Last chance for a rotated refresh token that the store refused earlier.
    if (this.#unsaved) await settleWithin(this.#retrySave(), hardDeadline.remaining());
    await settleWithin(this.#release(this.#takeHeldLock()), hardDeadline.remaining());
    this.#state = 'stopped';
    this.#nextAttemptAt = undefined;
    this.#deps.logger.log(Messages.stopped(this.name));
    this.#emit(TokenRefreshEvents.STOPPED, new TokenRefreshStoppedEvent({ name: this.name, at: new Date() }));
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
    const resolved = await this.#handedIn(tokens);
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
    if (tokens === undefined) return undefined;
    return Date.now() < this.#freshUntil || this.#now() < tokens.expiresAt ? tokens.accessToken : undefined;
  }

  /** A frozen copy of the tokens held, or null. With getAccessToken and peekAccessToken, the only methods that return secrets. */
  getTokens(): Readonly<TokenPair & { expiresAt: Date }> | null {
    return this.#tokens ? toPublicTokens(this.#tokens, this.#now()) : null;
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
    const now = this.#now();
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
      lastError: error ? lastErrorOf(error) : null,
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
    const now = this.#now();
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
    if (tokens && this.#now() < tokens.expiresAt) return tokens.accessToken;
    throw this.#state === 'reauth-required' ? new ReauthRequiredError(this.name) : new TokenExpiredError(this.name, this.#lastError?.code);
  }

  /** Now, as the held tokens' deadlines must be read: on both clocks (see clock.ts). */
  #now(): number {
    return anchoredNow(this.#anchor);
  }

  // ---------------------------------------------------------------- scheduling

  /** Runs on the interval, on the refresh timer and at start. Catches late timers and clock jumps. */
  #check(): void {
    if (!this.#running || !this.#tokens) return;
    const now = this.#now();
    if (now >= this.#tokens.expiresAt && !this.#expiredNotified) {
      this.#expiredNotified = true;
      this.#freshUntil = 0;
      this.#deps.logger.warn(Messages.expired(this.name));
      this.#emit(TokenRefreshEvents.EXPIRED, new TokenRefreshExpiredEvent({ name: this.name, at: new Date(), expiredAt: new Date(this.#tokens.expiresAt) }));
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
        if (stored && storedSupersedes(stored.given, stored.resolved, this.#tokens)) {
          this.#adopt(stored.resolved, 'store');
          return stored.resolved;
        }
      }
      const current = this.#tokens;
      if (!current?.refreshToken) throw new MissingRefreshTokenError();
      // A lost lease is checked before sending, never used to abort a request already sent:
      // that cannot un-spend the refresh token, it would only lose our copy of the rotation.
      if (handle.lost?.aborted) throw new RefreshLockError('refresh lock lost before the request was sent');
      const sentAt = performance.now();
      const response = await this.#deps.client.refresh(current.refreshToken, { signal });
      // What arrived is kept even if stop() aborted meanwhile, or a restart happened: the old
      // refresh token is spent. Only tokens the app handed in since, for another grant, make it moot.
      if (generation !== this.#generation && this.#tokens?.refreshToken !== current.refreshToken) {
        throw new RefreshAbortedError();
      }
      const outcome = resolveRefreshResponse(response, current, startedAt);
      for (const field of outcome.dropped) this.#deps.logger.warn(Messages.responseFieldDropped(this.name, field));
      if (!outcome.tokens) {
        if (outcome.keep) await this.#keepRotation(outcome.keep);
        throw new InvalidTokenResponseError(
          outcome.keep ? 'no usable access_token (the rotated refresh token was kept)' : 'no usable access_token',
        );
      }
      await this.#persist(outcome.tokens);
      this.#adopt(outcome.tokens, 'refresh', Math.round(performance.now() - sentAt));
      return outcome.tokens;
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

  /**
   * A response that rotated the refresh token but brought no usable access token: the new
   * refresh token replaces the spent one (saved first, like any rotation), and the held access
   * token keeps serving while the failure is retried.
   */
  async #keepRotation(tokens: ResolvedTokens): Promise<void> {
    await this.#persist(tokens);
    this.#tokens = tokens;
  }

  /** Takes new tokens into memory and reschedules. `source` undefined: given by the caller. */
  #adopt(tokens: ResolvedTokens, source: RefreshSource | undefined, durationMs = 0): void {
    // The anchor belongs to the tokens: taking the same ones up again (a restart) keeps it.
    if (tokens !== this.#tokens) this.#anchor = clockAnchor();
    const now = this.#now();
    this.#tokens = tokens;
    this.#refreshAt = computeRefreshAt(tokens, this.#deps.settings.refreshThreshold);
    this.#waitFrom = computeWaitFrom(tokens, this.#refreshAt);
    this.#consecutiveFailures = 0;
    this.#lastError = undefined;
    this.#nextAttemptAt = undefined;
    this.#expiredNotified = false;
    this.#freshPromise = Promise.resolve(tokens.accessToken);
    if (source !== undefined) this.#lastRefreshAt = now;
    if (!this.#running) {
      // No refresh timer runs to mark the token stale (the hot path trusts it to): reads take the checked path.
      this.#freshUntil = 0;
      this.#state = 'stopped';
      return;
    }
    this.#freshUntil = this.#refreshAt;
    this.#state = 'idle';
    if (source !== undefined) {
      this.#deps.logger.log(Messages.refreshed(this.name, tokens.expiresAt, source));
      this.#emit(
        TokenRefreshEvents.REFRESHED,
        new TokenRefreshRefreshedEvent({
          name: this.name,
          at: new Date(),
          expiresAt: new Date(tokens.expiresAt),
          refreshAt: new Date(this.#refreshAt),
          source,
          durationMs,
        }),
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
    const now = this.#now();

    if (!error.permanent && attempt < settings.retry.maxAttempts) {
      const delay = backoffDelay(attempt, settings.retry, retryAfterOf(error), this.#deps.random);
      this.#nextAttemptAt = now + delay;
      this.#state = 'backoff';
      this.#freshUntil = 0;
      logger.warn(Messages.retrying(this.name, error.code, attempt, delay));
      this.#emit(
        TokenRefreshEvents.REFRESH_FAILED,
        new TokenRefreshRefreshFailedEvent({
          name: this.name,
          at: new Date(),
          error: summarizeError(error),
          attempt,
          willRetry: true,
          nextAttemptAt: new Date(this.#nextAttemptAt),
        }),
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
      new TokenRefreshRefreshFailedEvent({ name: this.name, at: new Date(), error: summarizeError(error), attempt, willRetry: false, nextAttemptAt: null }),
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
      new TokenRefreshReauthRequiredEvent({ name: this.name, at: new Date(), error: summarizeError(this.#lastError ?? error) }),
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
      const next = resolveTokens(await reauthenticate(), startedAt, (this.#tokens?.version ?? 0) + 1);
      if (generation !== this.#generation) return false;
      await this.#persist(next);
      this.#adopt(next, undefined);
      this.#lastRefreshAt = Date.now();
      this.#deps.logger.log(Messages.reauthenticated(this.name));
      this.#emit(TokenRefreshEvents.REAUTHENTICATED, new TokenRefreshReauthenticatedEvent({ name: this.name, at: new Date(), expiresAt: new Date(next.expiresAt) }));
      return true;
    } catch (thrown) {
      const error = toRefreshError(thrown, secretsOf(this.#tokens));
      this.#lastError = error;
      this.#deps.logger.error(Messages.reauthFailed(this.name, error.code));
      return false;
    }
  }

  // ---------------------------------------------------------------- store

  /**
   * The store's pair, checked. Bounded by storeTimeout. A record the store cannot read, or a
   * pair we cannot use, counts as absent (reported once) so the next save replaces it: one
   * corrupt record must not stop refreshing for good. Any other failure throws TokenStoreError.
   */
  async #load(): Promise<{ given: TokenPair; resolved: ResolvedTokens } | undefined> {
    const { store, settings } = this.#deps;
    let given: TokenPair | null | undefined;
    try {
      given = await withTimeout(Promise.resolve().then(() => store.load()), settings.storeTimeout);
    } catch (thrown) {
      if (thrown instanceof TokenStoreUnreadableError) return this.#unreadable(thrown);
      const error = new TokenStoreError('load', thrown instanceof DeadlineExceededError ? `timed out after ${settings.storeTimeout} ms` : undefined);
      this.#storeFailed('load', error, false);
      throw error;
    }
    if (given === null || given === undefined) {
      this.#unreadableReported = false;
      return undefined;
    }
    let resolved: ResolvedTokens;
    try {
      resolved = resolveTokens(given, Date.now());
    } catch (thrown) {
      return this.#unreadable(new TokenStoreUnreadableError((thrown as { field?: string }).field ?? 'tokens'));
    }
    this.#unreadableReported = false;
    return { given, resolved };
  }

  #unreadable(error: TokenStoreUnreadableError): undefined {
    if (!this.#unreadableReported) {
      this.#unreadableReported = true;
      this.#deps.logger.error(Messages.storeUnreadable(this.name, error.reason));
      this.#storeFailed('load', error, false);
    }
    return undefined;
  }

  /**
   * Saves before the new tokens replace the old in memory. A failure does not stop them
   * serving (the old refresh token may already be spent); they are kept and saved later.
   */
  #persist(tokens: ResolvedTokens): Promise<void> {
    this.#latestToSave = tokens;
    return this.#chainSave(tokens);
  }

  #retrySave(): Promise<void> {
    const pending = this.#unsaved;
    if (!pending || pending !== this.#latestToSave) return Promise.resolve();
    return this.#chainSave(pending);
  }

  /** Saves run one after another; the chain is dropped once idle, so an idle manager holds no promise. */
  #chainSave(tokens: ResolvedTokens): Promise<void> {
    const chain = (this.#saveChain ?? Promise.resolve()).then(() => this.#save(tokens));
    this.#saveChain = chain;
    void chain.then(() => {
      if (this.#saveChain === chain) this.#saveChain = undefined;
    });
    return chain;
  }

  async #save(tokens: ResolvedTokens): Promise<void> {
    // A newer pair was queued after this one: saving this would overwrite it.
    if (tokens !== this.#latestToSave) return;
    const { store, settings, logger } = this.#deps;
    try {
      await withTimeout(Promise.resolve().then(() => store.save(toStoredTokens(tokens))), settings.storeTimeout);
      if (this.#unsaved) logger.log(Messages.storeRecovered(this.name));
      await this.#saved();
    } catch (thrown) {
      if (tokens !== this.#latestToSave) return;
      if (thrown instanceof TokenStoreConflictError) {
        // The store holds a newer pair: saving ours again cannot win, and holding the lock for it would stall every replica.
        await this.#saved();
        logger.error(Messages.storeConflict(this.name));
        this.#storeFailed('save', thrown, false);
        return;
      }
      this.#unsaved = tokens;
      this.#storeFailures++;
      const error = new TokenStoreError('save', thrown instanceof DeadlineExceededError ? `timed out after ${settings.storeTimeout} ms` : undefined);
      logger.error(Messages.storeFailed(this.name, 'save'));
      this.#storeFailed('save', error, this.#running);
      if (this.#running) {
        const delay = backoffDelay(this.#storeFailures, settings.retry, undefined, this.#deps.random);
        this.#deps.timers.setTimeout('store', () => void this.#retrySave(), delay);
      }
    }
  }

  /** The latest pair is in the store (or the store holds a newer one): nothing is pending. */
  async #saved(): Promise<void> {
    this.#unsaved = undefined;
    this.#storeFailures = 0;
    this.#deps.timers.clear('store');
    await this.#release(this.#takeHeldLock());
  }

  #storeFailed(operation: 'load' | 'save', error: TokenRefreshError, willRetry: boolean): void {
    this.#emit(
      TokenRefreshEvents.STORE_FAILED,
      new TokenRefreshStoreFailedEvent({ name: this.name, at: new Date(), operation, error: summarizeError(error), willRetry }),
    );
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

  protected redactedSummary(): Record<string, unknown> {
    return {
      name: this.name,
      state: this.#state,
      expiresAt: this.#tokens ? new Date(this.#tokens.expiresAt) : null,
    };
  }
}

/**
 * What stop() may take beyond shutdownTimeout (at most as much again): an aborted refresh
 * unwinding, the last save, the lock's release.
 */
const STOP_GRACE = 1_000;

const noop = (): void => undefined;

function lastErrorOf(error: TokenRefreshError): RefreshStatus['lastError'] {
  const { code, message, oauthError } = summarizeError(error);
  return Object.freeze(oauthError === undefined ? { code, message } : { code, message, oauthError });
}

/** Token values a foreign error message must not repeat. */
function secretsOf(tokens: ResolvedTokens | undefined): string[] {
  return tokens ? [tokens.accessToken, tokens.refreshToken ?? ''] : [];
}
