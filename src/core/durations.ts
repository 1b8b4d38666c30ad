import { TokenRefreshConfigError } from '../common/token-refresh.errors';

/** setTimeout keeps delays in a signed 32-bit int: Node fires a longer one after 1 ms. */
export const MAX_TIMER_DELAY = 2 ** 31 - 1;

export interface DurationRule {
  /** Used when the option is not given. */
  fallback: number;
  /** Whether 0 is allowed. Default false. */
  allowZero?: boolean;
  /** Largest accepted value. Default MAX_TIMER_DELAY: every duration ends up in a timer. */
  max?: number;
}

/**
 * Checks one duration option (milliseconds) at bootstrap, so a typo fails the app's start with
 * the option's name rather than misfiring hours later in a timer. Every duration option of the
 * package goes through here.
 */
export function checkDuration(value: unknown, option: string, rule: DurationRule): number {
  if (value === undefined) return rule.fallback;
  const max = rule.max ?? MAX_TIMER_DELAY;
  const allowZero = rule.allowZero ?? false;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
    throw new TokenRefreshConfigError(
      option,
      `${option} must be a ${allowZero ? 'non-negative' : 'positive'} finite number of milliseconds; got ${describe(value)}`,
    );
  }
  if (value > max) {
    throw new TokenRefreshConfigError(option, `${option} must be at most ${max} ms (timers cannot wait longer); got ${value}`);
  }
  return value;
}

/** A value's kind for a message; numbers as themselves, never a string's content (it may be a secret pasted in the wrong place). */
function describe(value: unknown): string {
  return typeof value === 'number' ? String(value) : typeof value;
}
