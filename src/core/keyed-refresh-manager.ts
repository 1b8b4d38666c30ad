import { type RefreshState, type RefreshStatus } from '../common/interfaces/refresh-status.interface';
import { type TokenPair } from '../common/interfaces/token-pair.interface';
import { type TokenRefreshError, TokenRefreshStateError, TokenValidationError } from '../common/token-refresh.errors';
import { type Credential } from './credential';
import { type EngineDeps } from './engine-context';
import { type LoggerPort } from './ports';
import { Redacted } from './redaction';
import { RefreshEngine, type StateCounts } from './refresh-engine';

/** The engine's dependencies, for many keys: callbacks always receive the key. */
export interface KeyedRefreshManagerDeps extends Omit<EngineDeps, 'keyed' | 'onRefreshFail' | 'reauthenticate'> {
  onRefreshFail?: (error: TokenRefreshError, key: string) => boolean | Promise<boolean>;
  reauthenticate?: (key: string) => Promise<TokenPair>;
}

/** Longest key accepted: a key is an id (a user, a tenant), not a payload. */
const MAX_KEY_LENGTH = 512;

/**
 * Many credentials in one registration, one per key (a user, a tenant): each refreshed ahead of
 * expiry (or, in lazy mode, when used), with one request per rotation, the number in flight
 * capped, a dead key parked on its own, and the store as the memory of keys not held. The
 * same engine as TokenRefreshManager, with many keys.
 */
export class KeyedTokenRefreshManager extends Redacted {
  readonly #engine: RefreshEngine;
  readonly #obtainsFromScratch: boolean;
  protected readonly logger: LoggerPort;

  constructor(deps: KeyedRefreshManagerDeps) {
    super();
    this.#obtainsFromScratch = typeof deps.client.requestToken === 'function';
    this.#engine = new RefreshEngine({
      ...deps,
      onRefreshFail: deps.onRefreshFail && ((error, key) => deps.onRefreshFail!(error, key!)),
      reauthenticate: deps.reauthenticate && ((key) => deps.reauthenticate!(key!)),
      keyed: true,
    });
    this.logger = deps.logger;
  }

  get name(): string {
    return this.#engine.name;
  }

  /** Runs the schedule. Keys set before start are held, and refreshed from now on. */
  start(): Promise<void> {
    return this.#engine.start();
  }

  /** Waits up to shutdownTimeout for refreshes in flight (their rotations are saved), then aborts the rest. */
  stop(): Promise<void> {
    return this.#engine.stop();
  }

  isRunning(): boolean {
    return this.#engine.isRunning();
  }

  /**
   * A key's tokens, after the user's consent: validated, saved, then held and scheduled. They
   * replace what the key held; a refresh in flight for the old ones is aborted.
   */
  async set(key: string, tokens: TokenPair): Promise<void> {
    const c = this.#engine.credential(checkKey(key));
    try {
      await this.#engine.put(c, await this.#engine.handIn(c, tokens));
    } catch (error) {
      this.#engine.forgetIfEmpty(c);
      throw error;
    }
    this.#engine.check(c);
  }

  /** Forgets the key, in memory and in the store; no request for it follows. */
  delete(key: string): Promise<void> {
    return this.#engine.delete(checkKey(key));
  }

  /** Whether the key has tokens, held in memory or in the store. */
  async has(key: string): Promise<boolean> {
    return (await this.#engine.resolveKey(checkKey(key))) !== undefined;
  }

  /**
   * The key's access token: at once while fresh or comfortably valid; near expiry, after its
   * refresh. Rejects with ReauthRequiredError (naming the key) once its grant is dead, and
   * with TokenRefreshStateError for a key that has no tokens.
   */
  getAccessToken(key: string): Promise<string> {
    const c = this.#engine.find(key);
    if (c !== undefined && c.state === 'idle' && Date.now() < c.refreshAt) {
      c.used = this.#engine.tick;
      this.#engine.reads.fresh++;
      return (c.fresh ??= Promise.resolve(c.tokens!.accessToken));
    }
    return this.#held(key).then((held) => {
      this.#engine.touch(held);
      return this.#engine.slowAccessToken(held);
    });
  }

  /** Synchronous read: the key's access token if it is held in memory and unexpired, else undefined. */
  peekAccessToken(key: string): string | undefined {
    const c = this.#engine.find(key);
    return c ? this.#engine.peekAccessToken(c) : undefined;
  }

  /** Refreshes the key now (ahead of any queue), sharing a refresh already in flight. */
  async forceRefresh(key: string): Promise<void> {
    await this.#engine.forceRefresh(await this.#held(key));
  }

  /** The key's status, or null when it is not held in memory (evicted, or unknown). */
  getRefreshStatus(key: string): RefreshStatus | null {
    const c = this.#engine.find(key);
    return c?.tokens ? this.#engine.status(c) : null;
  }

  /** A frozen copy of the key's tokens, or null when not held in memory. */
  getTokens(key: string): Readonly<TokenPair & { expiresAt: Date }> | null {
    const c = this.#engine.find(key);
    return c ? this.#engine.tokensOf(c) : null;
  }

  /** Keys held in memory, optionally only those in one state (e.g. `reauth-required`: users to ask to reconnect). */
  keys(state?: RefreshState): string[] {
    return this.#engine.keys(state);
  }

  /** How many keys are held in each state. */
  counts(): StateCounts {
    return this.#engine.counts();
  }

  /** Refreshes in flight now, and waiting for a slot. */
  load(): { inFlight: number; queued: number } {
    return this.#engine.load();
  }

  async #held(key: string): Promise<Credential> {
    const c = await this.#engine.resolveKey(checkKey(key));
    if (c) return c;
    // A client that obtains tokens from scratch (client_credentials per tenant) gets the key's first ones on use.
    if (this.#obtainsFromScratch) return this.#engine.credential(key);
    throw new TokenRefreshStateError(`token refresh "${this.name}" holds no tokens for key "${key}"; call set(key, tokens)`);
  }

  protected redactedSummary(): Record<string, unknown> {
    return { name: this.name, running: this.isRunning(), keys: this.#engine.size };
  }
}

function checkKey(key: unknown): string {
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH) {
    throw new TokenValidationError('key', `a key must be a non-empty string of at most ${MAX_KEY_LENGTH} characters`);
  }
  return key;
}
