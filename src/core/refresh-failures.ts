import { TokenRefreshEvents } from '../common/token-refresh.constants';
import { type TokenRefreshError } from '../common/token-refresh.errors';
import {
  summarizeError,
  TokenRefreshReauthenticatedEvent,
  TokenRefreshReauthRequiredEvent,
  TokenRefreshRefreshFailedEvent,
} from '../common/token-refresh.events';
import { Messages } from '../common/token-refresh.messages';
import { clockAnchor } from './clock';
import { type Credential } from './credential';
import { type EngineCore } from './engine-core';
import { toRefreshError } from './error-classification';
import { afterFailure } from './failure-policy';
import { secretsOf } from './refresh-attempts';
import { resolveTokens } from './tokens';

/**
 * What follows a failed refresh of one credential: a transient failure waits out a backoff
 * (failure-policy.ts decides how long); a permanent one, or too many in a row, ends the episode:
 * onRefreshFail is asked once, then reauthenticate() runs or the credential is parked until
 * the app hands in new tokens.
 */
export class RefreshFailures {
  constructor(private readonly core: EngineCore) {}

  /** Returns true when reauthenticate() recovered the episode. */
  async onFailure(c: Credential, error: TokenRefreshError, generation: number): Promise<boolean> {
    const { settings, logger } = this.core.deps;
    const work = c.work();
    const label = this.core.context.label(c);
    // Stopping: remember what happened, but schedule nothing and ask nobody.
    if (!this.core.isRunning()) {
      work.lastError = error;
      return false;
    }
    c.failures++;
    work.lastError = error;
    const attempt = c.failures;
    const decision = afterFailure(error, attempt, { ...settings.retry }, c.now(), this.core.deps.random);

    if (decision.retry) {
      work.nextAttemptAt = decision.at;
      this.core.transitions.setState(c, 'backoff');
      logger.warn(Messages.retrying(label, error.code, attempt, decision.delay));
      this.core.context.emit(
        TokenRefreshEvents.REFRESH_FAILED,
        new TokenRefreshRefreshFailedEvent({
          ...this.core.context.fields(c),
          error: summarizeError(error),
          attempt,
          willRetry: true,
          nextAttemptAt: new Date(decision.at),
        }),
      );
      this.core.transitions.schedule(c, decision.at);
      return false;
    }

    // The episode has failed: ask once, then either re-authenticate or park until the app acts.
    this.core.transitions.setState(c, 'reauth-required');
    work.nextAttemptAt = undefined;
    this.core.transitions.schedule(c, undefined);
    logger.error(Messages.episodeFailed(label, error.code, error.message));
    this.core.context.emit(
      TokenRefreshEvents.REFRESH_FAILED,
      new TokenRefreshRefreshFailedEvent({ ...this.core.context.fields(c), error: summarizeError(error), attempt, willRetry: false, nextAttemptAt: null }),
    );
    const wantsReauth = await this.#askOnRefreshFail(c, error);
    if (generation !== c.generation) return false;
    if (wantsReauth) {
      if (this.core.deps.reauthenticate) {
        if (await this.#reauthenticate(c, generation)) return true;
      } else {
        logger.warn(Messages.reauthUnavailable(label));
      }
    }
    if (generation !== c.generation) return false;
    this.core.transitions.setState(c, 'reauth-required');
    this.core.transitions.schedule(c, undefined);
    this.core.telemetry.reauthRequired(this.core.context.name, this.core.deps.keyed);
    logger.error(Messages.reauthRequired(label));
    this.core.context.emit(
      TokenRefreshEvents.REAUTH_REQUIRED,
      new TokenRefreshReauthRequiredEvent({ ...this.core.context.fields(c), error: summarizeError(work.lastError ?? error) }),
    );
    return false;
  }

  /** Without an onRefreshFail, re-authenticate whenever a reauthenticate function exists. */
  async #askOnRefreshFail(c: Credential, error: TokenRefreshError): Promise<boolean> {
    const { onRefreshFail, reauthenticate, logger } = this.core.deps;
    if (!onRefreshFail) return reauthenticate !== undefined;
    try {
      const key = this.core.context.keyArg(c);
      return (await (key === undefined ? onRefreshFail(error) : onRefreshFail(error, key))) === true;
    } catch {
      logger.warn(Messages.onRefreshFailThrew(this.core.context.label(c)));
      return false;
    }
  }

  async #reauthenticate(c: Credential, generation: number): Promise<boolean> {
    const reauthenticate = this.core.deps.reauthenticate!;
    this.core.transitions.setState(c, 'reauthenticating');
    const startedAt = Date.now();
    const anchor = clockAnchor(startedAt);
    try {
      const key = this.core.context.keyArg(c);
      const given = await (key === undefined ? reauthenticate() : reauthenticate(key));
      const next = resolveTokens(given, startedAt, (c.tokens?.version ?? 0) + 1);
      if (generation !== c.generation) return false;
      await this.core.persistence.persist(c, next);
      this.core.transitions.adopt(c, next, undefined, 0, anchor);
      c.lastRefreshAt = Date.now();
      this.core.deps.logger.log(Messages.reauthenticated(this.core.context.label(c)));
      this.core.context.emit(
        TokenRefreshEvents.REAUTHENTICATED,
        new TokenRefreshReauthenticatedEvent({ ...this.core.context.fields(c), expiresAt: new Date(next.expiresAt) }),
      );
      return true;
    } catch (thrown) {
      const error = toRefreshError(thrown, secretsOf(c.tokens));
      c.work().lastError = error;
      this.core.deps.logger.error(Messages.reauthFailed(this.core.context.label(c), error.code));
      return false;
    }
  }
}
