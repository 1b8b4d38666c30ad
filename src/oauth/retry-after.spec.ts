import { describe, expect, it } from 'vitest';
import { backoffDelay, MAX_RETRY_AFTER } from '../core/backoff';
import { parseRetryAfter } from './retry-after';

const NOW = Date.UTC(2025, 5, 1, 12, 0, 0); // Sun, 01 Jun 2025 12:00:00 GMT

describe('parseRetryAfter', () => {
  it.each([
    ['0', 0],
    ['1', 1000],
    ['120', 120_000],
    [' 30 ', 30_000],
    ['3600', 3_600_000],
  ])('reads delta-seconds %j as %d ms', (value, expected) => {
    expect(parseRetryAfter(value, NOW)).toBe(expected);
  });

  it('reports long delays as asked (the backoff policy caps them), even absurd digit strings', () => {
    expect(parseRetryAfter('86400', NOW)).toBe(86_400_000);
    expect(parseRetryAfter('9'.repeat(400), NOW)).toBe(Infinity);
    expect(backoffDelay(1, { initialDelay: 1, maxDelay: 1 }, parseRetryAfter('9'.repeat(400), NOW), () => 0)).toBe(MAX_RETRY_AFTER);
  });

  it('reads an IMF-fixdate as the delay from now', () => {
    expect(parseRetryAfter('Sun, 01 Jun 2025 12:02:00 GMT', NOW)).toBe(120_000);
    expect(parseRetryAfter(new Date(NOW + 45_000).toUTCString(), NOW)).toBe(45_000);
  });

  it('reads the obsolete RFC 850 and asctime date forms', () => {
    expect(parseRetryAfter('Sunday, 01-Jun-25 12:00:10 GMT', NOW)).toBe(10_000);
    expect(parseRetryAfter('Sun Jun  1 12:00:20 2025', NOW)).toBe(20_000);
  });

  it('treats a date in the past as "retry now"', () => {
    expect(parseRetryAfter('Sun, 01 Jun 2025 11:00:00 GMT', NOW)).toBe(0);
  });

  it('reads a far-future date as asked', () => {
    expect(parseRetryAfter('Mon, 01 Jun 2026 12:00:00 GMT', NOW)).toBe(365 * 24 * 3600_000);
  });

  it.each([
    undefined,
    null,
    '',
    '   ',
    '-5',
    '1.5',
    '+10',
    '10s',
    '0x10',
    'soon',
    'Infinity',
    'NaN',
    '1 2 3',
    '2025-06-01T12:02:00Z', // ISO 8601 is not an HTTP-date
    'Sun, 01 Jun 2025 12:02:00 UTC',
    'Sun, 31 Feb 2025 12:02:00 GMT', // no such day
    'Sun, 01 Jux 2025 12:02:00 GMT',
    'Sun, 01 Jun 2025 25:02:00 GMT',
  ])('ignores %j', (value) => {
    expect(parseRetryAfter(value, NOW)).toBeUndefined();
  });
});
