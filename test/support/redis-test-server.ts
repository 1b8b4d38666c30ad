import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createConnection, createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';

/** The Redis the suites use; CI and dev machines run one on 6379. */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export const START_REDIS_HINT = 'redis-server --daemonize yes --port 6379 --save ""';

/** Fails (never skips) when no Redis answers, saying how to start one. */
export async function requireRedis(url = REDIS_URL): Promise<void> {
  const { hostname, port } = new URL(url);
  const answered = await ping(hostname || '127.0.0.1', Number(port || 6379), 2_000);
  if (!answered) {
    throw new Error(
      `No Redis answered at ${hostname}:${port || 6379} (REDIS_URL). The cluster tests need a real Redis: start one with\n    ${START_REDIS_HINT}\nor point REDIS_URL at one.`,
    );
  }
}

/** A fresh key prefix per test, so tests never see each other's keys. */
export function randomKeyPrefix(label = 'test'): string {
  return `ntr-test:${label}:${randomUUID()}`;
}

/** A plain connection for test code (not fail-fast: tests want it to wait for Redis). */
export function testConnection(url = REDIS_URL): Redis {
  return new Redis(url, { maxRetriesPerRequest: 3, lazyConnect: false });
}

/** Deletes every key under a prefix. */
export async function deleteKeys(redis: Redis, keyPrefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${keyPrefix}:*`, 'COUNT', 100);
    if (keys.length > 0) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}

/** Raw RESP PING: true if `+PONG` comes back within timeoutMs. */
export function ping(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    let reply = '';
    const finish = (ok: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString('latin1');
      if (reply.includes('\r\n')) finish(reply.startsWith('+PONG'));
    });
    socket.on('error', () => finish(false));
  });
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

/**
 * A private redis-server (never the shared one on 6379) that a test may kill and start
 * again on the same port: no persistence, so a restart comes back empty, like a crashed
 * cache node.
 */
export class RedisProcess {
  #child: ChildProcess | undefined;
  /** Chosen at the first start; restarts reuse it. */
  #port: number | undefined;

  get port(): number {
    if (this.#port === undefined) throw new Error('RedisProcess: not started yet');
    return this.#port;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.#child !== undefined;
  }

  async start(): Promise<void> {
    if (this.#child) return;
    this.#port ??= await freePort();
    const child = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning'],
      { stdio: 'ignore' },
    );
    this.#child = child;
    const spawnFailed = once(child, 'error').then(([error]) => {
      throw new Error(`could not run redis-server (is it on PATH?): ${(error as Error).message}`);
    });
    const deadline = Date.now() + 5_000;
    for (;;) {
      if (await Promise.race([ping('127.0.0.1', this.port, 200), spawnFailed])) return;
      if (child.exitCode !== null || Date.now() > deadline) {
        this.#child = undefined;
        child.kill('SIGKILL');
        throw new Error(`redis-server did not start on port ${this.port}`);
      }
      await sleep(25);
    }
  }

  /** SIGKILL, like a crash; resolves once the process is gone and the port is closed. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    this.#child = undefined;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    }
  }
}
