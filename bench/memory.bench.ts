/**
 * 5. Memory (needs `node --expose-gc`): heapUsed after full GCs, before and after.
 * - Per registration: REGISTRATIONS started managers, each with its own fake client, in-memory
 *   store, in-process lock, NodeTimers (check interval + refresh timeout armed) and resolved
 *   settings; distinct short tokens, so the figure is the module's overhead, not token bytes.
 *   Side by side: google-auth-library OAuth2Client instances holding the same credentials.
 * - Per waiting caller: WAITERS pending getAccessToken() calls while the refresh is held open.
 *   Side by side: the same number of google-auth-library getAccessToken() calls waiting on one
 *   held refresh at a 127.0.0.1 stub endpoint.
 * The arrays that hold the objects and promises are allocated before the first reading.
 */
import { OAuth2Client } from 'google-auth-library';
import { type TokenRefreshManager } from '../src/core/refresh-manager';
import { deferred, FakeOAuthClient } from '../test/support/fake-oauth-client';
import { type TokenPair } from '../src/common/interfaces/token-pair.interface';
import { createTestManager } from '../test/support/manager';
import { ScriptedServer } from '../test/support/scripted-server';
import { type Row } from './report';
import { BENCH_WIRING, fmtBytes, fmtInt, round, type SectionResult, sleep } from './support';

const REGISTRATIONS = 1_000;
const WAITERS = 10_000;

function heapAfterGc(): number {
  for (let i = 0; i < 3; i++) globalThis.gc!();
  return process.memoryUsage().heapUsed;
}

async function perRegistration(): Promise<number> {
  const managers = new Array<TokenRefreshManager>(REGISTRATIONS);
  const before = heapAfterGc();
  for (let i = 0; i < REGISTRATIONS; i++) {
    const { manager } = createTestManager({ ...BENCH_WIRING, client: new FakeOAuthClient(), name: `reg-${i}` });
    await manager.start({ accessToken: `at-${i}`, refreshToken: `rt-${i}`, expiresIn: 3600 });
    managers[i] = manager;
  }
  const after = heapAfterGc();
  await Promise.all(managers.map((m) => m.stop()));
  return (after - before) / REGISTRATIONS;
}

function perGoogleClient(): number {
  const clients = new Array<OAuth2Client>(REGISTRATIONS);
  const before = heapAfterGc();
  for (let i = 0; i < REGISTRATIONS; i++) {
    const client = new OAuth2Client({ clientId: 'bench-client', clientSecret: 'bench-secret' });
    client.setCredentials({ access_token: `at-${i}`, refresh_token: `rt-${i}`, expiry_date: Date.now() + 3600_000 });
    clients[i] = client;
  }
  const after = heapAfterGc();
  clients.fill(undefined as unknown as OAuth2Client);
  return (after - before) / REGISTRATIONS;
}

async function perWaitingCaller(): Promise<number> {
  const answer = deferred<TokenPair>();
  const client = new FakeOAuthClient(() => answer.promise);
  const { manager } = createTestManager({ ...BENCH_WIRING, client });
  // Expired at start: the first check starts the refresh and callers must wait for it.
  await manager.start({ accessToken: 'at-0', refreshToken: 'rt-0', expiresAt: Date.now() - 1 });
  const refreshing = manager.forceRefresh();
  await sleep(1);
  if (manager.getRefreshStatus().state !== 'refreshing') throw new Error('memory: refresh not held');
  const pending = new Array<Promise<string>>(WAITERS);
  const before = heapAfterGc();
  for (let i = 0; i < WAITERS; i++) pending[i] = manager.getAccessToken();
  const after = heapAfterGc();
  answer.resolve({ accessToken: 'at-1', refreshToken: 'rt-1', expiresIn: 3600 });
  await refreshing;
  const tokens = await Promise.all(pending);
  if (tokens.some((t) => t !== 'at-1') || client.calls !== 1) throw new Error('memory: waiting callers did not share the refresh');
  await manager.stop();
  return (after - before) / WAITERS;
}

