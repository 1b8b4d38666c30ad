export interface BackoffPolicy {
  initialDelay: number;
  maxDelay: number;
}

/** Honour a server's Retry-After, but not beyond an hour: a typo there must not park us for a day. */
export const MAX_RETRY_AFTER = 3600_000;

/**
 * Exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff And
 * Jitter"): spreads a fleet's retries instead of synchronising them. `attempt` is 1 for the
 * first retry. A Retry-After from the server is a floor.
 */
export function backoffDelay(
  attempt: number,
  policy: BackoffPolicy,
  retryAfterMs: number | undefined,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(policy.maxDelay, policy.initialDelay * 2 ** Math.min(attempt - 1, 52));
  const jittered = Math.floor(random() * ceiling);
  const floor = retryAfterMs === undefined ? 0 : Math.min(Math.max(0, retryAfterMs), MAX_RETRY_AFTER);
  return Math.max(jittered, floor);
}
