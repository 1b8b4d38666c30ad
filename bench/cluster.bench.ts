/**
 * 6. Cluster: token-endpoint calls per rotation with four processes sharing one credential
 * through Redis (127.0.0.1:6379), against the in-process oidc-provider (rotating refresh tokens,
 * reuse detection on).
 *
 * Reuses the cluster tests' forked worker (test/cluster/cluster-worker.cjs), read-only: src is
 * compiled for it with tsconfig.build.json into dist-bench/cluster-src; each worker is a Nest
 * application context with TokenRefreshModule on RedisTokenStore + RedisRefreshLock. The bench seeds one grant into Redis, starts the four, lets ROTATIONS
 * rotations happen (4-second access tokens, so each is due 2 s after issue, at nearly the same
 * instant in every process) and reads the authorization server's own counters.
 *
 * Anything missing (src/redis, the worker, Redis) or failing before the measurement prints the
 * row as "pending (Redis issue)" with the reason; the rest of the run is unaffected.
 */
import { type ChildProcess, execFile, fork } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { startAuthorizationServer, type AuthorizationServer } from '../examples/auth-server/authorization-server';
import { deleteKeys, ping, randomKeyPrefix, REDIS_URL, testConnection } from '../test/support/redis-test-server';
import { type Row } from './report';
import { type SectionResult, sleep } from './support';

/** The repository root: this file runs compiled from dist-bench/bench/. */
const ROOT = resolve(__dirname, '..', '..');
const WORKER_SCRIPT = join(ROOT, 'test', 'cluster', 'cluster-worker.cjs');
/** src compiled for the workers (Nest needs decorator metadata), inside dist-bench so it is cleaned with it. */
const WORKER_DIST = join(ROOT, 'dist-bench', 'cluster-src');
const PROCESSES = 4;
const ROTATIONS = 5;
const ACCESS_TOKEN_TTL_S = 4;
const REFRESHED = 'token-refresh.refreshed';

interface CompiledRedis {
  createRedisConnection(url: string): { disconnect(): void; on(event: string, listener: () => void): unknown };
  RedisTokenStore: new (
    redis: unknown,
    options: { keyPrefix: string },
  ) => { save(tokens: { accessToken: string; refreshToken: string; tokenType: string; expiresAt: Date }): Promise<void>; close?(): Promise<void> };
}

/** What the worker reads from CLUSTER_WORKER_CONFIG (see test/cluster/cluster-worker.cjs). */
interface WorkerConfig {
  dist: string;
  redisUrl: string;
  keyPrefix: string;
  tokenEndpoint: string;
  clientId: string;
  clientSecret: string;
  oauthTimeout: number;
  lease: number;
  lockWaitTimeout: number;
  checkInterval: number;
}

interface WorkerMessage {
  type: string;
  [key: string]: unknown;
}

/**
 * One forked test/cluster/cluster-worker.cjs, driven over IPC the way the cluster tests drive it.
 * (test/support/cluster-harness.ts does this for vitest, but locates the repository from its
 * own __dirname, which points into dist-bench/ once compiled; hence this small twin.)
 */
class Worker {
  readonly messages: WorkerMessage[] = [];
  exited = false;
  output = '';
  readonly #child: ChildProcess;
  readonly #listeners = new Set<() => void>();

