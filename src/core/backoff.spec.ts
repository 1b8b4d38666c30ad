import { describe, expect, it } from 'vitest';
import { backoffDelay, MAX_RETRY_AFTER } from './backoff';

const policy = { initialDelay: 1000, maxDelay: 60_000 };

describe('backoffDelay', () => {
  it('doubles the ceiling per attempt up to maxDelay (full jitter: random share of it)', () => {
    const top = () => 0.999999;
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((attempt) => backoffDelay(attempt, policy, undefined, top))).toEqual([
      999, 1999, 3999, 7999, 15_999, 31_999, 59_999, 59_999,
    ]);
    expect(backoffDelay(3, policy, undefined, () => 0)).toBe(0);
    expect(backoffDelay(3, policy, undefined, () => 0.5)).toBe(2000);
  });

  it('does not overflow for huge attempt counts', () => {
    expect(backoffDelay(10_000, policy, undefined, () => 0.5)).toBe(30_000);
  });

  it('treats Retry-After as a floor, capped at an hour', () => {
    expect(backoffDelay(1, policy, 30_000, () => 0.5)).toBe(30_000);
    expect(backoffDelay(8, policy, 5_000, () => 0.5)).toBe(30_000);
    expect(backoffDelay(1, policy, 10 * MAX_RETRY_AFTER, () => 0)).toBe(MAX_RETRY_AFTER);
    expect(backoffDelay(1, policy, -5, () => 0)).toBe(0);
  });
});
