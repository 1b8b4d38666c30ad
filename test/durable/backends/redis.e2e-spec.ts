import { once } from 'node:events';
import { type AddressInfo, createConnection, createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type StoredTokens } from '../../../src/common/interfaces/token-store.interface';
import { requireRedis } from '../../support/redis-test-server';
import { type OpenedBackend, type PreparedBackend } from '../backend';
import { redisBackend } from './redis';

/** A TCP forwarder to the Redis port, counting the connections that came through it. */
async function forwarder(port: number): Promise<{ server: Server; port: number; connections: () => number }> {
  let count = 0;
  const server = createServer((client) => {
    count++;
    const upstream = createConnection({ host: '127.0.0.1', port });
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port, connections: () => count };
}

function pair(label: string): StoredTokens {
  const now = Date.now();
  return {
    accessToken: `at-${label}-SECRET`,
    refreshToken: `rt-${label}-SECRET`,
    tokenType: 'Bearer',
    expiresAt: new Date(now + 3_600_000),
    issuedAt: new Date(now),
    version: 1,
    refreshAt: new Date(now + 3_300_000),
  };
}

describe('the Redis durable backend', () => {
  const steps: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    while (steps.length) await steps.pop()!();
  });

  it('prepares a prefix of its own, opens store and lock as an app would, shows every raw value, and drops it all', async () => {
    await requireRedis();
    const prepared: PreparedBackend = await redisBackend.prepare();
    steps.push(() => prepared.drop());
    const other = await redisBackend.prepare();
    steps.push(() => other.drop());
    expect(prepared.config.keyPrefix).not.toBe(other.config.keyPrefix);
    expect(await prepared.rawValues()).toEqual([]);

    const opened: OpenedBackend = await redisBackend.open(prepared.config, { lease: 2_000 });
    steps.push(() => opened.close());
    await opened.store.save('user:1', pair('one'));
    const held = await opened.lock.acquire({ waitMs: 0, signal: new AbortController().signal, key: 'user:1' });
    expect(held).not.toBeNull();
    // The same key's lock is exclusive through a second replica's backend.
    const second = await redisBackend.open(prepared.config, { lease: 2_000 });
    steps.push(() => second.close());
    expect(await second.lock.acquire({ waitMs: 0, signal: new AbortController().signal, key: 'user:1' })).toBeNull();
    expect((await second.store.load('user:1'))?.refreshToken).toBe('rt-one-SECRET');

    const values = await prepared.rawValues();
    // The record, the key in the due index, and the lock's owner id.
    expect(values).toHaveLength(3);
    expect(values.some((value) => value.includes('rt-one-SECRET'))).toBe(true);
    expect(values).toContain('user%3A1');
    expect(await other.rawValues()).toEqual([]);

    await prepared.drop(); // (and again after the test: dropping twice is fine)
    // Dropped: the record, the index and the lock are gone.
    expect(await opened.store.load('user:1')).toBeNull();
    expect(await second.lock.acquire({ waitMs: 0, signal: new AbortController().signal, key: 'user:1' })).not.toBeNull();
    expect(await opened.store.dueKeys!(new Date(Date.now() + 7_200_000), 10)).toEqual([]);
  });

  it('with `port`, the replicas connect through that port (a proxy the test runs), and serverPort is the real one', async () => {
    await requireRedis();
    const direct = await redisBackend.prepare();
    steps.push(() => direct.drop());
    const proxy = await forwarder(direct.serverPort);
    steps.push(() => new Promise((resolve) => proxy.server.close(resolve)));
    const prepared = await redisBackend.prepare({ port: proxy.port });
    steps.push(() => prepared.drop());
    expect(prepared.serverPort).toBe(direct.serverPort);

    const opened = await redisBackend.open(prepared.config, { lease: 2_000 });
    steps.push(() => opened.close());
    await opened.store.save('k', pair('proxied'));
    expect(proxy.connections()).toBeGreaterThan(0);
    expect((await prepared.rawValues()).some((value) => value.includes('rt-proxied-SECRET'))).toBe(true);
  });
});
