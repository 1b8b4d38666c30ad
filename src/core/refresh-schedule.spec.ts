import { describe, expect, it } from 'vitest';
import { MAX_TIMER_DELAY } from './durations';
import { computeRefreshAt, computeWaitFrom, timerDelay } from './refresh-schedule';
import { resolveTokens } from './tokens';

const NOW = 1_800_000_000_000;
const MIN = 60_000;

describe('computeRefreshAt', () => {
  it('refreshes threshold before expiry for a long-lived token', () => {
    const tokens = resolveTokens({ accessToken: 'a', expiresIn: 3600 }, NOW);
    expect(computeRefreshAt(tokens, 5 * MIN)).toBe(NOW + 55 * MIN);
  });

  it('refreshes half-way through a token that lives less than the threshold', () => {
    const tokens = resolveTokens({ accessToken: 'a', expiresIn: 60 }, NOW);
    expect(computeRefreshAt(tokens, 5 * MIN)).toBe(NOW + 30_000);
  });

  it('is a whole number of ms even for an odd lifetime', () => {
    const tokens = resolveTokens({ accessToken: 'a', expiresAt: NOW + 29_999 }, NOW);
    expect(computeRefreshAt(tokens, 5 * MIN)).toBe(NOW + 14_999);
  });

  it('makes an already expired token due at once', () => {
    const tokens = resolveTokens({ accessToken: 'a', expiresAt: NOW - 10 }, NOW);
    expect(computeRefreshAt(tokens, 5 * MIN)).toBeLessThanOrEqual(NOW);
  });
});

describe('timerDelay', () => {
  it('never goes negative and never exceeds what setTimeout can hold', () => {
    expect(timerDelay(NOW - 5, NOW)).toBe(0);
    expect(timerDelay(NOW + 1234, NOW)).toBe(1234);
    expect(timerDelay(NOW + 60 * 24 * 3600_000, NOW)).toBe(MAX_TIMER_DELAY);
  });
});

describe('computeWaitFrom', () => {
  it('is 10 s before expiry for a long-lived token', () => {
    const tokens = resolveTokens({ accessToken: 'a', expiresIn: 3600 }, NOW);
    expect(computeWaitFrom(tokens, computeRefreshAt(tokens, 5 * MIN))).toBe(NOW + 3600_000 - 10_000);
  });

  it('is half-way between refreshAt and expiry for a short one', () => {
    const tokens = resolveTokens({ accessToken: 'a', expiresIn: 4 }, NOW);
    expect(computeWaitFrom(tokens, computeRefreshAt(tokens, 5 * MIN))).toBe(NOW + 3000);
  });
});
