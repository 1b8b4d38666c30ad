/**
 * 6. Cluster: token-endpoint calls per rotation with four processes sharing one credential
 * through Redis (127.0.0.1:6379), against the in-process oidc-provider (rotating refresh tokens,
 * reuse detection on).
 *
 * Reuses the cluster tests' forked worker (test/cluster/cluster-worker.cjs) and its driver
 * (test/support/cluster-harness.ts), read-only: src is compiled for it with tsconfig.build.json
 * into a directory of its own under node_modules/.cache, removed afterwards; each worker is a
 * Nest application context with TokenRefreshModule on RedisTokenStore + RedisRefreshLock. The
 * bench seeds one grant into Redis, starts the four, lets ROTATIONS rotations happen (4-second
 * access tokens, so each is due 2 s after issue, at nearly the same instant in every process)
 * and reads the authorization server's own counters.
 *
 * Anything missing (src/redis, the worker, Redis) or failing before the measurement prints the
 * row as "pending (Redis issue)" with the reason; the rest of the run is unaffected.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startAuthorizationServer, type AuthorizationServer } from '../examples/auth-server/authorization-server';
import {
  ClusterWorker,
  compileForWorkers,
  REPO_ROOT,
  WORKER_SCRIPT,
  type WorkerConfig,
  type WorkerMessage,
} from '../test/support/cluster-harness';
import { deleteKeys, ping, randomKeyPrefix, REDIS_URL, testConnection } from '../test/support/redis-test-server';
import { type Row } from './report';
import { type SectionResult, sleep } from './support';
import { type StoredTokens } from '../src/common/interfaces/token-store.interface';

const PROCESSES = 4;
const ROTATIONS = 5;
const ACCESS_TOKEN_TTL_S = 4;
const REFRESHED = 'token-refresh.refreshed';

interface CompiledRedis {
  createRedisConnection(url: string): { disconnect(): void; on(event: string, listener: () => void): unknown };
  RedisTokenStore: new (
    redis: unknown,
    options: { keyPrefix: string },
  ) => { save(tokens: StoredTokens): Promise<void>; close?(): Promise<void> };
}

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n').find((line) => line.trim() !== '')?.trim().slice(0, 160) ?? 'unknown error';
}

async function precondition(): Promise<string | undefined> {
  if (!existsSync(join(REPO_ROOT, 'src', 'redis', 'index.ts'))) return 'src/redis/index.ts does not exist yet';
  if (!existsSync(WORKER_SCRIPT)) return 'test/cluster/cluster-worker.cjs does not exist yet';
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
  const workers: ClusterWorker[] = [];
  let compiled: { dist: string; remove: () => Promise<void> } | undefined;
  const keyPrefix = randomKeyPrefix('bench');
  let stage = 'compile src for the workers';
  try {
    compiled = await compileForWorkers();
    stage = 'start the authorization server and seed Redis';
    server = await startAuthorizationServer({ accessTokenTtl: ACCESS_TOKEN_TTL_S });
    const grant = await server.issueTokens('basic');
    const redisModule = (await import(pathToFileURL(join(compiled.dist, 'redis', 'index.js')).href)) as CompiledRedis;
    const seedConnection = redisModule.createRedisConnection(REDIS_URL);
    seedConnection.on('error', () => undefined);
    const seedStore = new redisModule.RedisTokenStore(seedConnection, { keyPrefix });
    await seedStore.save({
      accessToken: grant.accessToken,
      refreshToken: grant.refreshToken,
      tokenType: grant.tokenType,
      expiresAt: new Date(Date.now() + grant.expiresIn * 1000),
      issuedAt: new Date(),
      version: 1,
    });
    await seedStore.close?.();
    seedConnection.disconnect();

    stage = 'boot the workers';
    const basic = server.clients.basic;
    const config: WorkerConfig = {
      dist: compiled.dist,
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
    // Spawned first and waited for after, so that cleanup stops every one even if a boot fails.
    workers.push(...Array.from({ length: PROCESSES }, (_, i) => ClusterWorker.spawn(`worker-${i + 1}`, config)));
    await Promise.all(workers.map((w) => w.waitFor((m) => m.type === 'booted', 30_000, 'booted')));
    server.resetStats();
    stage = 'start the workers';
    await Promise.all(workers.map((w) => w.request({ type: 'start' }, 'started', 15_000)));
  } catch (error) {
    await cleanup(workers, server, keyPrefix, compiled);
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
    const refreshed = w.eventsNamed(REFRESHED).map((e) => e.payload);
    return {
      worker: w.name,
      refreshedByRequest: refreshed.filter((e) => e.source === 'refresh').length,
      adoptedFromStore: refreshed.filter((e) => e.source === 'store').length,
      failedEvents: w.eventsNamed('token-refresh.refresh-failed').length,
    };
  });
  await cleanup(workers, server, keyPrefix, compiled);

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

async function cleanup(
  workers: ClusterWorker[],
  server: AuthorizationServer | undefined,
  keyPrefix: string,
  compiled: { remove: () => Promise<void> } | undefined,
): Promise<void> {
  await Promise.all(workers.map((w) => w.stop(5_000).catch(() => undefined)));
  await server?.close().catch(() => undefined);
  const redis = testConnection();
  try {
    await deleteKeys(redis, keyPrefix);
  } catch {
    // Keys expire with the tokens; nothing else to do.
  } finally {
    redis.disconnect();
  }
  await compiled?.remove();
}
