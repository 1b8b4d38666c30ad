import { type RefreshLockHandle } from '../common/interfaces/refresh-lock.interface';
import { type ResolvedTokens } from '../common/interfaces/token-pair.interface';
import { TokenRefreshEvents } from '../common/token-refresh.constants';
import {
  InvalidTokenResponseError,
  MissingRefreshTokenError,
  ReauthRequiredError,
  RefreshAbortedError,
  RefreshLockError,
  TokenRefreshError,
  TokenRefreshStateError,
} from '../common/token-refresh.errors';
import { type RefreshSource, summarizeError, TokenRefreshRevokeFailedEvent } from '../common/token-refresh.events';
import { Messages } from '../common/token-refresh.messages';
import { clockAnchor } from './clock';
import { type Credential } from './credential';
import { DeadlineExceededError, withTimeout } from './deadline';
import { type EngineCore } from './engine-core';
import { toRefreshError } from './error-classification';
import { type AttemptOutcome, type RefreshAttemptProbe, type RefreshTrigger } from './telemetry';
import { resolveRefreshResponse, storedSupersedes } from './tokens';

/**
 * Talking to the token endpoint for one credential: one refresh at a time per key (shared by
 * every caller), taken under its lock, with the store re-read under it when other replicas may
 * have rotated, and the rotation saved before it is used; and revoking a refresh token no
 * longer wanted.
 */
export class RefreshAttempts {
  constructor(private readonly core: EngineCore) {}

  /** Refreshes `c` now, sharing a refresh already in flight. Rejects with the typed error on failure. */
  async forceRefresh(c: Credential, trigger: Extract<RefreshTrigger, 'forced' | 'unauthorized'> = 'forced'): Promise<void> {
    if (!this.core.isRunning()) {
      throw new TokenRefreshStateError(`token refresh "${this.core.context.name}" is not running; call start() first`);
    }
    if (c.state === 'reauth-required') throw new ReauthRequiredError(this.core.context.name, this.core.context.keyArg(c));
    if (c.state === 'reauthenticating') {
      await c.busy?.flight;
      return;
    }
    if (!c.tokens && !this.core.deps.client.requestToken) throw this.core.reader.noTokens(c);
    const work = c.work();
    work.urgent = true;
    this.core.scheduler.promote(c);
    await this.refresh(c, trigger);
  }

  refreshInBackground(c: Credential, trigger: RefreshTrigger): void {
    const unwinding = c.busy?.flight;
    if (unwinding) {
      // A flight that has already set the state (idle, backoff) is finishing, e.g. releasing
      // the lock: joining it would refresh nothing. Look again once it has settled.
      const work = c.work();
      if (work.recheckAfter !== unwinding) {
        work.recheckAfter = unwinding;
        void unwinding.then(noop, noop).then(() => this.core.transitions.check(c));
      }
      return;
    }
    // Failures are handled (state, events, backoff) inside; nobody awaits a background refresh.
    this.refresh(c, trigger).catch(noop);
  }

