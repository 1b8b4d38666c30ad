import { type ResolvedTokens } from '../common/interfaces/token-pair.interface';

import { MAX_TIMER_DELAY } from './durations';

/**
 * When to refresh: `threshold` before expiry, but never earlier than half-way through the
 * token's life. A token that lives less than the threshold would otherwise be "due" the
 * moment it arrives and refresh in a loop.
 */
export function computeRefreshAt(tokens: ResolvedTokens, threshold: number): number {
  const lifetime = Math.max(0, tokens.expiresAt - tokens.issuedAt);
  // Whole milliseconds: status durations are reported in ms.
  return Math.floor(tokens.expiresAt - Math.min(threshold, lifetime / 2));
}

/** A delay setTimeout can hold; the caller re-arms when a capped timer fires early. */
export function timerDelay(at: number, now: number): number {
  return Math.min(Math.max(0, at - now), MAX_TIMER_DELAY);
}

/** Longest stretch before expiry in which callers wait for a refresh rather than take the held token. */
export const MAX_WAIT_MARGIN = 10_000;

/**
 * When callers start waiting for a refresh in flight: half-way between refreshAt and expiry,
 * and no more than 10 s before expiry (golang/oauth2's expiryDelta). Before that the held
 * token is still good for a request, so a slow token endpoint costs callers nothing.
 */
export function computeWaitFrom(tokens: ResolvedTokens, refreshAt: number): number {
  return Math.floor(tokens.expiresAt - Math.min(MAX_WAIT_MARGIN, Math.max(0, tokens.expiresAt - refreshAt) / 2));
}
