import { type RefreshStatus } from '../common/interfaces/refresh-status.interface';
import { type TokenPair } from '../common/interfaces/token-pair.interface';
import { ReauthRequiredError, TokenExpiredError, type TokenRefreshError, TokenRefreshStateError } from '../common/token-refresh.errors';
import { summarizeError } from '../common/token-refresh.events';
import { type Credential } from './credential';
import { type EngineCore } from './engine-core';
import { computeWaitFrom } from './refresh-schedule';
import { toPublicTokens } from './tokens';

/**
 * Reading a credential's tokens, the hot path included: while fresh, one cached promise and a
 * clock read; past refreshAt the held token keeps serving while it is comfortably valid, and
 * only near expiry do callers wait (all on one promise per refresh). It counts its answers for
 * telemetry, which reads the counts when it collects.
 */
export class TokenReader {
  /** getAccessToken() answers so far. */
  readonly reads = { fresh: 0, waited: 0, failed: 0 };

  constructor(private readonly core: EngineCore) {}

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
    if (this.core.isRunning() && c.state === 'idle' && now >= c.refreshAt) this.core.attempts.refreshInBackground(c, 'on-access');
    const work = c.busy;
    const inFlight = work?.flight;
    if (work && inFlight && now >= computeWaitFrom(tokens, c.refreshAt)) {
      if (!work.urgent) {
        work.urgent = true;
        this.core.scheduler.promote(c);
      }
      if (work.waiters?.flight !== inFlight) {
        const settled = (): string => this.currentAccessToken(c);
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
      const token = this.currentAccessToken(c);
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
    if (!this.core.isRunning() || !this.core.deps.client.requestToken) {
      this.reads.failed++;
      return Promise.reject(this.noTokens(c));
    }
    const flight = c.busy?.flight ?? this.core.attempts.refresh(c, 'on-access');
    const work = c.work();
    if (work.waiters?.flight !== flight) {
      const settled = (): string => this.currentAccessToken(c);
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
      name: this.core.context.name,
      ...(this.core.deps.keyed ? { key: c.key } : {}),
      isRunning: this.core.isRunning(),
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

  currentAccessToken(c: Credential): string {
    const tokens = c.tokens;
    if (tokens && c.now() < tokens.expiresAt) return tokens.accessToken;
    const key = this.core.context.keyArg(c);
    throw c.state === 'reauth-required'
      ? new ReauthRequiredError(this.core.context.name, key)
      : new TokenExpiredError(this.core.context.name, c.busy?.lastError?.code, key);
  }

  noTokens(c: Credential): TokenRefreshStateError {
    return new TokenRefreshStateError(
      this.core.deps.keyed
        ? `token refresh "${this.core.context.name}" holds no tokens for key "${c.key}"; call set(key, tokens)`
        : `token refresh "${this.core.context.name}" holds no tokens yet; call start()`,
    );
  }
}

function lastErrorOf(error: TokenRefreshError): RefreshStatus['lastError'] {
  const { code, message, oauthError } = summarizeError(error);
  return Object.freeze(oauthError === undefined ? { code, message } : { code, message, oauthError });
}
