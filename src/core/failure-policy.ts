import { type TokenRefreshError } from '../common/token-refresh.errors';
import { backoffDelay, type BackoffPolicy } from './backoff';
import { retryAfterOf } from './error-classification';

/**
 * What happens after things go wrong, in one place: a failed refresh, tokens that arrive
 * already due, a failed save. Plain functions of the facts; the engine carries them out.
 */
export interface FailurePolicy extends BackoffPolicy {
  /** Transient failures in a row before the episode counts as failed. */
  maxAttempts: number;
}

export type AfterFailure =
  /** Transient: try again at `at` (epoch ms), `delay` from now. */
  | { retry: true; at: number; delay: number }
  /** Permanent, or out of attempts: the episode has failed; ask onRefreshFail, then park. */
  | { retry: false };

/** `attempt` counts this failure (1 for the first). A server's Retry-After is a floor. */
export function afterFailure(
  error: TokenRefreshError,
  attempt: number,
  policy: FailurePolicy,
  now: number,
  random?: () => number,
): AfterFailure {
  if (error.permanent || attempt >= policy.maxAttempts) return { retry: false };
  const delay = backoffDelay(attempt, policy, retryAfterOf(error), random);
  return { retry: true, at: now + delay, delay };
}

/**
 * When to refresh tokens just obtained: at refreshAt, unless a refresh keeps returning tokens
 * that are already due (expires_in: 0, a clock far off); then the next one waits a backoff
 * delay instead of following at once. `dueOnArrival` counts such refreshes in a row.
 */
export function afterArrival(
  refreshAt: number,
  now: number,
  dueOnArrival: number,
  policy: BackoffPolicy,
  random?: () => number,
): { at: number; dueOnArrival: number } {
  if (refreshAt > now) return { at: refreshAt, dueOnArrival: 0 };
  const count = dueOnArrival + 1;
  return { at: now + backoffDelay(count, policy, undefined, random), dueOnArrival: count };
}

/** How long until the next attempt to save tokens the store refused `failures` times in a row. */
export function saveRetryDelay(failures: number, policy: BackoffPolicy, random?: () => number): number {
  return backoffDelay(failures, policy, undefined, random);
}
