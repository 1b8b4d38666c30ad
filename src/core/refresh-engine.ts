import { type RefreshLockHandle } from '../common/interfaces/refresh-lock.interface';
import { type RefreshState, type RefreshStatus } from '../common/interfaces/refresh-status.interface';
import { type ResolvedTokens, type TokenPair } from '../common/interfaces/token-pair.interface';
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
  TokenStoreError,
} from '../common/token-refresh.errors';
import {
  type RefreshSource,
  summarizeError,
  TokenRefreshExpiredEvent,
  TokenRefreshReauthenticatedEvent,
  TokenRefreshReauthRequiredEvent,
  TokenRefreshRefreshedEvent,
  TokenRefreshRefreshFailedEvent,
  TokenRefreshRevokeFailedEvent,
  TokenRefreshStartedEvent,
  TokenRefreshStoppedEvent,
} from '../common/token-refresh.events';
import { Messages } from '../common/token-refresh.messages';
import { clockAnchor } from './clock';
import { Credential } from './credential';
import { Deadline, DeadlineExceededError, settleWithin, withTimeout } from './deadline';
import { EngineContext, type EngineDeps } from './engine-context';
import { toRefreshError } from './error-classification';
import { afterArrival, afterFailure } from './failure-policy';
import { Persistence } from './persistence';
import { computeRefreshAt, computeWaitFrom } from './refresh-schedule';
import { RefreshScheduler } from './refresh-scheduler';
import { type AttemptOutcome, NO_TELEMETRY, type RefreshAttemptProbe, type RefreshTelemetry, type RefreshTrigger, type TelemetrySource } from './telemetry';
import { resolveRefreshResponse, resolveTokens, storedSupersedes, toPublicTokens } from './tokens';

const STATES: readonly RefreshState[] = ['stopped', 'idle', 'refreshing', 'backoff', 'reauthenticating', 'reauth-required'];

/** Counts of credentials per state. */
export type StateCounts = Record<RefreshState, number>;

/**
 * What a start prepares before the engine runs: it may load and validate (and throw; nothing
 * has changed yet), and returns what to do once the engine is running.
 */
export type StartPreparation = () => Promise<(() => Promise<void>) | void>;

/**
 * The refresh engine: keeps one credential, or a million keyed ones, valid. Each credential is
 * a small record (credential.ts); one scheduler drives them all (refresh-scheduler.ts); the store
 * is reached through persistence.ts; what happens after a failure is failure-policy.ts. This
 * class holds them together: the lifecycle, the refresh of one key under its lock, failures and
 * re-authentication, and reading tokens.
 */
export class RefreshEngine {
  readonly #context: EngineContext;
  readonly #deps: EngineDeps;
  readonly #credentials = new Map<string, Credential>();
  readonly #scheduler: RefreshScheduler;
  readonly #persistence: Persistence;
  readonly #counts: StateCounts = { stopped: 0, idle: 0, refreshing: 0, backoff: 0, reauthenticating: 0, 'reauth-required': 0 };
  /** Keys being loaded from the store on demand: one load per key at a time (made on first use). */
  #loading: Map<string, Promise<Credential | undefined>> | undefined;
  #running = false;
  #stopping: Promise<void> | undefined;
  /** start() calls run one after another; stop() waits for them. */
  #startChain: Promise<void> | undefined;
  #startsPending = 0;
  /** Bumped by a stop() that gave up waiting for a start: that start must not begin running later. */
  #stopEpoch = 0;
  #unwatch: (() => void | Promise<void>) | undefined;
  #unwatchTelemetry: (() => void) | undefined;
  #scanning = false;
  readonly #telemetry: RefreshTelemetry;
  /** getAccessToken() answers: counted here, read by telemetry when it collects. */
  readonly reads = { fresh: 0, waited: 0, failed: 0 };
  #evictions = 0;

