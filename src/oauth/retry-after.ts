const MONTHS: Readonly<Record<string, number>> = {
  Jan: 0, Feb: 1, Mar: 2, Apr: 3, May: 4, Jun: 5, Jul: 6, Aug: 7, Sep: 8, Oct: 9, Nov: 10, Dec: 11,
};

// RFC 9110 section 5.6.7: IMF-fixdate, plus the two obsolete forms recipients must accept.
const IMF_FIXDATE = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d{2}) ([A-Z][a-z]{2}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
const RFC850_DATE =
  /^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (\d{2})-([A-Z][a-z]{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
const ASCTIME_DATE = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ([A-Z][a-z]{2}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/;

/**
 * Parses a Retry-After header (RFC 9110 section 10.2.3) into a delay in ms from `now` (epoch ms).
 * Accepts delta-seconds or an HTTP-date; anything else (garbage, negative numbers, impossible
 * dates) gives `undefined` so the caller falls back to its own backoff. A date already in the
 * past means "retry now" and gives 0. How long a server may really delay us is the backoff
 * policy's call (backoffDelay caps it), so the value is what the server asked for.
 */
export function parseRetryAfter(headerValue: string | null | undefined, now: number): number | undefined {
  if (typeof headerValue !== 'string') return undefined;
  const value = headerValue.trim();
  if (value === '') return undefined;

  if (/^\d+$/.test(value)) {
    // Very long digit strings overflow to Infinity: "longer than anything", which the policy caps.
    return Number(value) * 1000;
  }

  const at = parseHttpDate(value, now);
  if (at === undefined) return undefined;
  return Math.max(at - now, 0);
}

/** Strict HTTP-date parser: Date.parse is too lenient (it accepts "1 2 3" and similar). */
function parseHttpDate(value: string, now: number): number | undefined {
  let m: RegExpExecArray | null;
  if ((m = IMF_FIXDATE.exec(value))) {
    return utc(Number(m[3]), m[2], Number(m[1]), m[4], m[5], m[6]);
  }
  if ((m = RFC850_DATE.exec(value))) {
    return utc(fullYear(Number(m[3]), now), m[2], Number(m[1]), m[4], m[5], m[6]);
  }
  if ((m = ASCTIME_DATE.exec(value))) {
    return utc(Number(m[6]), m[1], Number(m[2].trim()), m[3], m[4], m[5]);
  }
  return undefined;
}

/** RFC 9110: a two-digit year more than 50 years in the future means the most recent past such year. */
function fullYear(twoDigits: number, now: number): number {
  const currentYear = new Date(now).getUTCFullYear();
  let year = Math.floor(currentYear / 100) * 100 + twoDigits;
  if (year > currentYear + 50) year -= 100;
  return year;
}

function utc(year: number, monthName: string, day: number, hh: string, mm: string, ss: string): number | undefined {
  const month = Object.hasOwn(MONTHS, monthName) ? MONTHS[monthName] : undefined;
  const hours = Number(hh);
  const minutes = Number(mm);
  const seconds = Number(ss);
  // Second 60 is a leap second (RFC 9110 allows it); it simply adds a second.
  if (month === undefined || day < 1 || day > 31 || hours > 23 || minutes > 59 || seconds > 60) return undefined;
  const dayStart = Date.UTC(year, month, day);
  // Reject day overflow such as 31 Feb, which Date.UTC would silently roll into March.
  if (new Date(dayStart).getUTCDate() !== day) return undefined;
  return dayStart + ((hours * 60 + minutes) * 60 + seconds) * 1000;
}
