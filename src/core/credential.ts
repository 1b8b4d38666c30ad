import { type RefreshLockHandle } from '../common/interfaces/refresh-lock.interface';
import { type RefreshState } from '../common/interfaces/refresh-status.interface';
import { type ResolvedTokens } from '../common/interfaces/token-pair.interface';
import { type TokenRefreshError } from '../common/token-refresh.errors';
import { anchoredNow } from './clock';
import { NOT_QUEUED } from './min-heap';

/**
 * One credential (one key of a registration) as a small record, with no timers of its own:
 * the registration's scheduler drives every record from one heap. A million of them must fit
 * in memory, so fields that most records never need live in `busy`, made on demand.
 */
export class Credential {
  tokens: ResolvedTokens | undefined = undefined;
  state: RefreshState = 'stopped';
  /** Epoch ms at which the tokens are due for refresh (see refresh-schedule.ts). */
  refreshAt = 0;
  /** wall - monotonic when `tokens` were taken: their deadlines are read on both clocks (clock.ts). */
  anchor = 0;
  /** When the scheduler should next look at this credential, on the monotonic clock. */
  dueMono = 0;
  /** Position in the scheduler's timer heap, and in its queue of refreshes waiting for a slot. */
  timerIndex = NOT_QUEUED;
  queueIndex = NOT_QUEUED;
  /** Failed refreshes in a row. */
  failures = 0;
  /** Bumped when the app hands in tokens: a refresh begun for others is void. */
  generation = 0;
  /** The scheduler's coarse clock at the last access: what the memory bound evicts by. */
  used = 0;
  lastRefreshAt: number | undefined = undefined;
  /** The hot path's answer while the token is fresh: one promise, not one per call. */
  fresh: Promise<string> | undefined = undefined;
  busy: CredentialWork | undefined = undefined;

  constructor(readonly key: string) {}

  /** Now, as this credential's deadlines must be read. */
  now(): number {
    return anchoredNow(this.anchor);
  }

  work(): CredentialWork {
    return (this.busy ??= new CredentialWork(this));
  }
}

/** What a credential holds only while something is going on: a refresh, a failure, a save. */
export class CredentialWork {
  constructor(readonly credential: Credential) {}

  /** The refresh in flight (or queued for a slot); shared by every caller. */
  flight: Promise<ResolvedTokens> | undefined = undefined;
  flightGeneration = 0;
  abort: AbortController | undefined = undefined;
  /** Callers waiting near expiry share one promise per flight. */
  waiters: { flight: Promise<ResolvedTokens>; result: Promise<string> } | undefined = undefined;
  /** Callers (forceRefresh, a caller near expiry) wait on this flight: it jumps the queue. */
  urgent = false;
  lastError: TokenRefreshError | undefined = undefined;
  nextAttemptAt: number | undefined = undefined;
  expiredNotified = false;
  /** Refreshes in a row whose tokens were due on arrival: backs off instead of looping. */
  dueOnArrival = 0;
  /** With tokens due on arrival: no refresh before this instant (epoch ms). */
  notBefore = 0;
  /** Saves run one after another, newest last; a pair that failed to save waits in `unsaved`. */
  saveChain: Promise<void> | undefined = undefined;
  latestToSave: ResolvedTokens | undefined = undefined;
  unsaved: ResolvedTokens | undefined = undefined;
  storeFailures = 0;
  /** When the next save retry is due (epoch ms), and its place in the retry heap. */
  saveRetryAt = 0;
  storeIndex = NOT_QUEUED;
  /** A distributed lock kept after a refresh whose tokens failed to save; released once they are saved. */
  heldLock: RefreshLockHandle | undefined = undefined;
  unreadableReported = false;
  /** The unwinding flight a re-check is already chained to (one per flight, not one per call). */
  recheckAfter: Promise<ResolvedTokens> | undefined = undefined;

  /** Nothing left worth keeping: the record can drop this. */
  get idle(): boolean {
    return (
      this.flight === undefined &&
      this.saveChain === undefined &&
      this.unsaved === undefined &&
      this.heldLock === undefined &&
      this.lastError === undefined &&
      this.nextAttemptAt === undefined &&
      !this.expiredNotified &&
      this.dueOnArrival === 0 &&
      this.notBefore === 0 &&
      !this.unreadableReported &&
      this.storeIndex === NOT_QUEUED
    );
  }
}
