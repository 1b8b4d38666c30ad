import { type RefreshState, type RefreshStatus } from '../common/interfaces/refresh-status.interface';
import { type ResolvedTokens, type TokenPair } from '../common/interfaces/token-pair.interface';
import { TokenRefreshEvents } from '../common/token-refresh.constants';
import { RefreshAbortedError, TokenRefreshStateError, TokenStoreError } from '../common/token-refresh.errors';
import { TokenRefreshStartedEvent, TokenRefreshStoppedEvent } from '../common/token-refresh.events';
import { Messages } from '../common/token-refresh.messages';
import { clockAnchor } from './clock';
import { Credential } from './credential';
import { CredentialTransitions, type StateCounts } from './credential-transitions';
import { Deadline, DeadlineExceededError, settleWithin, withTimeout } from './deadline';
import { EngineContext, type EngineDeps } from './engine-context';
import { type EngineCore } from './engine-core';
import { toRefreshError } from './error-classification';
import { KeyMemory } from './key-memory';
import { Persistence } from './persistence';
import { RefreshAttempts, secretsOf } from './refresh-attempts';
import { RefreshFailures } from './refresh-failures';
import { RefreshScheduler } from './refresh-scheduler';
import { NO_TELEMETRY, type RefreshTelemetry, type RefreshTrigger, type TelemetrySource } from './telemetry';
import { TokenReader } from './token-reader';
import { resolveTokens, storedSupersedes } from './tokens';

export type { StateCounts } from './credential-transitions';

/**
 * What a start prepares before the engine runs: it may load and validate (and throw; nothing
 * has changed yet), and returns what to do once the engine is running.
 */
export type StartPreparation = () => Promise<(() => Promise<void>) | void>;

/** Tokens the app handed in, checked, with the clocks as they were when their times were computed. */
export interface HandedIn {
  tokens: ResolvedTokens;
  anchor: number;
}

/**
 * The refresh engine: keeps one credential, or a million keyed ones, valid. Each credential is
 * a small record (credential.ts); one scheduler drives them all (refresh-scheduler.ts). The
 * engine holds the lifecycle and the keys; each other job has a part of its own (see
 * engine-core.ts): state and schedule, refreshing, failures, reading tokens, keys in memory,
 * the store. Internal: TokenRefreshManager and KeyedTokenRefreshManager are its faces.
 */
export class RefreshEngine implements EngineCore {
  readonly context: EngineContext;
  readonly deps: EngineDeps;
  readonly credentials = new Map<string, Credential>();
  readonly scheduler: RefreshScheduler;
  readonly persistence: Persistence;
  readonly telemetry: RefreshTelemetry;
  readonly transitions: CredentialTransitions;
  readonly attempts: RefreshAttempts;
  readonly failures: RefreshFailures;
  readonly reader: TokenReader;
  readonly memory: KeyMemory;
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

  constructor(deps: EngineDeps) {
    this.deps = deps;
    this.context = new EngineContext(deps);
    this.scheduler = new RefreshScheduler({
      timers: deps.timers,
      host: this,
      checkInterval: deps.settings.checkInterval,
      maxConcurrent: deps.keyed ? deps.settings.maxConcurrentRefreshes : 1,
    });
    this.persistence = new Persistence(this.context, this);
    this.telemetry = deps.telemetry ?? NO_TELEMETRY;
    this.transitions = new CredentialTransitions(this);
    this.attempts = new RefreshAttempts(this);
    this.failures = new RefreshFailures(this);
    this.reader = new TokenReader(this);
    this.memory = new KeyMemory(this);
  }

  /** The scheduler's call: `c` is due. */
  onDue(c: Credential): void {
    this.transitions.check(c);
  }

  /** The scheduler's call, on the check interval. */
  onCheck(): void {
    this.memory.periodic();
  }

  /** Persistence's call: the latest pair of `c` is saved (or the store holds a newer one). */
  onSettled(c: Credential): Promise<void> {
    return this.attempts.release(c, this.attempts.takeHeldLock(c));
  }

  get name(): string {
    return this.deps.settings.name;
  }

  get settings(): EngineDeps['settings'] {
    return this.deps.settings;
  }

  /** getAccessToken() answers so far: the hot paths count here. */
  get reads(): TokenReader['reads'] {
    return this.reader.reads;
  }

  isRunning(): boolean {
    return this.#running;
  }

