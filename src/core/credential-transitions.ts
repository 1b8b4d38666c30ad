import { type RefreshState } from '../common/interfaces/refresh-status.interface';
import { type ResolvedTokens } from '../common/interfaces/token-pair.interface';
import { TokenRefreshEvents } from '../common/token-refresh.constants';
import { type RefreshSource, TokenRefreshExpiredEvent, TokenRefreshRefreshedEvent } from '../common/token-refresh.events';
import { Messages } from '../common/token-refresh.messages';
import { clockAnchor } from './clock';
import { type Credential } from './credential';
import { type EngineCore } from './engine-core';
import { afterArrival } from './failure-policy';
import { computeRefreshAt } from './refresh-schedule';

/** After finding a key's lock held elsewhere, wait this long (to twice as long) before looking again. */
const BUSY_LOCK_RECHECK = 1_000;

/** Counts of credentials per state. */
export type StateCounts = Record<RefreshState, number>;

/**
 * A credential's state and schedule: taking up new tokens, what to do when it is due, when to
 * look at it next, and the counts per state that health and telemetry read.
 */
export class CredentialTransitions {
  readonly counts: StateCounts = { stopped: 0, idle: 0, refreshing: 0, backoff: 0, reauthenticating: 0, 'reauth-required': 0 };

  constructor(private readonly core: EngineCore) {}

  setState(c: Credential, state: RefreshState): void {
    if (c.state === state) return;
    if (this.core.holds(c)) {
      this.counts[c.state]--;
      this.counts[state]++;
    }
    c.state = state;
  }

  /**
   * Takes new tokens into memory and reschedules. `source` undefined: given by the app (or
   * loaded). `anchor` pairs the clocks as they were when the tokens' times were computed (for a
   * refresh: when its request started), so a clock step while a request is out cannot stretch them.
   */
  adopt(c: Credential, tokens: ResolvedTokens, source: RefreshSource | undefined, durationMs = 0, anchor = clockAnchor()): void {
    const { deps, context } = this.core;
    // The anchor belongs to the tokens: taking the same ones up again (a restart) keeps it.
    if (tokens !== c.tokens) c.anchor = anchor;
    const now = c.now();
    c.tokens = tokens;
    c.refreshAt = computeRefreshAt(tokens, deps.settings.refreshThreshold);
    c.failures = 0;
    c.fresh = undefined;
    const work = c.busy;
    if (work) {
      work.lastError = undefined;
      work.nextAttemptAt = undefined;
      work.expiredNotified = false;
    }
    if (source !== undefined) c.lastRefreshAt = now;
    if (!this.core.isRunning()) {
      this.deactivate(c);
      return;
    }
    this.setState(c, 'idle');
    if (source !== undefined) {
      deps.logger.log(Messages.refreshed(context.label(c), tokens.expiresAt, source));
      context.emit(
        TokenRefreshEvents.REFRESHED,
        new TokenRefreshRefreshedEvent({
          ...context.fields(c),
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
        ? afterArrival(c.refreshAt, now, work?.dueOnArrival ?? 0, deps.settings.retry, deps.random)
        : { at: c.refreshAt, dueOnArrival: 0 };
    if (next.dueOnArrival > 0 || work) {
      const w = c.work();
      w.dueOnArrival = next.dueOnArrival;
      w.notBefore = next.dueOnArrival > 0 ? next.at : 0;
    }
    this.schedule(c, this.idleDueAt(c));
    this.tidy(c);
  }

  /**
   * Another replica is refreshing `c` (it holds the key's lock): stay idle, and look again
   * after a second or two, when its rotation is in the store.
   */
  deferAfterBusyLock(c: Credential): void {
    this.setState(c, this.core.isRunning() ? 'idle' : 'stopped');
    if (!this.core.isRunning()) return;
    const random = this.core.deps.random ?? Math.random;
    c.work().notBefore = c.now() + BUSY_LOCK_RECHECK * (1 + random());
    this.schedule(c, this.idleDueAt(c));
  }

  /** A credential of a stopped engine: no schedule, and reads take the checked path. */
  deactivate(c: Credential): void {
    this.core.scheduler.cancel(c);
    this.setState(c, 'stopped');
    if (c.busy) c.busy.nextAttemptAt = undefined;
    this.tidy(c);
  }

  /** Runs when `c` is due, at start, and after a flight unwinds. Catches late timers and clock jumps. */
  check(c: Credential): void {
    const tokens = c.tokens;
    if (!this.core.isRunning() || !this.core.holds(c)) return;
    // Without tokens only a client that can obtain them from scratch (client_credentials) has work to do.
    if (!tokens && !this.core.deps.client.requestToken) return;
    const now = c.now();
    if (tokens && now >= tokens.expiresAt && !c.busy?.expiredNotified) this.notifyExpired(c, true);
    switch (c.state) {
      case 'idle': {
        const due = this.idleDueAt(c);
        if (due !== undefined && now >= due) this.core.attempts.refreshInBackground(c, 'proactive');
        else this.schedule(c, due);
        return;
      }
      case 'backoff': {
        const at = c.busy?.nextAttemptAt ?? now;
        if (now >= at) this.core.attempts.refreshInBackground(c, 'retry');
        else this.schedule(c, at);
        return;
      }
      default:
        // refreshing, reauthenticating: in hand; reauth-required: waits for the app.
        this.schedule(c, undefined);
    }
  }

  /** When an idle credential's next refresh is due: refreshAt ahead of expiry, or in lazy mode only its keep-alive. */
  idleDueAt(c: Credential): number | undefined {
    const { settings, keyed } = this.core.deps;
    if (!c.tokens) return 0; // nothing held yet (client_credentials): obtain now
    if (!keyed || settings.refreshMode === 'ahead') return Math.max(c.refreshAt, c.busy?.notBefore ?? 0);
    if (settings.keepAliveInterval === undefined) return undefined;
    return (c.lastRefreshAt ?? c.tokens.issuedAt) + settings.keepAliveInterval;
  }

  /** Arms `c` for `actionAt`, or for its expiry if that comes first and no one has been told yet. */
  schedule(c: Credential, actionAt: number | undefined): void {
    const { keyed, settings } = this.core.deps;
    let at = actionAt;
    const watchExpiry = c.tokens !== undefined && !c.busy?.expiredNotified && !(keyed && settings.refreshMode === 'lazy');
    if (watchExpiry && c.state !== 'idle') at = Math.min(at ?? Infinity, c.tokens!.expiresAt);
    if (at === undefined || at === Infinity) this.core.scheduler.cancel(c);
    else this.core.scheduler.at(c, at);
  }

  notifyExpired(c: Credential, warn: boolean): void {
    const { context, deps } = this.core;
    const tokens = c.tokens!;
    c.work().expiredNotified = true;
    if (warn) deps.logger.warn(Messages.expired(context.label(c)));
    context.emit(TokenRefreshEvents.EXPIRED, new TokenRefreshExpiredEvent({ ...context.fields(c), expiredAt: new Date(tokens.expiresAt) }));
  }

  /** Drops a credential's work record once nothing is going on, so an idle key stays small. */
  tidy(c: Credential): void {
    if (c.busy?.idle && !c.busy.urgent && c.busy.waiters === undefined && c.busy.abort === undefined) c.busy = undefined;
  }
}
