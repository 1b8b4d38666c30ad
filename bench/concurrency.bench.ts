/**
 * 2. Concurrency at expiry: 1, 100 and 10 000 getAccessToken() calls issued in one tick when the
 * token is due (real timers). The token endpoint is the fake client answering after 5 ms; the
 * refresh timer is not armed (CallerDrivenTimers), so the callers themselves find the token due
 * and must share one refresh. Counted: token-endpoint calls; timed: each caller's wait, from its
 * call to its promise settling.
 *
 * Side by side, over HTTP against one 127.0.0.1 stub endpoint (5 ms): this module with its
 * HttpOAuthClient, and google-auth-library's OAuth2Client with expired credentials.
 * Also: callers that arrive while a timer-driven refresh is in flight against a slow (250 ms)
 * endpoint and the old token is still valid for a second: whether they get it or wait.
 */
import { HttpService } from '@nestjs/axios';
import { OAuth2Client } from 'google-auth-library';
import { Agent } from 'node:http';
import { performance } from 'node:perf_hooks';
import { HttpOAuthClient } from '../src/oauth/http-oauth-client';
import { type OAuthClient } from '../src/common/interfaces/oauth-client.interface';
import { FakeOAuthClient } from '../test/support/fake-oauth-client';
import { createTestManager } from '../test/support/manager';
import { ScriptedServer } from '../test/support/scripted-server';
import { type Row } from './report';
import {
  BENCH_WIRING,
  CallerDrivenTimers,
  distribution,
  type Distribution,
  fmtInt,
  fmtMs,
  round,
  type SectionResult,
  sleep,
} from './support';

const SIZES = [1, 100, 10_000] as const;
const ENDPOINT_DELAY_MS = 5;
/** Token lifetime in the due-token runs: due (half-life) after 100 ms, callers wait from 150 ms, valid until 200 ms. */
const SHORT_TOKEN_S = 0.2;
const WARMUP_BURSTS = 3;
const REPEATS = 3;
/** The slow token endpoint of the during-a-background-refresh run. */
const SLOW_ENDPOINT_MS = 250;

interface Burst {
  callers: number;
  endpointCalls: number;
  wait: Distribution;
  allGotNewToken: boolean;
  failures: number;
}

/** Issues n calls in one synchronous loop; each caller's wait is timed separately. */
async function burst(n: number, call: () => Promise<string>, expected: (token: string) => boolean): Promise<Omit<Burst, 'endpointCalls'>> {
  const waits = new Float64Array(n);
  const pending = new Array<Promise<boolean>>(n);
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    pending[i] = call().then(
      (token) => {
        waits[i] = performance.now() - t0;
        return expected(token);
      },
      () => {
        waits[i] = performance.now() - t0;
        return false;
      },
    );
  }
  const outcomes = await Promise.all(pending);
  const failures = outcomes.filter((ok) => !ok).length;
  return { callers: n, wait: roundDist(distribution(waits)), allGotNewToken: failures === 0, failures };
}

/** Every burst starts on a collected heap, so the young-generation GCs it meets are its own. */
function collect(): void {
  globalThis.gc?.();
}

/** Runs a burst REPEATS times and keeps the run with the median p50 wait. */
async function medianOf(run: () => Promise<Burst>): Promise<Burst & { repeats: number; p50s: number[] }> {
  const runs: Burst[] = [];
  for (let i = 0; i < REPEATS; i++) runs.push(await run());
  const sorted = [...runs].sort((a, b) => a.wait.p50 - b.wait.p50);
  const kept = sorted[Math.floor(sorted.length / 2)];
  const worst = runs.reduce((most, b) => Math.max(most, b.endpointCalls), 0);
  // The call count reported is the worst of the repeats, never the median.
  return { ...kept, endpointCalls: worst, allGotNewToken: runs.every((b) => b.allGotNewToken), repeats: REPEATS, p50s: runs.map((b) => b.wait.p50) };
}

