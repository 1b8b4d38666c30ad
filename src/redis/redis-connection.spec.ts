import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DeadlineExceededError } from '../core/deadline';
import {
  ConnectionMonitor,
  FAIL_FAST_REDIS_OPTIONS,
  type MonitoredConnection,
  RedisUnavailableError,
  redisErrorCode,
} from './redis-connection';

/** Just enough of an ioredis client: a status and its events. */
class FakeConnection extends EventEmitter implements MonitoredConnection {
  connects = 0;
  constructor(public status: string) {
    super();
  }
  async connect(): Promise<void> {
    this.connects++;
    this.status = 'connecting';
  }
  set(status: string, event?: string): void {
    this.status = status;
    if (event) this.emit(event);
  }
}

describe('ConnectionMonitor', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('reports a recovery only after a loss, with the time since', () => {
    const connection = new FakeConnection('connecting');
    const onRecovered = vi.fn();
    const monitor = new ConnectionMonitor(connection, { onRecovered });
    connection.set('ready', 'ready');
    expect(onRecovered).not.toHaveBeenCalled();
    expect(monitor.msSinceRecovery()).toBeUndefined();

    connection.set('reconnecting', 'close');
    expect(monitor.isReady).toBe(false);
    connection.set('ready', 'ready');
    expect(onRecovered).toHaveBeenCalledTimes(1);
    expect(monitor.msSinceRecovery(Date.now() + 250)).toBeGreaterThanOrEqual(250);
  });

  it('waits for the first connect, but fails at once once a connection that was up is down', async () => {
    const connection = new FakeConnection('connecting');
    const monitor = new ConnectionMonitor(connection);
    const waiting = monitor.ensureReady(1_000);
    connection.set('ready', 'ready');
    await expect(waiting).resolves.toBeUndefined();

    connection.set('reconnecting', 'close');
    await expect(monitor.ensureReady(1_000)).rejects.toBeInstanceOf(RedisUnavailableError);
  });

  it('fails the first connect when the socket closes or the timeout passes', async () => {
    const refused = new FakeConnection('connecting');
    const first = new ConnectionMonitor(refused).ensureReady(1_000);
    refused.set('reconnecting', 'close');
    await expect(first).rejects.toThrow('connect failed');

    vi.useFakeTimers();
    const silent = new FakeConnection('connecting');
    const timedOut = expect(new ConnectionMonitor(silent).ensureReady(10)).rejects.toThrow(new RedisUnavailableError('connect timeout'));
    await vi.advanceTimersByTimeAsync(10);
    await timedOut;
    // Only the monitor's own listeners are left: a wait that ended leaves nothing behind.
    expect([silent.listenerCount('ready'), silent.listenerCount('close'), refused.listenerCount('ready')]).toEqual([1, 1, 1]);
  });

  it('starts a lazy connection', async () => {
    const lazy = new FakeConnection('wait');
    const waiting = new ConnectionMonitor(lazy).ensureReady(1_000);
    expect(lazy.connects).toBe(1);
    lazy.set('ready', 'ready');
    await waiting;
  });

  it('logs an outage once, by code, and its end', () => {
    const connection = new FakeConnection('ready');
    const logger = { log: vi.fn(), warn: vi.fn() };
    new ConnectionMonitor(connection, { logger: logger as never, label: 'store' });
    for (let i = 0; i < 3; i++) connection.emit('error', Object.assign(new Error('connect ECONNREFUSED with args at-SECRET'), { code: 'ECONNREFUSED' }));
    connection.set('ready', 'ready');
    expect(logger.warn).toHaveBeenCalledTimes(1);
    expect(logger.warn.mock.calls[0][0]).toBe('store: connection failed (ECONNREFUSED); reconnecting');
    expect(logger.log).toHaveBeenCalledWith('store: connection restored');
  });

  it('adds no error listener to a connection it does not own, and dispose removes its listeners', () => {
    const connection = new FakeConnection('ready');
    const monitor = new ConnectionMonitor(connection);
    expect(connection.listenerCount('error')).toBe(0);
    monitor.dispose();
    expect(connection.eventNames()).toEqual([]);
  });
});

describe('redisErrorCode', () => {
  it('gives a code or a class name, never a message', () => {
    expect(redisErrorCode(Object.assign(new Error('SET key {"refreshToken":"rt-SECRET"}'), { code: 'ECONNRESET' }))).toBe('ECONNRESET');
    expect(redisErrorCode(new DeadlineExceededError(5))).toBe('timeout');
    expect(redisErrorCode(new TypeError('at-SECRET'))).toBe('TypeError');
    expect(redisErrorCode({ code: 'a code with spaces and at-SECRET' })).toBe('unknown');
  });
});

describe('FAIL_FAST_REDIS_OPTIONS', () => {
  it('fails commands while down and reconnects within about a second', () => {
    expect(FAIL_FAST_REDIS_OPTIONS).toMatchObject({ enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    const retry = FAIL_FAST_REDIS_OPTIONS.retryStrategy as (times: number) => number;
    expect(retry(1)).toBeLessThan(250);
    expect(retry(1_000)).toBeLessThan(1_100);
  });
});
