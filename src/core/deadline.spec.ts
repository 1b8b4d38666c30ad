import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Deadline, DeadlineExceededError, settleWithin, withTimeout } from './deadline';

describe('withTimeout', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('settles with the promise when it is in time, and leaves no timer behind', async () => {
    await expect(withTimeout(Promise.resolve('ok'), 1000)).resolves.toBe('ok');
    await expect(withTimeout(Promise.reject(new Error('no')), 1000)).rejects.toThrow('no');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('rejects with DeadlineExceededError after ms, and hands a late result to onLate', async () => {
    let resolveLate!: (value: string) => void;
    const late = new Promise<string>((resolve) => (resolveLate = resolve));
    const onLate = vi.fn();
    const raced = withTimeout(late, 500, onLate);
    const outcome = raced.catch((error: unknown) => error);
    await vi.advanceTimersByTimeAsync(500);
    expect(await outcome).toBeInstanceOf(DeadlineExceededError);
    expect(await outcome).toMatchObject({ timeoutMs: 500 });
    resolveLate('granted');
    await vi.advanceTimersByTimeAsync(0);
    expect(onLate).toHaveBeenCalledWith('granted');
  });
});

describe('settleWithin and Deadline', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('settleWithin says whether the promise settled (either way) in time, and never rejects', async () => {
    expect(await settleWithin(Promise.reject(new Error('x')), 10)).toBe(true);
    const pending = settleWithin(new Promise(() => undefined), 10);
    await vi.advanceTimersByTimeAsync(10);
    expect(await pending).toBe(false);
  });

  it('a Deadline counts down on the monotonic clock, whatever the wall clock does', async () => {
    const deadline = new Deadline(1000);
    vi.setSystemTime(Date.now() + 3_600_000);
    expect(deadline.remaining()).toBe(1000);
    await vi.advanceTimersByTimeAsync(400);
    expect(deadline.remaining()).toBe(600);
    await vi.advanceTimersByTimeAsync(1000);
    expect(deadline.remaining()).toBe(0);
  });
});