function roundDist(d: Distribution): Distribution {
  return { count: d.count, p50: round(d.p50, 3), p99: round(d.p99, 3), max: round(d.max, 3), min: round(d.min, 3) };
}

/**
 * A started manager whose token is due and close to expiry (past the point where callers stop
 * taking the held token and wait for the refresh), and whose refresh timer never fires: the
 * callers themselves must trigger and share the refresh.
 */
async function dueManager(client: OAuthClient) {
  const { manager } = createTestManager({ ...BENCH_WIRING, client, timers: new CallerDrivenTimers() });
  await manager.start({ accessToken: 'at-0', refreshToken: 'rt-0', expiresIn: SHORT_TOKEN_S });
  const refreshAt = manager.getRefreshStatus().refreshAt!.getTime();
  const expiresAt = manager.getExpiresAt()!.getTime();
  const waitFrom = expiresAt - (expiresAt - refreshAt) / 2;
  await sleep(Math.max(0, waitFrom - Date.now()) + 2);
  const status = manager.getRefreshStatus();
  if (!status.needsRefresh || status.state !== 'idle') throw new Error(`concurrency: token not due (state ${status.state})`);
  return manager;
}

async function fakeClientBurst(n: number): Promise<Burst> {
  const client = new FakeOAuthClient(async (_rt, call) => {
    await sleep(ENDPOINT_DELAY_MS);
    return { accessToken: `at-${call}`, refreshToken: `rt-${call}`, expiresIn: 3600 };
  });
  const manager = await dueManager(client);
  collect();
  const result = await burst(n, () => manager.getAccessToken(), (token) => token === 'at-1');
  await manager.stop();
  return { ...result, endpointCalls: client.calls };
}

async function httpBurstThisModule(n: number, endpoint: ScriptedServer, http: HttpService): Promise<Burst> {
  const client = new HttpOAuthClient({ tokenEndpoint: endpoint.tokenEndpoint, clientId: 'bench-client', clientSecret: 'bench-secret' }, http);
  const manager = await dueManager(client);
  endpoint.forget();
  collect();
  const result = await burst(n, () => manager.getAccessToken(), (token) => token === 'at-1');
  await manager.stop();
  return { ...result, endpointCalls: endpoint.requests.length };
}

async function httpBurstGoogle(n: number, endpoint: ScriptedServer): Promise<Burst> {
  const google = new OAuth2Client({ clientId: 'bench-client', clientSecret: 'bench-secret', endpoints: { oauth2TokenUrl: endpoint.tokenEndpoint } });
  // Expired: google-auth-library refreshes on the call (no background refresh).
  google.setCredentials({ access_token: 'at-0', refresh_token: 'rt-0', expiry_date: Date.now() - 1000 });
  endpoint.forget();
  collect();
  const result = await burst(
    n,
    async () => (await google.getAccessToken()).token ?? '',
    (token) => token === 'at-1',
  );
  return { ...result, endpointCalls: endpoint.requests.length };
}

/**
 * Callers arriving while the refresh timer's own refresh is in flight against a slow endpoint
 * (SLOW_ENDPOINT_MS), the old token still valid for about a second: do they get it, or wait?
 */
async function duringBackgroundRefresh(n: number) {
  let started!: () => void;
  const refreshStarted = new Promise<void>((resolve) => (started = resolve));
  const client = new FakeOAuthClient(async (_rt, call) => {
    started();
    await sleep(SLOW_ENDPOINT_MS);
    return { accessToken: `at-${call}`, refreshToken: `rt-${call}`, expiresIn: 3600 };
  });
  const { manager } = createTestManager({ ...BENCH_WIRING, client });
  collect();
  // A 2-second token: the timer refreshes it at 1 s, when it is still valid for 1 s.
  await manager.start({ accessToken: 'at-0', refreshToken: 'rt-0', expiresIn: 2 });
  await refreshStarted;
  const oldTokenValidForMs = manager.getExpiresAt()!.getTime() - Date.now();
  const result = await burst(n, () => manager.getAccessToken(), (token) => token === 'at-1');
  await manager.stop();
  return { ...result, endpointCalls: client.calls, oldTokenValidForMs };
}

