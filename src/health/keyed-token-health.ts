import { type StateCounts } from '../core/refresh-engine';
import { type TokenHealthStatus } from './token-health';

/** Where a keyed registration stops being healthy, as shares (0 to 1) of its keys. */
export interface KeyedHealthThresholds {
  /** Share of keys failing (backoff or reauth-required) from which the registration is degraded. Default 0.05. */
  degraded?: number;
  /** Share of keys failing from which it is down. Default 0.5. */
  down?: number;
}

export const DEFAULT_KEYED_HEALTH_THRESHOLDS: Readonly<Required<KeyedHealthThresholds>> = Object.freeze({ degraded: 0.05, down: 0.5 });

/** What a health check shows of a keyed registration: counts, never a key or a token. */
export type KeyedTokenHealthDetails = {
  name: string;
  keyed: true;
  running: boolean;
  /** Keys held in memory. */
  keys: number;
  /** Keys per state. */
  states: StateCounts;
  /** Share of keys in backoff or reauth-required. */
  failing: number;
  reason?: 'stopped' | 'keys-failing';
};

/**
 * A keyed registration is judged by counts, not one series per key: up while few keys fail,
 * degraded from `thresholds.degraded` of them failing (a provider having trouble, or many users
 * disconnecting), down from `thresholds.down`, or when stopped. One user revoking access is
 * normal and does not make the app unhealthy.
 */
export function evaluateKeyedHealth(
  name: string,
  running: boolean,
  states: StateCounts,
  thresholds: KeyedHealthThresholds = {},
): { status: TokenHealthStatus; details: KeyedTokenHealthDetails } {
  const { degraded, down } = { ...DEFAULT_KEYED_HEALTH_THRESHOLDS, ...thresholds };
  const keys = Object.values(states).reduce((sum, count) => sum + count, 0);
  const failing = keys === 0 ? 0 : (states.backoff + states['reauth-required']) / keys;
  const details: KeyedTokenHealthDetails = { name, keyed: true, running, keys, states: { ...states }, failing: Math.round(failing * 1e4) / 1e4 };
  if (!running) return { status: 'down', details: { ...details, reason: 'stopped' } };
  if (keys > 0 && failing >= down) return { status: 'down', details: { ...details, reason: 'keys-failing' } };
  if (keys > 0 && failing >= degraded) return { status: 'degraded', details: { ...details, reason: 'keys-failing' } };
  return { status: 'up', details };
}
