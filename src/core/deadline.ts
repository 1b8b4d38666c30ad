/** Raised by withTimeout when the promise has not settled in time. */
export class DeadlineExceededError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`did not settle within ${timeoutMs} ms`);
    this.name = 'DeadlineExceededError';
  }
}

/**
 * The promise's outcome, or a DeadlineExceededError after `ms`. A result that arrives late goes
 * to `onLate` (e.g. to give back a lock granted after we gave up); a late failure is swallowed.
 * The timer is cleared either way, so nothing is left to keep a process alive.
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, onLate?: (value: T) => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let timedOut = false;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      timedOut = true;
      reject(new DeadlineExceededError(ms));
    }, Math.max(0, ms));
  });
  promise.then(
    (value) => {
      if (timedOut) onLate?.(value);
    },
    () => undefined,
  );
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** True if the promise settled (either way) within `ms`; never rejects. */
export async function settleWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  try {
    await withTimeout(
      promise.then(noop, noop),
      ms,
    );
    return true;
  } catch {
    return false;
  }
}

/** A point in time that several waits share, so that together they never take longer than one budget. */
export class Deadline {
  readonly #at: number;

  // The monotonic clock: a wall clock stepped during a shutdown must not stretch or cut it.
  constructor(ms: number, now: number = performance.now()) {
    this.#at = now + Math.max(0, ms);
  }

  /** ms left, never negative. */
  remaining(now: number = performance.now()): number {
    return Math.max(0, this.#at - now);
  }
}

const noop = (): void => undefined;
