import { describe, expect, it } from 'vitest';
import { evaluateKeyedHealth } from './keyed-token-health';

const states = (failing: number, idle: number) => ({ stopped: 0, idle, refreshing: 0, backoff: failing, reauthenticating: 0, 'reauth-required': 0 });

describe('evaluateKeyedHealth', () => {
  it.each([
    [0, 100, 'up'],
    [4, 96, 'up'],
    [5, 95, 'degraded'],
    [49, 51, 'degraded'],
    [50, 50, 'down'],
  ] as const)('%i failing of 100 keys: %s (defaults: degraded at 5%%, down at 50%%)', (failing, idle, status) => {
    expect(evaluateKeyedHealth('users', true, states(failing, idle)).status).toBe(status);
  });

  it('takes the app\'s thresholds, and counts reauth-required keys as failing', () => {
    const counts = { ...states(0, 90), 'reauth-required': 10 };
    expect(evaluateKeyedHealth('users', true, counts, { degraded: 0.2 }).status).toBe('up');
    expect(evaluateKeyedHealth('users', true, counts, { down: 0.1 }).status).toBe('down');
  });

  it('is down when stopped, up with no keys; details are counts, never keys', () => {
    expect(evaluateKeyedHealth('users', false, states(0, 3))).toMatchObject({ status: 'down', details: { reason: 'stopped' } });
    const empty = evaluateKeyedHealth('users', true, states(0, 0));
    expect(empty).toEqual({
      status: 'up',
      details: { name: 'users', keyed: true, running: true, keys: 0, states: states(0, 0), failing: 0 },
    });
  });
});