  refresh(c: Credential, trigger: RefreshTrigger): Promise<ResolvedTokens> {
    const work = c.work();
    // A flight begun for tokens that the app replaced since is being aborted: let it settle,
    // then refresh the current tokens rather than share its failure.
    const stale = work.flight;
    if (stale && work.flightGeneration !== c.generation) {
      const again = (): Promise<ResolvedTokens> => (this.core.isRunning() ? this.refresh(c, trigger) : Promise.reject(new RefreshAbortedError()));
      return stale.then(again, again);
    }
    if (stale) return stale;
    work.flightGeneration = c.generation;
    this.core.transitions.setState(c, 'refreshing');
    this.core.transitions.schedule(c, undefined);
    const flight = this.core.scheduler.run(c, () => this.#performRefresh(c, trigger)).finally(() => {
      if (work.flight === flight) {
        work.flight = undefined;
        work.urgent = false;
        work.waiters = undefined;
        work.recheckAfter = undefined;
        // A refresh dropped from the queue (stop, delete) leaves the state it found.
        if (c.state === 'refreshing') this.core.transitions.setState(c, this.core.isRunning() ? 'idle' : 'stopped');
        this.core.transitions.tidy(c);
      }
    });
    work.flight = flight;
    return flight;
  }

  async #performRefresh(c: Credential, trigger: RefreshTrigger): Promise<ResolvedTokens> {
    if (!this.core.isRunning()) throw new RefreshAbortedError();
    const work = c.work();
    const generation = c.generation;
    // What is sent may differ from what is held by the time an error comes back (the app handed in others).
    const sent = c.tokens;
    const abort = new AbortController();
    work.abort = abort;
    this.core.transitions.setState(c, 'refreshing');
    const probe = this.core.telemetry.attempt({
      registration: this.core.context.name,
      grantType: sent?.refreshToken === undefined && this.core.deps.client.requestToken ? 'client_credentials' : 'refresh_token',
      trigger,
      attempt: c.failures + 1,
      keyed: this.core.deps.keyed,
      distributedLock: this.core.deps.lock.distributed === true,
    });
    // expires_in counts from here, on the clocks as they are now.
    const startedAt = Date.now();
    const anchor = clockAnchor(startedAt);
    try {
      const { tokens, source } = await this.#refreshUnderLock(c, generation, abort.signal, startedAt, anchor, probe, trigger);
      probe.end({ result: 'success', source });
      return tokens;
    } catch (thrown) {
      if (thrown instanceof RefreshedElsewhere && c.tokens) {
        probe.end({ result: 'failure', code: 'lock_unavailable' });
        // Another replica holds this key's lock, so it is refreshing it: look again shortly,
        // and find its rotation in the store under the lock then.
        this.core.transitions.deferAfterBusyLock(c);
        return c.tokens;
      }
      const error = toRefreshError(thrown, [...secretsOf(sent), ...secretsOf(c.tokens)]);
      probe.end(failureOf(error));
      // A successful reauthenticate() ends the episode: waiting callers get its tokens.
      if (generation === c.generation && (await this.core.failures.onFailure(c, error, generation)) && c.tokens) return c.tokens;
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
    anchor: number,
    probe: RefreshAttemptProbe,
    trigger: RefreshTrigger,
  ): Promise<{ tokens: ResolvedTokens; source: RefreshSource }> {
    const { lock, client, keyed, settings } = this.core.deps;
    const key = this.core.context.keyArg(c);
    // With many keys, a background refresh does not wait for a lock another replica holds (it
    // would hold one of the few refresh slots meanwhile); a caller waiting for the token does.
    const background = keyed && (trigger === 'proactive' || trigger === 'retry');
    const handle = this.takeHeldLock(c) ?? (await this.#acquire(key, background ? 0 : settings.lockWaitTimeout, signal, probe));
    if (!handle && background && lock.distributed) throw new RefreshedElsewhere();
    if (!handle) throw new RefreshLockError('refresh lock not acquired: another replica holds it, or its backend is unreachable');
    try {
      this.#assertCurrent(c, generation, signal);
      if (lock.distributed) {
        // Another replica may have rotated while we waited; under the lock the store is the truth.
        const stored = await this.core.persistence.load(c);
        this.#assertCurrent(c, generation, signal);
        if (stored && storedSupersedes(stored.given, stored.resolved, c.tokens)) {
          this.core.transitions.adopt(c, stored.resolved, 'store');
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
      if (!this.core.holds(c)) throw new RefreshAbortedError(); // deleted meanwhile
      const outcome = resolveRefreshResponse(response, current, startedAt);
      for (const field of outcome.dropped) this.core.deps.logger.warn(Messages.responseFieldDropped(this.core.context.label(c), field));
      if (!outcome.tokens) {
        if (outcome.keep) {
          // The new refresh token replaces the spent one (saved first); the held access token serves on.
          await this.core.persistence.persist(c, outcome.keep);
          c.tokens = outcome.keep;
        }
        throw new InvalidTokenResponseError(
          outcome.keep ? 'no usable access_token (the rotated refresh token was kept)' : 'no usable access_token',
        );
      }
      await this.core.persistence.persist(c, outcome.tokens);
      this.core.transitions.adopt(c, outcome.tokens, 'refresh', Math.round(performance.now() - sentAt), anchor);
      return { tokens: outcome.tokens, source: 'refresh' };
    } finally {
      // Until saved, the rotated refresh token lives only here: a replica that took the lock now
      // would re-read the old one from the store and spend it again. Keep the lock until it is saved.
      if (lock.distributed && c.busy?.unsaved && !handle.lost?.aborted) c.work().heldLock = handle;
      else await this.release(c, handle);
    }
  }

  async #acquire(key: string | undefined, waitMs: number, signal: AbortSignal, probe: RefreshAttemptProbe): Promise<RefreshLockHandle | null> {
    const waited = probe.lockWait();
    try {
      const handle = await this.core.deps.lock.acquire({ waitMs, signal, key });
      waited(handle ? 'acquired' : 'unavailable');
      return handle;
    } catch (error) {
      waited('error');
      // The lock's backend failed (Redis, PostgreSQL down): a lock failure, retried like one.
      if (signal.aborted || error instanceof TokenRefreshError) throw error;
      throw new RefreshLockError('refresh lock backend failed', { cause: error });
    }
  }

  takeHeldLock(c: Credential): RefreshLockHandle | undefined {
    const work = c.busy;
    const held = work?.heldLock;
    if (!work || !held) return undefined;
    work.heldLock = undefined;
    if (!held.lost?.aborted) return held;
    void this.release(c, held);
    return undefined;
  }

  async release(c: Credential, handle: RefreshLockHandle | undefined): Promise<void> {
    await handle?.release().catch(() => this.core.deps.logger.warn(Messages.lockReleaseFailed(this.core.context.label(c))));
  }

  #assertCurrent(c: Credential, generation: number, signal: AbortSignal): void {
    if (generation !== c.generation || signal.aborted) throw new RefreshAbortedError();
  }

  /**
   * Revokes the refresh token (RFC 7009) when the registration asks for it and the client can:
   * bounded by `ms`, and a failure is reported, never thrown.
   */
  async revoke(c: Credential, ms: number): Promise<void> {
    const { client, settings, logger } = this.core.deps;
    const refreshToken = c.tokens?.refreshToken;
    if (!settings.revokeRefreshToken || !client.revoke || refreshToken === undefined) return;
    const abort = new AbortController();
    const key = this.core.context.keyArg(c);
    try {
      const options = key === undefined ? { signal: abort.signal, tokenTypeHint: 'refresh_token' as const } : { signal: abort.signal, key, tokenTypeHint: 'refresh_token' as const };
      await withTimeout(Promise.resolve().then(() => client.revoke!(refreshToken, options)), ms);
      logger.log(Messages.revoked(this.core.context.label(c)));
    } catch (thrown) {
      abort.abort();
      const error = toRefreshError(thrown instanceof DeadlineExceededError ? new RefreshAbortedError() : thrown, secretsOf(c.tokens));
      logger.warn(Messages.revokeFailed(this.core.context.label(c), error.code));
      this.core.context.emit(TokenRefreshEvents.REVOKE_FAILED, new TokenRefreshRevokeFailedEvent({ ...this.core.context.fields(c), error: summarizeError(error) }));
    }
  }
}

const noop = (): void => undefined;

/** A keyed key's lock is held by another replica, which is refreshing it (not an error). */
class RefreshedElsewhere extends Error {}

function failureOf(error: TokenRefreshError): AttemptOutcome {
  const { code, oauthError } = summarizeError(error);
  return oauthError === undefined ? { result: 'failure', code } : { result: 'failure', code, oauthError };
}

/** Token values a foreign error message must not repeat. */
export function secretsOf(tokens: ResolvedTokens | undefined): string[] {
  return tokens ? [tokens.accessToken, tokens.refreshToken ?? ''] : [];
}