  holds(c: Credential): boolean {
    return this.credentials.get(c.key) === c;
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
    const leftovers = [...this.credentials.values()].flatMap((c) => (c.busy?.flight ? [c.busy.flight] : []));
    if (leftovers.length > 0) await settleWithin(Promise.all(leftovers), this.deps.settings.shutdownTimeout);
    this.#assertStartable(epoch);
    const commit = await prepare?.();
    // Everything that can throw has run: only now does any state change.
    this.#assertStartable(epoch);
    this.#running = true;
    try {
      if (commit) await commit();
      for (const c of this.credentials.values()) {
        if (c.state !== 'stopped') continue;
        if (c.tokens) this.transitions.adopt(c, c.tokens, undefined);
        // A credential with nothing yet, to be obtained from scratch (client_credentials).
        else if (this.deps.client.requestToken) this.transitions.setState(c, 'idle');
      }
      this.#watchStore();
    } catch (error) {
      // A store whose watch() throws must not leave us "running" with no schedule.
      this.#running = false;
      for (const c of this.credentials.values()) this.transitions.deactivate(c);
      throw toRefreshError(error, this.#secrets());
    }
    this.scheduler.start();
    this.#unwatchTelemetry = this.telemetry.watch(this.#telemetrySource());
    this.#announceStarted();
    // The first check runs now, not one interval later: tokens loaded from a store may be due.
    // Through the scheduler, so that many keys due at once go in order.
    this.scheduler.check();
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
    const { logger, keyed } = this.deps;
    if (keyed) {
      logger.log(Messages.startedKeyed(this.name, this.credentials.size));
      this.context.emit(TokenRefreshEvents.STARTED, new TokenRefreshStartedEvent({ ...this.context.fields(), expiresAt: null }));
      return;
    }
    const c = this.credentials.values().next().value as Credential | undefined;
    const tokens = c?.tokens;
    if (!c || !tokens) return;
    const lapsed = c.now() >= tokens.expiresAt;
    // Lapsed while the app was down: expected after a restart, and refreshed next.
    logger.log(lapsed ? Messages.startedLapsed(this.name, tokens.expiresAt) : Messages.started(this.name, tokens.expiresAt));
    this.context.emit(TokenRefreshEvents.STARTED, new TokenRefreshStartedEvent({ ...this.context.fields(), expiresAt: new Date(tokens.expiresAt) }));
    if (lapsed) this.transitions.notifyExpired(c, false);
  }

  /**
   * Idempotent and safe before start. Waits up to shutdownTimeout for refreshes in flight (so
   * rotated tokens are not lost halfway), then aborts them; the whole stop, starts in progress
   * and the store included, ends within shutdownTimeout plus a bounded grace.
   */
  stop(): Promise<void> {
    if (this.#stopping) return this.#stopping;
    if (!this.#running && this.#startsPending === 0) return Promise.resolve();
    const timeout = this.deps.settings.shutdownTimeout;
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
    this.scheduler.stop();
    this.scheduler.dequeueAll(new RefreshAbortedError());
    this.persistence.clearTimer();
    for (const c of this.credentials.values()) this.transitions.deactivate(c);
    const unwatch = this.#unwatch;
    this.#unwatch = undefined;
    if (unwatch) await settleWithin(Promise.resolve().then(unwatch), deadline.remaining());

    // No new refresh can start once #running is false, but one queued behind a stale flight
    // may follow the one in flight now: wait for each, within the one deadline.
    const flights = (): Promise<unknown>[] => [...this.credentials.values()].flatMap((c) => (c.busy?.flight ? [c.busy.flight] : []));
    let inFlight = flights();
    while (inFlight.length > 0) {
      if (!(await settleWithin(Promise.all(inFlight), deadline.remaining()))) {
        this.deps.logger.warn(Messages.abortedOnStop(this.name, this.deps.settings.shutdownTimeout));
        for (const c of this.credentials.values()) c.busy?.abort?.abort(new RefreshAbortedError());
        // A client that honours the signal unwinds at once; one that does not is not waited for.
        // If its tokens still arrive later they are saved and kept: the old refresh token is spent.
        await settleWithin(Promise.all(inFlight), hardDeadline.remaining());
        break;
      }
      inFlight = flights();
    }
    // Last chance for rotated refresh tokens that the store refused earlier, or is still saving.
    const saving = [...this.credentials.values()].flatMap((c) => (c.busy?.unsaved || c.busy?.saveChain ? [this.persistence.flush(c)] : []));
    if (saving.length > 0) await settleWithin(Promise.all(saving), hardDeadline.remaining());
    const held = [...this.credentials.values()].map((c) => this.attempts.release(c, this.attempts.takeHeldLock(c)));
    await settleWithin(Promise.all(held), hardDeadline.remaining());
    // A single registration's refresh token is no longer wanted once it stops (keyed: at delete).
    if (!this.deps.keyed) {
      for (const c of this.credentials.values()) await this.attempts.revoke(c, hardDeadline.remaining());
    }
    for (const c of this.credentials.values()) this.transitions.deactivate(c);
    this.deps.logger.log(Messages.stopped(this.name));
    this.context.emit(TokenRefreshEvents.STOPPED, new TokenRefreshStoppedEvent(this.context.fields()));
  }

  // ---------------------------------------------------------------- credentials

  /** The credential held in memory for `key`. */
  find(key: string): Credential | undefined {
    return this.credentials.get(key);
  }

  /** The credential for `key`, made (empty) if it is not held. */
  credential(key: string): Credential {
    let c = this.credentials.get(key);
    if (!c) {
      c = new Credential(key);
      c.used = this.scheduler.tick;
      this.credentials.set(key, c);
      this.transitions.counts.stopped++;
      this.memory.evictIfOver();
    }
    return c;
  }

  get size(): number {
    return this.credentials.size;
  }

  /** The scheduler's coarse clock, for recording accesses (see touch). */
  get tick(): number {
    return this.scheduler.tick;
  }

  /** Refreshes in flight now, and waiting for a slot. */
  load(): { inFlight: number; queued: number } {
    return { inFlight: this.scheduler.inFlight, queued: this.scheduler.queued };
  }

  /** Drops a credential made for a key that never got tokens (they were invalid). */
  forgetIfEmpty(c: Credential): void {
    if (!c.tokens) this.drop(c);
  }

  /**
   * Tokens the app hands in (after a login) replace whatever is held or stored, so they get a
   * version above both; with several replicas the store is read to learn its version.
   * Validated before anything else happens: bad tokens throw and change nothing.
   */
  async handIn(c: Credential, tokens: TokenPair): Promise<HandedIn> {
    const now = Date.now();
    const anchor = clockAnchor(now);
    const checked = resolveTokens(tokens, now);
    if (checked.version !== undefined) return { tokens: checked, anchor };
    let base = c.tokens?.version ?? 0;
    if (this.deps.lock.distributed) {
      const stored = await this.persistence.load(c).catch(() => undefined);
      base = Math.max(base, stored?.resolved.version ?? 0);
    }
    return { tokens: resolveTokens(tokens, now, base + 1), anchor };
  }

  /** The app's tokens for `c` (resolved by handIn): a refresh in flight for older ones is void. Saved, then held. */
  async put(c: Credential, handedIn: HandedIn): Promise<void> {
    c.generation++;
    this.scheduler.dequeue(c, new RefreshAbortedError());
    c.busy?.abort?.abort(new RefreshAbortedError());
    await this.persistence.persist(c, handedIn.tokens);
    this.transitions.adopt(c, handedIn.tokens, undefined, 0, handedIn.anchor);
  }

  /** Looks at `c` now: refreshes it if it is due (tokens just handed in may be). */
  check(c: Credential): void {
    this.transitions.check(c);
  }

  /** The store's pair for `c`, if the store holds one it can use. Throws TokenStoreError when the store fails. */
  loadStored(c: Credential): ReturnType<Persistence['load']> {
    return this.persistence.load(c);
  }

  /** Takes up a pair loaded from the store, unless what is held is newer (a refresh landed after the last save). */
  takeUp(c: Credential, loaded: { given: TokenPair; resolved: ResolvedTokens }): void {
    const held = c.tokens;
    const tokens = held && !storedSupersedes(loaded.given, loaded.resolved, held) ? held : loaded.resolved;
    this.transitions.adopt(c, tokens, undefined);
  }

  /**
   * The credential for `key`, from memory or else from the store (one load per key at a time).
   * Undefined when neither holds it.
   */
  async resolveKey(key: string): Promise<Credential | undefined> {
    const held = this.credentials.get(key);
    if (held?.tokens) return held;
    const loads = (this.#loading ??= new Map());
    let loading = loads.get(key);
    if (!loading) {
      loading = (async () => {
        const c = this.credential(key);
        try {
          const loaded = await this.persistence.load(c);
          if (!loaded) {
            if (!c.tokens) this.drop(c);
            return c.tokens ? c : undefined;
          }
          this.takeUp(c, loaded);
          this.transitions.check(c);
          return c;
        } catch (error) {
          if (!c.tokens) this.drop(c);
          throw error;
        }
      })().finally(() => loads.delete(key));
      loads.set(key, loading);
    }
    return loading;
  }

  /** Forgets `key`: in memory and in the store. A refresh in flight is aborted and its result dropped. */
  async delete(key: string): Promise<void> {
    const c = this.credentials.get(key);
    if (c) {
      c.generation++;
      this.scheduler.dequeue(c, new RefreshAbortedError());
      c.busy?.abort?.abort(new RefreshAbortedError());
      this.persistence.forget(c);
      await this.attempts.release(c, this.attempts.takeHeldLock(c));
      this.drop(c);
      await this.attempts.revoke(c, this.deps.settings.shutdownTimeout);
    }
    const { store, settings } = this.deps;
    try {
      await withTimeout(Promise.resolve().then(() => store.delete(key)), settings.storeTimeout);
    } catch (thrown) {
      throw new TokenStoreError('delete', thrown instanceof DeadlineExceededError ? `timed out after ${settings.storeTimeout} ms` : undefined);
    }
  }

  drop(c: Credential): void {
    if (this.credentials.get(c.key) !== c) return;
    this.scheduler.cancel(c);
    this.credentials.delete(c.key);
    this.transitions.counts[c.state]--;
    c.state = 'stopped';
  }

  /** Keys held in memory, optionally only those in `state`. */
  keys(state?: RefreshState): string[] {
    const keys: string[] = [];
    for (const c of this.credentials.values()) if (state === undefined || c.state === state) keys.push(c.key);
    return keys;
  }

  /** How many credentials are held in each state. */
  counts(): StateCounts {
    return { ...this.transitions.counts };
  }

  #telemetrySource(): TelemetrySource {
    const single = (): Credential | undefined => (this.deps.keyed ? undefined : (this.credentials.values().next().value as Credential | undefined));
    return {
      registration: this.name,
      keyed: this.deps.keyed,
      counts: () => this.counts(),
      timeUntilExpiry: () => {
        const c = single();
        return c?.tokens ? Math.max(0, c.tokens.expiresAt - c.now()) : null;
      },
      reads: () => ({ ...this.reader.reads }),
      memory: () => ({ keys: this.credentials.size, evictions: this.memory.evictions }),
    };
  }

  #watchStore(): void {
    const { store, logger } = this.deps;
    if (!store.watch) return;
    this.#unwatch = store.watch((key, pair) => {
      if (!this.#running) return;
      const c = this.credentials.get(key);
      // A key this replica does not hold is loaded when it is used, not on every announcement.
      if (!c) return;
      try {
        const candidate = resolveTokens(pair, Date.now());
        // A late or replayed announcement never replaces newer tokens.
        if (storedSupersedes(pair, candidate, c.tokens) && c.state !== 'refreshing') this.transitions.adopt(c, candidate, 'store');
      } catch {
        logger.warn(Messages.watchFailed(this.context.label(c)));
      }
    });
  }


  // ---------------------------------------------------------------- reading tokens and refreshing (see token-reader.ts, refresh-attempts.ts)

  slowAccessToken(c: Credential): Promise<string> {
    return this.reader.slowAccessToken(c);
  }

  peekAccessToken(c: Credential): string | undefined {
    return this.reader.peekAccessToken(c);
  }

  tokensOf(c: Credential): Readonly<TokenPair & { expiresAt: Date }> | null {
    return this.reader.tokensOf(c);
  }

  status(c: Credential): RefreshStatus {
    return this.reader.status(c);
  }

  forceRefresh(c: Credential, trigger?: Extract<RefreshTrigger, 'forced' | 'unauthorized'>): Promise<void> {
    return this.attempts.forceRefresh(c, trigger);
  }

  /** Records an access, for the memory bound. */
  touch(c: Credential): void {
    this.memory.touch(c);
  }

  #secrets(): string[] {
    return [...this.credentials.values()].flatMap((c) => secretsOf(c.tokens));
  }
}

/**
 * What stop() may take beyond shutdownTimeout (at most as much again): aborted refreshes
 * unwinding, the last saves, the locks' release.
 */
const STOP_GRACE = 1_000;

const noop = (): void => undefined;