export async function runConcurrency(): Promise<SectionResult> {
  const endpoint = await ScriptedServer.start();
  endpoint.answerRefreshGrants({ delayMs: ENDPOINT_DELAY_MS });
  const http = new HttpService(new HttpService().axiosRef.create({ httpAgent: new Agent({ keepAlive: true }) }));
  const fake: Burst[] = [];
  const ours: Burst[] = [];
  const google: Burst[] = [];
  const cold: Burst[] = [];
  try {
    // Unmeasured bursts of the largest size per contender first (the first ones run cold code,
    // several times slower), so the figures are steady state for everyone. The first is kept as `cold`.
    const largest = SIZES[SIZES.length - 1];
    for (let i = 0; i < WARMUP_BURSTS; i++) {
      const f = await fakeClientBurst(largest);
      const o = await httpBurstThisModule(largest, endpoint, http);
      const g = await httpBurstGoogle(largest, endpoint);
      if (i === 0) cold.push(f, o, g);
    }
    for (const n of SIZES) {
      fake.push(await medianOf(() => fakeClientBurst(n)));
      ours.push(await medianOf(() => httpBurstThisModule(n, endpoint, http)));
      google.push(await medianOf(() => httpBurstGoogle(n, endpoint)));
    }
  } finally {
    await endpoint.close();
  }
  const background = await duringBackgroundRefresh(100);

  const section = '2 Concurrency at expiry (token due, real timers)';
  const dist = (b: Burst): string => `p50 ${fmtMs(b.wait.p50)}, p99 ${fmtMs(b.wait.p99)}`;
  const rows: Row[] = SIZES.map((n, i) => {
    const f = fake[i];
    const ok = f.endpointCalls === 1 && f.allGotNewToken;
    return {
      section,
      measure: `${fmtInt(n)} concurrent caller${n === 1 ? '' : 's'}: endpoint calls; wait`,
      value: `${f.endpointCalls} call${f.endpointCalls === 1 ? '' : 's'}; ${dist(f)}${f.allGotNewToken ? '' : `; ${f.failures} callers failed`}`,
      target: '1 call',
      status: ok ? 'pass' : 'miss',
      sideBySide: `HTTP stub: this module ${ours[i].endpointCalls} (${dist(ours[i])}); google-auth-library ${google[i].endpointCalls} (${dist(google[i])})`,
    };
  });
  rows.push({
    section,
    measure: `100 callers during a timer-driven refresh (${SLOW_ENDPOINT_MS} ms endpoint)`,
    value: `wait p50 ${fmtMs(background.wait.p50)}, p99 ${fmtMs(background.wait.p99)}`,
    target: '-',
    status: 'info',
    sideBySide: `the old token they waited behind was valid ${fmtMs(background.oldTokenValidForMs)} more`,
  });

  return {
    key: 'concurrency',
    title: section,
    rows,
    data: {
      method: `callers issued in one synchronous loop when the token is due (refresh timer not armed, callers trigger the refresh); fake client answers after ${ENDPOINT_DELAY_MS} ms; wait = call to settle, ms; ${WARMUP_BURSTS} unmeasured warm-up bursts of 10 000 per contender, then ${REPEATS} bursts per size, the one with the median p50 kept (endpoint calls: worst of the ${REPEATS}); gc() before each burst`,
      fakeClient: fake,
      overHttp: { endpointDelayMs: ENDPOINT_DELAY_MS, thisModule: ours, googleAuthLibrary: google },
      duringTimerDrivenRefresh: { endpointDelayMs: SLOW_ENDPOINT_MS, ...background },
      coldFirstBurst: { fakeClient: cold[0], thisModuleHttp: cold[1], googleHttp: cold[2] },
      target: { endpointCallsPerBurst: 1 },
      pass: fake.every((b) => b.endpointCalls === 1 && b.allGotNewToken),
    },
  };
}