  constructor(
    readonly name: string,
    config: WorkerConfig,
  ) {
    this.#child = fork(WORKER_SCRIPT, [], {
      cwd: ROOT,
      env: { ...process.env, CLUSTER_WORKER_CONFIG: JSON.stringify(config), NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'json',
    });
    this.#child.stdout?.on('data', (chunk: Buffer) => (this.output += chunk.toString('utf8')));
    this.#child.stderr?.on('data', (chunk: Buffer) => (this.output += chunk.toString('utf8')));
    this.#child.on('message', (message: WorkerMessage) => {
      this.messages.push(message);
      this.#notify();
    });
    this.#child.on('exit', () => {
      this.exited = true;
      this.#notify();
    });
  }

  events(name: string): Array<Record<string, unknown>> {
    return this.messages.filter((m) => m.type === 'event' && m.event === name).map((m) => m.payload as Record<string, unknown>);
  }

  /** Sends (unless message is undefined) and resolves with the first later message of `type`. */
  request(message: WorkerMessage | undefined, type: string, timeoutMs: number): Promise<WorkerMessage> {
    const from = this.messages.length;
    if (message && !this.exited) this.#child.send(message);
    return new Promise((resolvePromise, reject) => {
      const check = (): void => {
        const found = this.messages.find((m, i) => i >= from && m.type === type);
        const crash = this.messages.find((m) => m.type === 'crash');
        if (found) finish(() => resolvePromise(found));
        else if (crash) finish(() => reject(new Error(`${this.name} crashed: ${String(crash.message)}`)));
        else if (this.exited) finish(() => reject(new Error(`${this.name} exited: ${this.output.slice(-500)}`)));
      };
      const finish = (settle: () => void): void => {
        clearTimeout(timer);
        this.#listeners.delete(check);
        settle();
      };
      const timer = setTimeout(() => finish(() => reject(new Error(`${this.name}: no ${type} within ${timeoutMs} ms ${this.output.slice(-500)}`))), timeoutMs);
      this.#listeners.add(check);
      check();
    });
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    const exited = once(this.#child, 'exit');
    this.#child.send({ type: 'stop' });
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }

  #notify(): void {
    for (const listener of [...this.#listeners]) listener();
  }
}

async function compileForWorkers(): Promise<void> {
  await rm(WORKER_DIST, { recursive: true, force: true });
  const tsc = join(ROOT, 'node_modules', '.bin', 'tsc');
  await promisify(execFile)(tsc, ['-p', 'tsconfig.build.json', '--outDir', WORKER_DIST, '--declaration', 'false', '--sourceMap', 'false'], { cwd: ROOT });
}

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n').find((line) => line.trim() !== '')?.trim().slice(0, 160) ?? 'unknown error';
}

async function precondition(): Promise<string | undefined> {
  if (!existsSync(join(ROOT, 'src', 'redis', 'index.ts'))) return 'src/redis/index.ts does not exist yet';
  if (!existsSync(join(ROOT, 'test', 'cluster', 'cluster-worker.cjs'))) return 'test/cluster/cluster-worker.cjs does not exist yet';
  const { hostname, port } = new URL(REDIS_URL);
  if (!(await ping(hostname || '127.0.0.1', Number(port || 6379), 2_000))) return `no Redis answers at ${REDIS_URL}`;
  return undefined;
}

function pending(section: string, reason: string): SectionResult {
  return {
    key: 'cluster',
    title: section,
    rows: [{ section, measure: 'token-endpoint calls per rotation', value: 'pending (Redis issue)', target: '1.00', status: 'pending', sideBySide: reason }],
    data: { pending: true, reason },
  };
}

