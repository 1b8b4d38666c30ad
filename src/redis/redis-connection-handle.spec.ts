import { EventEmitter } from 'node:events';
import { type Redis } from 'ioredis';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { TokenRefreshConfigError } from '../common/token-refresh.errors';
import { RedisCommandError, redisErrorCode } from './redis-connection';
import { RedisConnectionHandle, type RedisConnectionSpec } from './redis-connection-handle';
import { type RedisTokenStoreOptions, type RedisUrlOptions, type ResolvedStoreOptions, resolveStoreOptions } from './redis.options';

/** An app's ioredis client as far as the handle sees it: a status, its events, and what it must never be asked to do. */
class FakeAppClient extends EventEmitter {
  quit = vi.fn(async () => 'OK');
  disconnect = vi.fn();
  eval = vi.fn();
  duplicate = vi.fn();
  constructor(public status: string) {
    super();
  }
  async connect(): Promise<void> {
    this.status = 'connecting';
  }
  become(status: string, event: string): void {
    this.status = status;
    this.emit(event);
  }
}

const spec = (extra: Partial<RedisConnectionSpec<RedisTokenStoreOptions, ResolvedStoreOptions>> = {}) => ({
  path: 'tokenStore',
  className: 'RedisTokenStore',
  kind: 'token store',
  resolveOptions: resolveStoreOptions,
  ...extra,
});

function adopt(client: FakeAppClient, options: RedisTokenStoreOptions = { keyPrefix: 'app:crm', commandTimeout: 50 }, extra = {}) {
  return RedisConnectionHandle.open(client as unknown as Redis, options, spec(extra));
}

afterEach(() => {
  vi.useRealTimers();
});

describe('RedisConnectionHandle.open', () => {
  it("adopts the app's connection with checked options, key names and a label", () => {
    const client = new FakeAppClient('ready');
    const handle = adopt(client, { keyPrefix: 'app:crm' });
    expect(handle.redis).toBe(client);
    expect(handle.options).toEqual({ keyPrefix: 'app:crm', commandTimeout: 2_000 });
    expect(handle.keys).toMatchObject({ tokens: 'app:crm:tokens', lock: 'app:crm:lock', channel: 'app:crm:tokens:saved' });
    expect(handle.label).toBe('token store "app:crm"');
    expect(handle.connected).toBe(true);
  });

  it('says what to pass when given something that is neither a client nor options, and checks options first', () => {
    expect(() => RedisConnectionHandle.open(RedisConnectionHandle as never, undefined, spec())).toThrow(
      'RedisTokenStore needs a connection or a URL: pass tokenStore: new RedisTokenStore(redis, { keyPrefix }) or new RedisTokenStore({ url, keyPrefix }), not the class',
    );
    expect(() => adopt(new FakeAppClient('ready'), { keyPrefix: '' })).toThrow(TokenRefreshConfigError);
    expect(() => RedisConnectionHandle.open({ url: 'http://127.0.0.1:6379', keyPrefix: 'p' }, undefined, spec())).toThrow(
      'tokenStore.url must be a redis:// or rediss:// URL',
    );
  });
});

describe('RedisConnectionHandle.run', () => {
  it('waits for the first connect, then runs the command on the connection', async () => {
    const client = new FakeAppClient('connecting');
    const handle = adopt(client);
    const command = vi.fn(async (redis: Redis) => (redis === (client as unknown) ? 'OK' : 'other'));
    const running = handle.run(command);
    expect(command).not.toHaveBeenCalled();
    client.become('ready', 'ready');
    await expect(running).resolves.toBe('OK');
  });

  it('fails at once, without sending, once a connection that was up is down', async () => {
    const client = new FakeAppClient('ready');
    const handle = adopt(client);
    client.become('reconnecting', 'close');
    const command = vi.fn(async () => 'OK');
    const error = await handle.run(command).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RedisCommandError);
    expect(redisErrorCode(error)).toBe('unavailable: reconnecting');
    expect(command).not.toHaveBeenCalled();
  });

  it('passes on only the code of a failed command, never its message', async () => {
    const handle = adopt(new FakeAppClient('ready'));
    const failure = Object.assign(new Error('SET app:crm:tokens {"refreshToken":"rt-SECRET"}'), { code: 'ECONNRESET' });
    const rejected = await handle.run(async () => Promise.reject(failure)).catch((e: unknown) => e);
    const thrown = await handle
      .run(() => {
        throw new TypeError('at-SECRET');
      })
      .catch((e: unknown) => e);
    expect([redisErrorCode(rejected), redisErrorCode(thrown)]).toEqual(['ECONNRESET', 'TypeError']);
    for (const error of [rejected, thrown]) {
      expect(error).toBeInstanceOf(RedisCommandError);
      expect(`${String(error)} ${JSON.stringify(error)} ${(error as Error).stack}`).not.toContain('SECRET');
    }
  });

  it('fails a command slower than commandTimeout, and hands its late result to onLate', async () => {
    vi.useFakeTimers();
    const handle = adopt(new FakeAppClient('ready'), { keyPrefix: 'p', commandTimeout: 50 });
    let answer!: (value: string) => void;
    const onLate = vi.fn();
    const running = handle.run(() => new Promise<string>((resolve) => (answer = resolve)), onLate);
    const outcome = running.catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(49);
    expect(onLate).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(redisErrorCode(await outcome)).toBe('timeout');
    answer('OK');
    await vi.advanceTimersByTimeAsync(0);
    expect(onLate).toHaveBeenCalledWith('OK');
  });
});

describe('RedisConnectionHandle state and close', () => {
  it('reports a recovery after a loss to onRecovered, with the time since', () => {
    const client = new FakeAppClient('ready');
    const onRecovered = vi.fn();
    const handle = adopt(client, undefined, { onRecovered });
    expect(handle.msSinceRecovery()).toBeUndefined();
    client.become('reconnecting', 'close');
    expect(handle.connected).toBe(false);
    client.become('ready', 'ready');
    expect(onRecovered).toHaveBeenCalledTimes(1);
    expect(handle.connected).toBe(true);
    expect(handle.msSinceRecovery()).toBeGreaterThanOrEqual(0);
  });

  it("leaves the app's connection open and stops listening to it", async () => {
    const client = new FakeAppClient('ready');
    const handle = adopt(client);
    await handle.close();
    expect(client.eventNames()).toEqual([]);
    expect(client.quit).not.toHaveBeenCalled();
    expect(client.disconnect).not.toHaveBeenCalled();
  });

  it('closes a connection it opened from a URL, once', async () => {
    const options: RedisTokenStoreOptions & RedisUrlOptions = {
      url: 'redis://user:PASSWORD@127.0.0.1:6379',
      keyPrefix: 'p',
      redisOptions: { lazyConnect: true },
    };
    const handle = RedisConnectionHandle.open(options, undefined, spec());
    expect(handle.redis.status).toBe('wait');
    const disconnect = vi.spyOn(handle.redis, 'disconnect');
    await Promise.all([handle.close(), handle.close()]);
    await handle.close();
    expect(disconnect).toHaveBeenCalledTimes(1);
    expect(handle.redis.status).toBe('end');
  });
});