  constructor(deps: EngineDeps) {
    this.#deps = deps;
    this.#context = new EngineContext(deps);
    this.#scheduler = new RefreshScheduler({
      timers: deps.timers,
      host: this,
      checkInterval: deps.settings.checkInterval,
      maxConcurrent: deps.keyed ? deps.settings.maxConcurrentRefreshes : 1,
    });
    this.#persistence = new Persistence(this.#context, this);
    this.#telemetry = deps.telemetry ?? NO_TELEMETRY;
  }

  /** The scheduler's call: `c` is due. */
  onDue(c: Credential): void {
    this.#check(c);
  }

  /** The scheduler's call, on the check interval. */
  onCheck(): void {
    this.#periodic();
  }

  /** Persistence's call: the latest pair of `c` is saved (or the store holds a newer one). */
  onSettled(c: Credential): Promise<void> {
    return this.#release(c, this.#takeHeldLock(c));
  }

  get name(): string {
    return this.#deps.settings.name;
  }

  get settings(): EngineDeps['settings'] {
    return this.#deps.settings;
  }

  isRunning(): boolean {
    return this.#running;
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * Starts the engine. `prepare` runs first (loading, validating: it may throw, and nothing
   * has changed yet); what it returns runs once the engine is running. Calls that overlap run
   * one after another (the second finds the engine running and says so).
   */
  start(prepare?: StartPreparation): Promise<void> {
    this.#startsPending++;
    // Only a stop already under way is waited for: a stop() called after this waits for us,
    // and tells us (through the epoch) if it gave up waiting.
    const stopping = this.#stopping;
    const epoch = stopping ? undefined : this.#stopEpoch;
    const starting = (this.#startChain ?? Promise.resolve()).then(() => this.#start(prepare, stopping, epoch));
    const chain = starting.then(noop, noop).finally(() => {
      if (--this.#startsPending === 0 && this.#startChain === chain) this.#startChain = undefined;
    });
    this.#startChain = chain;
    return starting;
  }

  async #start(prepare: StartPreparation | undefined, stopping: Promise<void> | undefined, startEpoch: number | undefined): Promise<void> {
    if (stopping) await stopping;
    const epoch = startEpoch ?? this.#stopEpoch;
    // Refreshes left over from before stop() may still bring rotated tokens: let them land first.
    const leftovers = [...this.#credentials.values()].flatMap((c) => (c.busy?.flight ? [c.busy.flight] : []));
    if (leftovers.length > 0) await settleWithin(Promise.all(leftovers), this.#deps.settings.shutdownTimeout);
    this.#assertStartable(epoch);
    const commit = await prepare?.();
    // Everything that can throw has run: only now does any state change.
    this.#assertStartable(epoch);
    this.#running = true;
    try {
      if (commit) await commit();
      for (const c of this.#credentials.values()) {
        if (c.state !== 'stopped') continue;
        if (c.tokens) this.#adopt(c, c.tokens, undefined);
        // A credential with nothing yet, to be obtained from scratch (client_credentials).
        else if (this.#deps.client.requestToken) this.#setState(c, 'idle');
      }
      this.#watchStore();
    } catch (error) {
      // A store whose watch() throws must not leave us "running" with no schedule.
      this.#running = false;
      for (const c of this.#credentials.values()) this.#deactivate(c);
      throw toRefreshError(error, this.#secrets());
    }
    this.#scheduler.start();
    this.#unwatchTelemetry = this.#telemetry.watch(this.#telemetrySource());
    this.#announceStarted();
    // The first check runs now, not one interval later: tokens loaded from a store may be due.
    // Through the scheduler, so that many keys due at once go in order.
    this.#scheduler.check();
  }

  #assertStartable(epoch: number): void {
    if (epoch !== this.#stopEpoch) {
      throw new TokenRefreshStateError(`token refresh "${this.name}" was stopped while starting`);
    }
    if (this.#running) {
      throw new TokenRefreshStateError(`token refresh "${this.name}" is already running; call stop() first`);
    }
  }

  #announceStarted(): void {
    const { logger, keyed } = this.#deps;
    if (keyed) {
      logger.log(Messages.startedKeyed(this.name, this.#credentials.size));
      this.#context.emit(TokenRefreshEvents.STARTED, new TokenRefreshStartedEvent({ ...this.#context.fields(), expiresAt: null }));
      return;
    }
    const c = this.#credentials.values().next().value as Credential | undefined;
    const tokens = c?.tokens;
    if (!c || !tokens) return;
    const lapsed = c.now() >= tokens.expiresAt;
    // Lapsed while the app was down: expected after a restart, and refreshed next.
    logger.log(lapsed ? Messages.startedLapsed(this.name, tokens.expiresAt) : Messages.started(this.name, tokens.expiresAt));
    this.#context.emit(TokenRefreshEvents.STARTED, new TokenRefreshStartedEvent({ ...this.#context.fields(), expiresAt: new Date(tokens.expiresAt) }));
    if (lapsed) this.#notifyExpired(c, false);
  }

  /**
   * Idempotent and safe before start. Waits up to shutdownTimeout for refreshes in flight (so
   * rotated tokens are not lost halfway), then aborts them; the whole stop, starts in progress
   * and the store included, ends within shutdownTimeout plus a bounded grace.
   */
  stop(): Promise<void> {
    if (this.#stopping) return this.#stopping;
    if (!this.#running && this.#startsPending === 0) return Promise.resolve();
    const timeout = this.#deps.settings.shutdownTimeout;
    const deadline = new Deadline(timeout);
    const hardDeadline = new Deadline(timeout + Math.min(STOP_GRACE, timeout));
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
    this.#unwatchTelemetry?.();
    this.#unwatchTelemetry = undefined;
    this.#scheduler.stop();
    this.#scheduler.dequeueAll(new RefreshAbortedError());
    this.#persistence.clearTimer();
    for (const c of this.#credentials.values()) this.#deactivate(c);
    const unwatch = this.#unwatch;
    this.#unwatch = undefined;
    if (unwatch) await settleWithin(Promise.resolve().then(unwatch), deadline.remaining());

    // No new refresh can start once #running is false, but one queued behind a stale flight
    // may follow the one in flight now: wait for each, within the one deadline.
    const flights = (): Promise<unknown>[] => [...this.#credentials.values()].flatMap((c) => (c.busy?.flight ? [c.busy.flight] : []));
    let inFlight = flights();
    while (inFlight.length > 0) {
      if (!(await settleWithin(Promise.all(inFlight), deadline.remaining()))) {
        this.#deps.logger.warn(Messages.abortedOnStop(this.name, this.#deps.settings.shutdownTimeout));
        for (const c of this.#credentials.values()) c.busy?.abort?.abort(new RefreshAbortedError());
        // A client that honours the signal unwinds at once; one that does not is not waited for.
        // If its tokens still arrive later they are saved and kept: the old refresh token is spent.
        await settleWithin(Promise.all(inFlight), hardDeadline.remaining());
        break;
      }
      inFlight = flights();
    }
    // Last chance for rotated refresh tokens that the store refused earlier, or is still saving.
    const saving = [...this.#credentials.values()].flatMap((c) => (c.busy?.unsaved || c.busy?.saveChain ? [this.#persistence.flush(c)] : []));
    if (saving.length > 0) await settleWithin(Promise.all(saving), hardDeadline.remaining());
    const held = [...this.#credentials.values()].map((c) => this.#release(c, this.#takeHeldLock(c)));
    await settleWithin(Promise.all(held), hardDeadline.remaining());
    // A single registration's refresh token is no longer wanted once it stops (keyed: at delete).
    if (!this.#deps.keyed) {
      for (const c of this.#credentials.values()) await this.#revoke(c, hardDeadline.remaining());
    }
    for (const c of this.#credentials.values()) this.#deactivate(c);
    this.#deps.logger.log(Messages.stopped(this.name));
    this.#context.emit(TokenRefreshEvents.STOPPED, new TokenRefreshStoppedEvent(this.#context.fields()));
  }

  /** A credential of a stopped engine: no schedule, and reads take the checked path. */
  #deactivate(c: Credential): void {
    this.#scheduler.cancel(c);
    this.#setState(c, 'stopped');
    if (c.busy) c.busy.nextAttemptAt = undefined;
    this.#tidy(c);
  }

  // ---------------------------------------------------------------- credentials

  /** The credential held in memory for `key`. */
  find(key: string): Credential | undefined {
    return this.#credentials.get(key);
  }

  /** The credential for `key`, made (empty) if it is not held. */
  credential(key: string): Credential {
    let c = this.#credentials.get(key);
    if (!c) {
      c = new Credential(key);
      c.used = this.#scheduler.tick;
      this.#credentials.set(key, c);
      this.#counts.stopped++;
      this.#evictIfOver();
    }
    return c;
  }

  get size(): number {
    return this.#credentials.size;
  }

  /** The scheduler's coarse clock, for recording accesses (see touch). */
  get tick(): number {
    return this.#scheduler.tick;
  }

  /** Refreshes in flight now, and waiting for a slot. */
  load(): { inFlight: number; queued: number } {
    return { inFlight: this.#scheduler.inFlight, queued: this.#scheduler.queued };
  }

  /** Drops a credential made for a key that never got tokens (they were invalid). */
  forgetIfEmpty(c: Credential): void {
    if (!c.tokens) this.#drop(c);
  }

  /**
   * Tokens the app hands in (after a login) replace whatever is held or stored, so they get a
   * version above both; with several replicas the store is read to learn its version.
   * Validated before anything else happens: bad tokens throw and change nothing.
   */
  async handIn(c: Credential, tokens: TokenPair): Promise<ResolvedTokens> {
    const now = Date.now();
    const checked = resolveTokens(tokens, now);
    if (checked.version !== undefined) return checked;
    let base = c.tokens?.version ?? 0;
    if (this.#deps.lock.distributed) {
      const stored = await this.#persistence.load(c).catch(() => undefined);
      base = Math.max(base, stored?.resolved.version ?? 0);
    }
    return resolveTokens(tokens, now, base + 1);
  }

  /** The app's tokens for `c` (resolved by handIn): a refresh in flight for older ones is void. Saved, then held. */
  async put(c: Credential, resolved: ResolvedTokens): Promise<void> {
    c.generation++;
    this.#scheduler.dequeue(c, new RefreshAbortedError());
    c.busy?.abort?.abort(new RefreshAbortedError());
    await this.#persistence.persist(c, resolved);
    this.#adopt(c, resolved, undefined);
  }

  /** Looks at `c` now: refreshes it if it is due (tokens just handed in may be). */
  check(c: Credential): void {
    this.#check(c);
  }

  /** The store's pair for `c`, if the store holds one it can use. Throws TokenStoreError when the store fails. */
  loadStored(c: Credential): ReturnType<Persistence['load']> {
    return this.#persistence.load(c);
  }

  /** Takes up a pair loaded from the store, unless what is held is newer (a refresh landed after the last save). */
  takeUp(c: Credential, loaded: { given: TokenPair; resolved: ResolvedTokens }): void {
    const held = c.tokens;
    const tokens = held && !storedSupersedes(loaded.given, loaded.resolved, held) ? held : loaded.resolved;
    this.#adopt(c, tokens, undefined);
  }

  /**
   * The credential for `key`, from memory or else from the store (one load per key at a time).
   * Undefined when neither holds it.
   */
  async resolveKey(key: string): Promise<Credential | undefined> {
    const held = this.#credentials.get(key);
    if (held?.tokens) return held;
    const loads = (this.#loading ??= new Map());
    let loading = loads.get(key);
    if (!loading) {
      loading = (async () => {
        const c = this.credential(key);
        try {
          const loaded = await this.#persistence.load(c);
          if (!loaded) {
            if (!c.tokens) this.#drop(c);
            return c.tokens ? c : undefined;
          }
          this.takeUp(c, loaded);
          this.#check(c);
          return c;
        } catch (error) {
          if (!c.tokens) this.#drop(c);
          throw error;
        }
      })().finally(() => loads.delete(key));
      loads.set(key, loading);
    }
    return loading;
  }

  /** Forgets `key`: in memory and in the store. A refresh in flight is aborted and its result dropped. */
  async delete(key: string): Promise<void> {
    const c = this.#credentials.get(key);
    if (c) {
      c.generation++;
      this.#scheduler.dequeue(c, new RefreshAbortedError());
      c.busy?.abort?.abort(new RefreshAbortedError());
      this.#persistence.forget(c);
      await this.#release(c, this.#takeHeldLock(c));
      this.#drop(c);
      await this.#revoke(c, this.#deps.settings.shutdownTimeout);
    }
    const { store, settings } = this.#deps;
    try {
      await withTimeout(Promise.resolve().then(() => store.delete(key)), settings.storeTimeout);
    } catch (thrown) {
      throw new TokenStoreError('delete', thrown instanceof DeadlineExceededError ? `timed out after ${settings.storeTimeout} ms` : undefined);
    }
  }

  #drop(c: Credential): void {
    if (this.#credentials.get(c.key) !== c) return;
    this.#scheduler.cancel(c);
    this.#credentials.delete(c.key);
    this.#counts[c.state]--;
    c.state = 'stopped';
  }

  /** Keys held in memory, optionally only those in `state`. */
  keys(state?: RefreshState): string[] {
    const keys: string[] = [];
    for (const c of this.#credentials.values()) if (state === undefined || c.state === state) keys.push(c.key);
    return keys;
  }

  /** How many credentials are held in each state. */
  counts(): StateCounts {
    return { ...this.#counts };
  }

  #setState(c: Credential, state: RefreshState): void {
    if (c.state === state) return;
    if (this.#credentials.get(c.key) === c) {
      this.#counts[c.state]--;
      this.#counts[state]++;
    }
    c.state = state;
  }

  // ---------------------------------------------------------------- reading tokens

  /** The access token of `c`: at once while fresh or comfortably valid; near expiry, after the refresh. */
  accessToken(c: Credential): Promise<string> {
    if (c.state === 'idle' && Date.now() < c.refreshAt) {
      this.reads.fresh++;
      return (c.fresh ??= Promise.resolve(c.tokens!.accessToken));
    }
    return this.slowAccessToken(c);
  }

  /**
   * Past refreshAt (or not idle). The held token keeps serving while it is comfortably valid (a
   * slow or hung token endpoint must not stall every outbound call); only near expiry do
   * callers wait, and then all of them share one promise per refresh rather than one each.
   */
  slowAccessToken(c: Credential): Promise<string> {
    const tokens = c.tokens;
    if (!tokens) return this.#firstAccessToken(c);
    const now = c.now();
    if (this.#running && c.state === 'idle' && now >= c.refreshAt) this.#refreshInBackground(c, 'on-access');
    const work = c.busy;
    const inFlight = work?.flight;
    if (work && inFlight && now >= computeWaitFrom(tokens, c.refreshAt)) {
      if (!work.urgent) {
        work.urgent = true;
        this.#scheduler.promote(c);
      }
      if (work.waiters?.flight !== inFlight) {
        const settled = (): string => this.#currentAccessToken(c);
        const result = inFlight.then(settled, settled);
        // Counted once per flight's waiters' outcome, not per caller: the hot path must stay a plain read.
        result.then(
          () => this.reads.waited++,
          () => this.reads.failed++,
        );
        work.waiters = { flight: inFlight, result };
      }
      return work.waiters.result;
    }
    try {
      const token = this.#currentAccessToken(c);
      this.reads.fresh++;
      return Promise.resolve(token);
    } catch (error) {
      this.reads.failed++;
      return Promise.reject(error);
    }
  }

  /**
   * No tokens yet. A client that obtains tokens from scratch (client_credentials) gets the
   * first ones now (or the callers share the attempt already under way); anything else is
   * the app's to hand in.
   */
  #firstAccessToken(c: Credential): Promise<string> {
    if (!this.#running || !this.#deps.client.requestToken) {
      this.reads.failed++;
      return Promise.reject(this.#noTokens(c));
    }
    const flight = c.busy?.flight ?? this.#refresh(c, 'on-access');
    const work = c.work();
    if (work.waiters?.flight !== flight) {
      const settled = (): string => this.#currentAccessToken(c);
      const result = flight.then(settled, settled);
      result.then(
        () => this.reads.waited++,
        () => this.reads.failed++,
      );
      work.waiters = { flight, result };
    }
    return work.waiters.result;
  }

  /** Synchronous read: the access token if one is held and unexpired, else undefined. */
  peekAccessToken(c: Credential): string | undefined {
    const tokens = c.tokens;
    if (tokens === undefined) return undefined;
    return (c.state === 'idle' && Date.now() < c.refreshAt) || c.now() < tokens.expiresAt ? tokens.accessToken : undefined;
  }

  tokensOf(c: Credential): Readonly<TokenPair & { expiresAt: Date }> | null {
    return c.tokens ? toPublicTokens(c.tokens, c.now()) : null;
  }

  status(c: Credential): RefreshStatus {
    const now = c.now();
    const tokens = c.tokens;
    const error = c.busy?.lastError;
    const nextAttemptAt = c.busy?.nextAttemptAt;
    const status: RefreshStatus = {
      name: this.name,
      ...(this.#deps.keyed ? { key: c.key } : {}),
      isRunning: this.#running,
      state: c.state,
      expiresAt: tokens ? new Date(tokens.expiresAt) : null,
      refreshAt: tokens ? new Date(c.refreshAt) : null,
      lastRefreshAt: c.lastRefreshAt === undefined ? null : new Date(c.lastRefreshAt),
      timeUntilExpiry: tokens ? Math.max(0, tokens.expiresAt - now) : null,
      timeUntilRefresh: tokens ? Math.max(0, c.refreshAt - now) : null,
      needsRefresh: tokens !== undefined && now >= c.refreshAt,
      consecutiveFailures: c.failures,
      lastError: error ? lastErrorOf(error) : null,
      nextAttemptAt: nextAttemptAt === undefined ? null : new Date(nextAttemptAt),
    };
    return Object.freeze(status);
  }

  #currentAccessToken(c: Credential): string {
    const tokens = c.tokens;
    if (tokens && c.now() < tokens.expiresAt) return tokens.accessToken;
    const key = this.#context.keyArg(c);
    throw c.state === 'reauth-required'
      ? new ReauthRequiredError(this.name, key)
      : new TokenExpiredError(this.name, c.busy?.lastError?.code, key);
  }

  #noTokens(c: Credential): TokenRefreshStateError {
    return new TokenRefreshStateError(
      this.#deps.keyed
        ? `token refresh "${this.name}" holds no tokens for key "${c.key}"; call set(key, tokens)`
        : `token refresh "${this.name}" holds no tokens yet; call start()`,
    );
  }

  // ---------------------------------------------------------------- scheduling

  /** Runs when `c` is due, at start, and after a flight unwinds. Catches late timers and clock jumps. */
  #check(c: Credential): void {
    const tokens = c.tokens;
    if (!this.#running || this.#credentials.get(c.key) !== c) return;
    // Without tokens only a client that can obtain them from scratch (client_credentials) has work to do.
    if (!tokens && !this.#deps.client.requestToken) return;
    const now = c.now();
    if (tokens && now >= tokens.expiresAt && !c.busy?.expiredNotified) this.#notifyExpired(c, true);
    switch (c.state) {
      case 'idle': {
        const due = this.#idleDueAt(c);
        if (due !== undefined && now >= due) this.#refreshInBackground(c, 'proactive');
        else this.#schedule(c, due);
        return;
      }
      case 'backoff': {
        const at = c.busy?.nextAttemptAt ?? now;
        if (now >= at) this.#refreshInBackground(c, 'retry');
        else this.#schedule(c, at);
        return;
      }
      default:
        // refreshing, reauthenticating: in hand; reauth-required: waits for the app.
        this.#schedule(c, undefined);
    }
  }

  /** When an idle credential's next refresh is due: refreshAt ahead of expiry, or in lazy mode only its keep-alive. */
  #idleDueAt(c: Credential): number | undefined {
    const { refreshMode, keepAliveInterval } = this.#deps.settings;
    if (!c.tokens) return 0; // nothing held yet (client_credentials): obtain now
    if (!this.#deps.keyed || refreshMode === 'ahead') return Math.max(c.refreshAt, c.busy?.notBefore ?? 0);
    if (keepAliveInterval === undefined) return undefined;
    return (c.lastRefreshAt ?? c.tokens!.issuedAt) + keepAliveInterval;
  }

  /** Arms `c` for `actionAt`, or for its expiry if that comes first and no one has been told yet. */
  #schedule(c: Credential, actionAt: number | undefined): void {
    let at = actionAt;
    const watchExpiry = c.tokens !== undefined && !c.busy?.expiredNotified && !(this.#deps.keyed && this.#deps.settings.refreshMode === 'lazy');
    if (watchExpiry && c.state !== 'idle') at = Math.min(at ?? Infinity, c.tokens!.expiresAt);
    if (at === undefined || at === Infinity) this.#scheduler.cancel(c);
    else this.#scheduler.at(c, at);
  }

  #notifyExpired(c: Credential, warn: boolean): void {
    const tokens = c.tokens!;
    c.work().expiredNotified = true;
    if (warn) this.#deps.logger.warn(Messages.expired(this.#context.label(c)));
    this.#context.emit(TokenRefreshEvents.EXPIRED, new TokenRefreshExpiredEvent({ ...this.#context.fields(c), expiredAt: new Date(tokens.expiresAt) }));
  }

  /** The check interval: keys the store says are due but memory does not hold, and the memory bound. */
  #periodic(): void {
    this.#evictIfOver();
    void this.#loadDueKeys();
  }

  async #loadDueKeys(): Promise<void> {
    const { store, settings, keyed } = this.#deps;
    if (!keyed || !store.dueKeys || settings.refreshMode === 'lazy' || this.#scanning || !this.#running) return;
    this.#scanning = true;
    try {
      // Due before the next check, with the threshold to spare: loaded now, refreshed on time.
      const before = new Date(this.#dueHorizon());
      for (;;) {
        const keys = await withTimeout(Promise.resolve().then(() => store.dueKeys!(before, DUE_SCAN_BATCH)), settings.storeTimeout);
        let loaded = 0;
        for (const key of keys) {
          if (this.#credentials.has(key) || !this.#running) continue;
          // Due keys displace the least recently used idle ones (see #evictIfOver).
          if ((await this.resolveKey(key).catch(noop)) !== undefined) loaded++;
        }
        if (keys.length < DUE_SCAN_BATCH || loaded === 0 || !this.#running) return;
      }
    } catch {
      this.#deps.logger.warn(Messages.dueScanFailed(this.name));
    } finally {
      this.#scanning = false;
    }
  }

  /** Keys due before this instant are loaded by the scan, and not evicted. */
  #dueHorizon(): number {
    const { checkInterval, refreshThreshold } = this.#deps.settings;
    return Date.now() + checkInterval + refreshThreshold;
  }

  /** Over maxKeysInMemory: drops the least recently used keys that have nothing going on (the store keeps them). */
  #evictIfOver(): void {
    const max = this.#deps.settings.maxKeysInMemory;
    if (max === undefined || this.#credentials.size <= max) return;
    // Down to nine tenths of the bound, so the scan is paid once per many new keys, not for each.
    let excess = this.#credentials.size - Math.floor(max * EVICT_TO);
    const candidates: Credential[] = [];
    const horizon = this.#dueHorizon();
    for (const c of this.#credentials.values()) {
      if (this.#evictable(c, horizon)) candidates.push(c);
    }
    candidates.sort((a, b) => a.used - b.used);
    for (const c of candidates) {
      if (excess-- <= 0) break;
      this.#drop(c);
      this.#evictions++;
    }
  }

  #evictable(c: Credential, horizon: number): boolean {
    if (c.state === 'refreshing' || c.state === 'reauthenticating' || c.state === 'reauth-required') return false;
    // Due soon (ahead mode): it would only be loaded again by the next scan.
    if (c.tokens && c.refreshAt <= horizon && this.#deps.settings.refreshMode === 'ahead') return false;
    const work = c.busy;
    return !work || (work.flight === undefined && work.unsaved === undefined && work.saveChain === undefined && work.heldLock === undefined);
  }

  /** Records the access for the memory bound. */
  touch(c: Credential): void {
    c.used = this.#scheduler.tick;
  }

  // ---------------------------------------------------------------- refresh

  /** Refreshes `c` now, sharing a refresh already in flight. Rejects with the typed error on failure. */
  async forceRefresh(c: Credential, trigger: Extract<RefreshTrigger, 'forced' | 'unauthorized'> = 'forced'): Promise<void> {
    if (!this.#running) {
      throw new TokenRefreshStateError(`token refresh "${this.name}" is not running; call start() first`);
    }
    if (c.state === 'reauth-required') throw new ReauthRequiredError(this.name, this.#context.keyArg(c));
    if (c.state === 'reauthenticating') {
      await c.busy?.flight;
      return;
    }
    if (!c.tokens && !this.#deps.client.requestToken) throw this.#noTokens(c);
    const work = c.work();
    work.urgent = true;
    this.#scheduler.promote(c);
    await this.#refresh(c, trigger);
  }

  #refreshInBackground(c: Credential, trigger: RefreshTrigger): void {
    const unwinding = c.busy?.flight;
    if (unwinding) {
      // A flight that has already set the state (idle, backoff) is finishing, e.g. releasing
      // the lock: joining it would refresh nothing. Look again once it has settled.
      const work = c.work();
      if (work.recheckAfter !== unwinding) {
        work.recheckAfter = unwinding;
        void unwinding.then(noop, noop).then(() => this.#check(c));
      }
      return;
    }
    // Failures are handled (state, events, backoff) inside; nobody awaits a background refresh.
    this.#refresh(c, trigger).catch(noop);
  }

  #refresh(c: Credential, trigger: RefreshTrigger): Promise<ResolvedTokens> {
    const work = c.work();
    // A flight begun for tokens that the app replaced since is being aborted: let it settle,
    // then refresh the current tokens rather than share its failure.
    const stale = work.flight;
    if (stale && work.flightGeneration !== c.generation) {
      const again = (): Promise<ResolvedTokens> => (this.#running ? this.#refresh(c, trigger) : Promise.reject(new RefreshAbortedError()));
      return stale.then(again, again);
    }
    if (stale) return stale;
    work.flightGeneration = c.generation;
    this.#setState(c, 'refreshing');
    this.#schedule(c, undefined);
    const flight = this.#scheduler.run(c, () => this.#performRefresh(c, trigger)).finally(() => {
      if (work.flight === flight) {
        work.flight = undefined;
        work.urgent = false;
        work.waiters = undefined;
        work.recheckAfter = undefined;
        // A refresh dropped from the queue (stop, delete) leaves the state it found.
        if (c.state === 'refreshing') this.#setState(c, this.#running ? 'idle' : 'stopped');
        this.#tidy(c);
      }
    });
    work.flight = flight;
    return flight;
  }

  async #performRefresh(c: Credential, trigger: RefreshTrigger): Promise<ResolvedTokens> {
    if (!this.#running) throw new RefreshAbortedError();
    const work = c.work();
    const generation = c.generation;
    // What is sent may differ from what is held by the time an error comes back (the app handed in others).
    const sent = c.tokens;
    const abort = new AbortController();
    work.abort = abort;
    this.#setState(c, 'refreshing');
    const probe = this.#telemetry.attempt({
      registration: this.name,
      grantType: sent?.refreshToken === undefined && this.#deps.client.requestToken ? 'client_credentials' : 'refresh_token',
      trigger,
      attempt: c.failures + 1,
      keyed: this.#deps.keyed,
      distributedLock: this.#deps.lock.distributed === true,
    });
    const startedAt = Date.now();
    try {
      const { tokens, source } = await this.#refreshUnderLock(c, generation, abort.signal, startedAt, probe);
      probe.end({ result: 'success', source });
      return tokens;
    } catch (thrown) {
      const error = toRefreshError(thrown, [...secretsOf(sent), ...secretsOf(c.tokens)]);
      probe.end(failureOf(error));
      // A successful reauthenticate() ends the episode: waiting callers get its tokens.
      if (generation === c.generation && (await this.#onFailure(c, error, generation)) && c.tokens) return c.tokens;
      throw error;
    } finally {
      if (work.abort === abort) work.abort = undefined;
    }
  }

  async #refreshUnderLock(
    c: Credential,
    generation: number,
    signal: AbortSignal,
    startedAt: number,
    probe: RefreshAttemptProbe,
  ): Promise<{ tokens: ResolvedTokens; source: RefreshSource }> {
    const { lock, client } = this.#deps;
    const key = this.#context.keyArg(c);
    const handle = this.#takeHeldLock(c) ?? (await this.#acquire(key, signal, probe));
    if (!handle) throw new RefreshLockError('refresh lock not acquired: another replica holds it, or its backend is unreachable');
    try {
      this.#assertCurrent(c, generation, signal);
      if (lock.distributed) {
        // Another replica may have rotated while we waited; under the lock the store is the truth.
        const stored = await this.#persistence.load(c);
        this.#assertCurrent(c, generation, signal);
        if (stored && storedSupersedes(stored.given, stored.resolved, c.tokens)) {
          this.#adopt(c, stored.resolved, 'store');
          return { tokens: stored.resolved, source: 'store' };
        }
      }
      const current = c.tokens;
      const useRefreshToken = current?.refreshToken !== undefined;
      if (!useRefreshToken && !client.requestToken) throw new MissingRefreshTokenError();
      // A lost lease is checked before sending, never used to abort a request already sent:
      // that cannot un-spend the refresh token, it would only lose our copy of the rotation.
      if (handle.lost?.aborted) throw new RefreshLockError('refresh lock lost before the request was sent');
      const sentAt = performance.now();
      const options = key === undefined ? { signal } : { signal, key };
      const response = await probe.request(() =>
        useRefreshToken ? client.refresh(current!.refreshToken!, options) : client.requestToken!(options),
      );
      // What arrived is kept even if stop() aborted meanwhile, or a restart happened: the old
      // refresh token is spent. Only tokens the app handed in since, for another grant, make it moot.
      if (generation !== c.generation && (!useRefreshToken || c.tokens?.refreshToken !== current!.refreshToken)) {
        throw new RefreshAbortedError();
      }
      if (this.#credentials.get(c.key) !== c) throw new RefreshAbortedError(); // deleted meanwhile
      const outcome = resolveRefreshResponse(response, current, startedAt);
      for (const field of outcome.dropped) this.#deps.logger.warn(Messages.responseFieldDropped(this.#context.label(c), field));
      if (!outcome.tokens) {
        if (outcome.keep) {
          // The new refresh token replaces the spent one (saved first); the held access token serves on.
          await this.#persistence.persist(c, outcome.keep);
          c.tokens = outcome.keep;
        }
        throw new InvalidTokenResponseError(
          outcome.keep ? 'no usable access_token (the rotated refresh token was kept)' : 'no usable access_token',
        );
      }
      await this.#persistence.persist(c, outcome.tokens);
      this.#adopt(c, outcome.tokens, 'refresh', Math.round(performance.now() - sentAt));
      return { tokens: outcome.tokens, source: 'refresh' };
    } finally {
      // Until saved, the rotated refresh token lives only here: a replica that took the lock now
      // would re-read the old one from the store and spend it again. Keep the lock until it is saved.
      if (lock.distributed && c.busy?.unsaved && !handle.lost?.aborted) c.work().heldLock = handle;
      else await this.#release(c, handle);
    }
  }

  async #acquire(key: string | undefined, signal: AbortSignal, probe: RefreshAttemptProbe): Promise<RefreshLockHandle | null> {
    const waited = probe.lockWait();
    try {
      const handle = await this.#deps.lock.acquire({ waitMs: this.#deps.settings.lockWaitTimeout, signal, key });
      waited(handle ? 'acquired' : 'unavailable');
      return handle;
    } catch (error) {
      waited('error');
      throw error;
    }
  }

  #takeHeldLock(c: Credential): RefreshLockHandle | undefined {
    const work = c.busy;
    const held = work?.heldLock;
    if (!work || !held) return undefined;
    work.heldLock = undefined;
    if (!held.lost?.aborted) return held;
    void this.#release(c, held);
    return undefined;
  }

  async #release(c: Credential, handle: RefreshLockHandle | undefined): Promise<void> {
    await handle?.release().catch(() => this.#deps.logger.warn(Messages.lockReleaseFailed(this.#context.label(c))));
  }

  #assertCurrent(c: Credential, generation: number, signal: AbortSignal): void {
    if (generation !== c.generation || signal.aborted) throw new RefreshAbortedError();
  }

  /** Takes new tokens into memory and reschedules. `source` undefined: given by the app (or loaded). */
  #adopt(c: Credential, tokens: ResolvedTokens, source: RefreshSource | undefined, durationMs = 0): void {
    // The anchor belongs to the tokens: taking the same ones up again (a restart) keeps it.
    if (tokens !== c.tokens) c.anchor = clockAnchor();
    const now = c.now();
    c.tokens = tokens;
    c.refreshAt = computeRefreshAt(tokens, this.#deps.settings.refreshThreshold);
    c.failures = 0;
    c.fresh = undefined;
    const work = c.busy;
    if (work) {
      work.lastError = undefined;
      work.nextAttemptAt = undefined;
      work.expiredNotified = false;
    }
    if (source !== undefined) c.lastRefreshAt = now;
    if (!this.#running) {
      this.#deactivate(c);
      return;
    }
    this.#setState(c, 'idle');
    if (source !== undefined) {
      this.#deps.logger.log(Messages.refreshed(this.#context.label(c), tokens.expiresAt, source));
      this.#context.emit(
        TokenRefreshEvents.REFRESHED,
        new TokenRefreshRefreshedEvent({
          ...this.#context.fields(c),
          expiresAt: new Date(tokens.expiresAt),
          refreshAt: new Date(c.refreshAt),
          source,
          durationMs,
        }),
      );
    }
    // Tokens that keep arriving already due (expires_in: 0, a clock far off) wait out a backoff delay.
    const next =
      source === 'refresh'
        ? afterArrival(c.refreshAt, now, work?.dueOnArrival ?? 0, this.#deps.settings.retry, this.#deps.random)
        : { at: c.refreshAt, dueOnArrival: 0 };
    if (next.dueOnArrival > 0 || work) {
      const w = c.work();
      w.dueOnArrival = next.dueOnArrival;
      w.notBefore = next.dueOnArrival > 0 ? next.at : 0;
    }
    this.#schedule(c, this.#idleDueAt(c));
    this.#tidy(c);
  }

  // ---------------------------------------------------------------- failures

  /** Returns true when reauthenticate() recovered the episode. */
  async #onFailure(c: Credential, error: TokenRefreshError, generation: number): Promise<boolean> {
    const { settings, logger } = this.#deps;
    const work = c.work();
    const label = this.#context.label(c);
    // Stopping: remember what happened, but schedule nothing and ask nobody.
    if (!this.#running) {
      work.lastError = error;
      return false;
    }
    c.failures++;
    work.lastError = error;
    const attempt = c.failures;
    const decision = afterFailure(error, attempt, { ...settings.retry }, c.now(), this.#deps.random);

    if (decision.retry) {
      work.nextAttemptAt = decision.at;
      this.#setState(c, 'backoff');
      logger.warn(Messages.retrying(label, error.code, attempt, decision.delay));
      this.#context.emit(
        TokenRefreshEvents.REFRESH_FAILED,
        new TokenRefreshRefreshFailedEvent({
          ...this.#context.fields(c),
          error: summarizeError(error),
          attempt,
          willRetry: true,
          nextAttemptAt: new Date(decision.at),
        }),
      );
      this.#schedule(c, decision.at);
      return false;
    }

    // The episode has failed: ask once, then either re-authenticate or park until the app acts.
    this.#setState(c, 'reauth-required');
    work.nextAttemptAt = undefined;
    this.#schedule(c, undefined);
    logger.error(Messages.episodeFailed(label, error.code, error.message));
    this.#context.emit(
      TokenRefreshEvents.REFRESH_FAILED,
      new TokenRefreshRefreshFailedEvent({ ...this.#context.fields(c), error: summarizeError(error), attempt, willRetry: false, nextAttemptAt: null }),
    );
    const wantsReauth = await this.#askOnRefreshFail(c, error);
    if (generation !== c.generation) return false;
    if (wantsReauth) {
      if (this.#deps.reauthenticate) {
        if (await this.#reauthenticate(c, generation)) return true;
      } else {
        logger.warn(Messages.reauthUnavailable(label));
      }
    }
    if (generation !== c.generation) return false;
    this.#setState(c, 'reauth-required');
    this.#schedule(c, undefined);
    this.#telemetry.reauthRequired(this.name, this.#deps.keyed);
    logger.error(Messages.reauthRequired(label));
    this.#context.emit(
      TokenRefreshEvents.REAUTH_REQUIRED,
      new TokenRefreshReauthRequiredEvent({ ...this.#context.fields(c), error: summarizeError(work.lastError ?? error) }),
    );
    return false;
  }

  /** Without an onRefreshFail, re-authenticate whenever a reauthenticate function exists. */
  async #askOnRefreshFail(c: Credential, error: TokenRefreshError): Promise<boolean> {
    const { onRefreshFail, reauthenticate, logger } = this.#deps;
    if (!onRefreshFail) return reauthenticate !== undefined;
    try {
      const key = this.#context.keyArg(c);
      return (await (key === undefined ? onRefreshFail(error) : onRefreshFail(error, key))) === true;
    } catch {
      logger.warn(Messages.onRefreshFailThrew(this.#context.label(c)));
      return false;
    }
  }

  async #reauthenticate(c: Credential, generation: number): Promise<boolean> {
    const reauthenticate = this.#deps.reauthenticate!;
    this.#setState(c, 'reauthenticating');
    const startedAt = Date.now();
    try {
      const key = this.#context.keyArg(c);
      const given = await (key === undefined ? reauthenticate() : reauthenticate(key));
      const next = resolveTokens(given, startedAt, (c.tokens?.version ?? 0) + 1);
      if (generation !== c.generation) return false;
      await this.#persistence.persist(c, next);
      this.#adopt(c, next, undefined);
      c.lastRefreshAt = Date.now();
      this.#deps.logger.log(Messages.reauthenticated(this.#context.label(c)));
      this.#context.emit(
        TokenRefreshEvents.REAUTHENTICATED,
        new TokenRefreshReauthenticatedEvent({ ...this.#context.fields(c), expiresAt: new Date(next.expiresAt) }),
      );
      return true;
    } catch (thrown) {
      const error = toRefreshError(thrown, secretsOf(c.tokens));
      c.work().lastError = error;
      this.#deps.logger.error(Messages.reauthFailed(this.#context.label(c), error.code));
      return false;
    }
  }

  /**
   * Revokes the refresh token (RFC 7009) when the registration asks for it and the client can:
   * bounded by `ms`, and a failure is reported, never thrown.
   */
  async #revoke(c: Credential, ms: number): Promise<void> {
    const { client, settings, logger } = this.#deps;
    const refreshToken = c.tokens?.refreshToken;
    if (!settings.revokeRefreshToken || !client.revoke || refreshToken === undefined) return;
    const abort = new AbortController();
    const key = this.#context.keyArg(c);
    try {
      const options = key === undefined ? { signal: abort.signal, tokenTypeHint: 'refresh_token' as const } : { signal: abort.signal, key, tokenTypeHint: 'refresh_token' as const };
      await withTimeout(Promise.resolve().then(() => client.revoke!(refreshToken, options)), ms);
      logger.log(Messages.revoked(this.#context.label(c)));
    } catch (thrown) {
      abort.abort();
      const error = toRefreshError(thrown instanceof DeadlineExceededError ? new RefreshAbortedError() : thrown, secretsOf(c.tokens));
      logger.warn(Messages.revokeFailed(this.#context.label(c), error.code));
      this.#context.emit(TokenRefreshEvents.REVOKE_FAILED, new TokenRefreshRevokeFailedEvent({ ...this.#context.fields(c), error: summarizeError(error) }));
    }
  }

  // ---------------------------------------------------------------- telemetry

  #telemetrySource(): TelemetrySource {
    const single = (): Credential | undefined => (this.#deps.keyed ? undefined : (this.#credentials.values().next().value as Credential | undefined));
    return {
      registration: this.name,
      keyed: this.#deps.keyed,
      counts: () => this.counts(),
      timeUntilExpiry: () => {
        const c = single();
        return c?.tokens ? Math.max(0, c.tokens.expiresAt - c.now()) : null;
      },
      reads: () => ({ ...this.reads }),
      memory: () => ({ keys: this.#credentials.size, evictions: this.#evictions }),
    };
  }

  // ---------------------------------------------------------------- store announcements

  #watchStore(): void {
    const { store, logger } = this.#deps;
    if (!store.watch) return;
    this.#unwatch = store.watch((key, pair) => {
      if (!this.#running) return;
      const c = this.#credentials.get(key);
      // A key this replica does not hold is loaded when it is used, not on every announcement.
      if (!c) return;
      try {
        const candidate = resolveTokens(pair, Date.now());
        // A late or replayed announcement never replaces newer tokens.
        if (storedSupersedes(pair, candidate, c.tokens) && c.state !== 'refreshing') this.#adopt(c, candidate, 'store');
      } catch {
        logger.warn(Messages.watchFailed(this.#context.label(c)));
      }
    });
  }

  /** Drops a credential's work record once nothing is going on, so an idle key stays small. */
  #tidy(c: Credential): void {
    if (c.busy?.idle && !c.busy.urgent && c.busy.waiters === undefined && c.busy.abort === undefined) c.busy = undefined;
  }

  #secrets(): string[] {
    return [...this.#credentials.values()].flatMap((c) => secretsOf(c.tokens));
  }
}

/**
 * What stop() may take beyond shutdownTimeout (at most as much again): aborted refreshes
 * unwinding, the last saves, the locks' release.
 */
const STOP_GRACE = 1_000;

/** Eviction goes down to this share of maxKeysInMemory. */
const EVICT_TO = 0.9;

/** Keys loaded from the store's due index per check. */
const DUE_SCAN_BATCH = 1_000;

const noop = (): void => undefined;

function failureOf(error: TokenRefreshError): AttemptOutcome {
  const { code, oauthError } = summarizeError(error);
  return oauthError === undefined ? { result: 'failure', code } : { result: 'failure', code, oauthError };
}

function lastErrorOf(error: TokenRefreshError): RefreshStatus['lastError'] {
  const { code, message, oauthError } = summarizeError(error);
  return Object.freeze(oauthError === undefined ? { code, message } : { code, message, oauthError });
}

/** Token values a foreign error message must not repeat. */
function secretsOf(tokens: ResolvedTokens | undefined): string[] {
  return tokens ? [tokens.accessToken, tokens.refreshToken ?? ''] : [];
}

export { STATES as REFRESH_STATES };