async function perWaitingGoogleCaller(): Promise<number> {
  const endpoint = await ScriptedServer.start();
  endpoint.answerRefreshGrants({ delayMs: 5 });
  try {
    const google = new OAuth2Client({ clientId: 'bench-client', clientSecret: 'bench-secret', endpoints: { oauth2TokenUrl: endpoint.tokenEndpoint } });
    google.setCredentials({ access_token: 'at-0', refresh_token: 'rt-0', expiry_date: Date.now() - 1000 });
    endpoint.hold();
    // The first caller starts the (held) refresh; its request is in flight before the reading.
    const first = google.getAccessToken();
    while (endpoint.requests.length === 0) await sleep(1);
    const pending = new Array<Promise<unknown>>(WAITERS);
    const before = heapAfterGc();
    for (let i = 0; i < WAITERS; i++) pending[i] = google.getAccessToken();
    const after = heapAfterGc();
    endpoint.release();
    await first;
    await Promise.all(pending);
    if (endpoint.requests.length !== 1) throw new Error('memory: google callers did not share the refresh');
    return (after - before) / WAITERS;
  } finally {
    await endpoint.close();
  }
}

export async function runMemory(): Promise<SectionResult> {
  const section = '5 Memory (heapUsed after gc, before/after)';
  if (typeof globalThis.gc !== 'function') {
    return {
      key: 'memory',
      title: section,
      rows: [{ section, measure: 'heap per registration / waiting caller', value: 'not measured', target: '-', status: 'pending', sideBySide: 'run node with --expose-gc (npm run bench does)' }],
      data: { skipped: 'global.gc unavailable: run node with --expose-gc' },
    };
  }
  // Each figure is measured twice and the smaller kept: the first pass also pays one-time
  // allocations (compiled code, inline caches, lazily built maps) that are not per instance.
  const twice = async (f: () => number | Promise<number>): Promise<number[]> => [await f(), await f()];
  const registration = await twice(perRegistration);
  const google = await twice(perGoogleClient);
  const waiter = await twice(perWaitingCaller);
  const googleWaiter = await twice(perWaitingGoogleCaller);
  const min = (values: number[]): number => Math.min(...values);

  const rows: Row[] = [
    {
      section,
      measure: `heap per registration (${fmtInt(REGISTRATIONS)} started)`,
      value: fmtBytes(min(registration)),
      target: '-',
      status: 'info',
      sideBySide: `google-auth-library OAuth2Client with credentials: ${fmtBytes(min(google))}`,
    },
    {
      section,
      measure: `heap per waiting caller (${fmtInt(WAITERS)} during a refresh)`,
      // Every waiter holds the same promise; below 1 B the reading is gc noise.
      value: min(waiter) < 1 ? '< 1 B (one shared promise)' : fmtBytes(min(waiter)),
      target: '-',
      status: 'info',
      sideBySide: `google-auth-library: ${fmtBytes(min(googleWaiter))}`,
    },
  ];
  return {
    key: 'memory',
    title: section,
    rows,
    data: {
      method: 'process.memoryUsage().heapUsed after 3x global.gc(), before and after; each measured twice, smaller kept; per-registration figure includes client, store, lock, timers and settings; tokens are short distinct strings',
      bytesPerRegistration: round(min(registration), 0),
      bytesPerRegistrationPasses: registration.map((v) => round(v, 0)),
      googleBytesPerClient: round(min(google), 0),
      googleBytesPerClientPasses: google.map((v) => round(v, 0)),
      bytesPerWaitingCaller: round(min(waiter), 0),
      bytesPerWaitingCallerPasses: waiter.map((v) => round(v, 0)),
      googleBytesPerWaitingCaller: round(min(googleWaiter), 0),
      googleBytesPerWaitingCallerPasses: googleWaiter.map((v) => round(v, 0)),
      registrations: REGISTRATIONS,
      waiters: WAITERS,
    },
  };
}