export async function runCluster(): Promise<SectionResult> {
  const section = `6 Cluster (${PROCESSES} processes on Redis, oidc-provider)`;
  const missing = await precondition();
  if (missing) return pending(section, missing);

  let server: AuthorizationServer | undefined;
  const workers: Worker[] = [];
  const keyPrefix = randomKeyPrefix('bench');
  let stage = 'compile src for the workers';
  try {
    await compileForWorkers();
    stage = 'start the authorization server and seed Redis';
    server = await startAuthorizationServer({ accessTokenTtl: ACCESS_TOKEN_TTL_S });
    const grant = await server.issueTokens('basic');
    const redisModule = (await import(pathToFileURL(join(WORKER_DIST, 'redis', 'index.js')).href)) as CompiledRedis;
    const seedConnection = redisModule.createRedisConnection(REDIS_URL);
    seedConnection.on('error', () => undefined);
    const seedStore = new redisModule.RedisTokenStore(seedConnection, { keyPrefix });
    await seedStore.save({
      accessToken: grant.accessToken,
      refreshToken: grant.refreshToken,
      tokenType: grant.tokenType,
      expiresAt: new Date(Date.now() + grant.expiresIn * 1000),
    });
    await seedStore.close?.();
    seedConnection.disconnect();

    stage = 'boot the workers';
    const basic = server.clients.basic;
    const config: WorkerConfig = {
      dist: WORKER_DIST,
      redisUrl: REDIS_URL,
      keyPrefix,
      tokenEndpoint: server.tokenEndpoint,
      clientId: basic.clientId,
      clientSecret: basic.clientSecret ?? '',
      oauthTimeout: 3_000,
      lease: 10_000,
      lockWaitTimeout: 5_000,
      checkInterval: 60_000,
    };
    workers.push(...Array.from({ length: PROCESSES }, (_, i) => new Worker(`worker-${i + 1}`, config)));
    await Promise.all(workers.map((w) => w.request(undefined, 'booted', 30_000)));
    server.resetStats();
    stage = 'start the workers';
    await Promise.all(workers.map((w) => w.request({ type: 'start' }, 'started', 15_000)));
  } catch (error) {
    await cleanup(workers, server, keyPrefix);
    return pending(section, `${stage} failed: ${firstLine(error)}`);
  }

  // From here on a failure is a finding, not a missing piece.
  const t0 = Date.now();
  const deadline = t0 + ROTATIONS * ACCESS_TOKEN_TTL_S * 1000 + 20_000;
  const stats = server.stats;
  while (stats.refreshSuccesses < ROTATIONS && stats.invalidGrant === 0 && Date.now() < deadline && workers.every((w) => !w.exited)) {
    await sleep(50);
  }
  // Let the other replicas finish whatever they started for the last rotation.
  await sleep(500);
  const snapshot = { ...stats };
  const statuses = await Promise.all(
    workers.map((w) =>
      w.request({ type: 'status' }, 'status', 5_000).catch((error: unknown): WorkerMessage => ({ type: 'error', message: firstLine(error) })),
    ),
  );
  const seconds = Math.round((Date.now() - t0) / 100) / 10;
  const adoptions = workers.map((w) => {
    const refreshed = w.events(REFRESHED);
    return {
      worker: w.name,
      refreshedByRequest: refreshed.filter((e) => e.source === 'refresh').length,
      adoptedFromStore: refreshed.filter((e) => e.source === 'store').length,
      failedEvents: w.events('token-refresh.refresh-failed').length,
    };
  });
  await cleanup(workers, server, keyPrefix);

  const sameToken = statuses.every((s) => s.type === 'status' && s.accessToken === statuses[0].accessToken && typeof s.accessToken === 'string');
  const perRotation = snapshot.refreshSuccesses > 0 ? snapshot.refreshRequests / snapshot.refreshSuccesses : Number.POSITIVE_INFINITY;
  const pass = snapshot.refreshSuccesses >= ROTATIONS && snapshot.refreshRequests === snapshot.refreshSuccesses && snapshot.invalidGrant === 0;
  const adopted = adoptions.reduce((n, a) => n + a.adoptedFromStore, 0);
  const rows: Row[] = [
    {
      section,
      measure: 'token-endpoint calls per rotation',
      value: `${perRotation.toFixed(2)} (${snapshot.refreshRequests} calls, ${snapshot.refreshSuccesses} rotations)`,
      target: '1.00',
      status: pass ? 'pass' : 'miss',
      sideBySide: `invalid_grant ${snapshot.invalidGrant}, reuse detected ${snapshot.reuseDetected}; ${adopted} adoptions from Redis; all ${PROCESSES} on one token: ${sameToken ? 'yes' : 'no'}`,
    },
  ];
  return {
    key: 'cluster',
    title: section,
    rows,
    data: {
      method: `${PROCESSES} forked workers (test/cluster/cluster-worker.cjs), RedisTokenStore + RedisRefreshLock at ${REDIS_URL}, in-process oidc-provider with ${ACCESS_TOKEN_TTL_S} s access tokens and rotating refresh tokens; counted by the authorization server until ${ROTATIONS} rotations`,
      authorizationServer: snapshot,
      callsPerRotation: Number.isFinite(perRotation) ? Math.round(perRotation * 100) / 100 : null,
      perWorker: adoptions,
      allOnSameToken: sameToken,
      seconds,
      target: { callsPerRotation: 1 },
      pass,
    },
  };
}

async function cleanup(workers: Worker[], server: AuthorizationServer | undefined, keyPrefix: string): Promise<void> {
  await Promise.all(workers.map((w) => w.stop().catch(() => undefined)));
  await server?.close().catch(() => undefined);
  const redis = testConnection();
  try {
    await deleteKeys(redis, keyPrefix);
  } catch {
    // Keys expire with the tokens; nothing else to do.
  } finally {
    redis.disconnect();
  }
  await rm(WORKER_DIST, { recursive: true, force: true });
}
