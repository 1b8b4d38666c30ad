import { type RefreshStatus } from '../common/interfaces/refresh-status.interface';
import { type TokenPair } from '../common/interfaces/token-pair.interface';
import { type TokenStore } from '../common/interfaces/token-store.interface';
import { type TokenRefreshError, TokenRefreshStateError } from '../common/token-refresh.errors';
import { type Credential } from './credential';
import { type EngineDeps } from './engine-context';
import { asKeyedStore, SINGLE_KEY } from './keyed-token.stores';
import { type LoggerPort } from './ports';
import { Redacted } from './redaction';
import { RefreshEngine } from './refresh-engine';
import { REFRESH_ON_UNAUTHORIZED } from './telemetry';

/** The engine's dependencies, for the one credential: a plain store, callbacks without a key. */
export interface RefreshManagerDeps extends Omit<EngineDeps, 'store' | 'keyed' | 'onRefreshFail' | 'reauthenticate'> {
  store: TokenStore;
  onRefreshFail?: (error: TokenRefreshError) => boolean | Promise<boolean>;
  reauthenticate?: () => Promise<TokenPair>;
}

/**
 * The Go `refresh` Manager, done right, with no framework in sight: keeps one credential
 * valid. It refreshes at refreshAt on a timer (not at the next poll), shares one request among
 * all callers, never forgets a rotated refresh token, backs off on transient failures and
 * stops for good on permanent ones. It is the one-key case of the RefreshEngine, which also
 * runs keyed registrations.
 */
export class TokenRefreshManager extends Redacted {
  readonly #engine: RefreshEngine;
  /** The one credential: held directly, so the hot path needs no lookup. */
  readonly #credential: Credential;
  readonly #reads: RefreshEngine['reads'];

  readonly #obtainsFromScratch: boolean;

  constructor(deps: RefreshManagerDeps) {
    super();
    this.#obtainsFromScratch = typeof deps.client.requestToken === 'function';
    this.#engine = new RefreshEngine({ ...deps, store: asKeyedStore(deps.store), keyed: false });
    this.#credential = this.#engine.credential(SINGLE_KEY);
    this.#reads = this.#engine.reads;
    this.logger = deps.logger;
  }

  get name(): string {
    return this.#engine.name;
  }

  protected get autoStart(): boolean {
    return this.#engine.settings.autoStart;
  }

  /** The registration's logger, so every line about it shares one context. */
  protected readonly logger: LoggerPort;

  // ---------------------------------------------------------------- lifecycle

  /**
   * Starts with the given tokens, or with the store's when none are given. Calls that overlap
   * run one after another (the second finds the service running and says so).
   */
  start(tokens?: TokenPair): Promise<void> {
    const engine = this.#engine;
    const c = this.#credential;
    const started = engine.start(async () => {
      if (tokens !== undefined) {
        const handedIn = await engine.handIn(c, tokens);
        return () => engine.put(c, handedIn);
      }
      const loaded = await engine.loadStored(c);
      if (loaded) return async () => engine.takeUp(c, loaded);
      // A client that obtains tokens from scratch (client_credentials) needs none to start with.
      if (!this.#obtainsFromScratch) {
        throw new TokenRefreshStateError(`token refresh "${this.name}" has no tokens: the store holds none it can use; call start(tokens)`);
      }
    });
    // Started without tokens: the first ones are obtained now, and start() says whether that worked
    // (if not, the service keeps trying with backoff, as after any failed refresh).
    return started.then(() => (c.tokens ? undefined : engine.slowAccessToken(c).then(() => undefined)));
  }

  /**
   * Idempotent and safe before start. Waits up to shutdownTimeout for a refresh in flight
   * (so a rotated token is not lost halfway), then aborts it; the whole stop, starts in
   * progress and the store included, ends within shutdownTimeout plus a bounded grace.
   * The service can start again.
   */
  stop(): Promise<void> {
    return this.#engine.stop();
  }

  // ---------------------------------------------------------------- API

  /** Refreshes now, sharing a refresh already in flight. Rejects with the typed error on failure. */
  forceRefresh(): Promise<void> {
    return this.#engine.forceRefresh(this.#credential);
  }

  /** forceRefresh() because an API answered 401 to the held token (the authenticated HttpService calls it); telemetry tells the two apart. */
  [REFRESH_ON_UNAUTHORIZED](): Promise<void> {
    return this.#engine.forceRefresh(this.#credential, 'unauthorized');
  }

  /**
   * Replaces the tokens (e.g. after a new login): validated, saved, rescheduled. A refresh in
   * flight for the old tokens is aborted and its result dropped. Invalid tokens are rejected
   * and the previous ones stay.
   */
  async updateTokens(tokens: TokenPair): Promise<void> {
    const c = this.#credential;
    await this.#engine.put(c, await this.#engine.handIn(c, tokens));
    this.#engine.check(c);
  }

  /** The access token: at once while fresh or comfortably valid; near expiry, after the refresh. */
  getAccessToken(): Promise<string> {
    const c = this.#credential;
    if (c.state === 'idle' && Date.now() < c.refreshAt) {
      this.#reads.fresh++;
      return (c.fresh ??= Promise.resolve(c.tokens!.accessToken));
    }
    return this.#engine.slowAccessToken(c);
  }

  /** Synchronous read: the access token if one is held and unexpired, else undefined. Never waits, never refreshes. */
  peekAccessToken(): string | undefined {
    return this.#engine.peekAccessToken(this.#credential);
  }

  /** A frozen copy of the tokens held, or null. With getAccessToken and peekAccessToken, the only methods that return secrets. */
  getTokens(): Readonly<TokenPair & { expiresAt: Date }> | null {
    return this.#engine.tokensOf(this.#credential);
  }

  getExpiresAt(): Date | null {
    const tokens = this.#credential.tokens;
    return tokens ? new Date(tokens.expiresAt) : null;
  }

  getLastRefreshAt(): Date | null {
    const at = this.#credential.lastRefreshAt;
    return at === undefined ? null : new Date(at);
  }

  isRunning(): boolean {
    return this.#engine.isRunning();
  }

  getRefreshStatus(): RefreshStatus {
    return this.#engine.status(this.#credential);
  }

  protected redactedSummary(): Record<string, unknown> {
    const tokens = this.#credential.tokens;
    return { name: this.name, state: this.#credential.state, expiresAt: tokens ? new Date(tokens.expiresAt) : null };
  }
}
