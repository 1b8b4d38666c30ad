import { metrics, SpanKind, SpanStatusCode, trace, type Meter, type MeterProvider } from '@opentelemetry/api';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { expectTypedError } from '../../test/support/expect-error';
import { FakeOAuthClient } from '../../test/support/fake-oauth-client';
import { createKeyedTestManager, createTestManager } from '../../test/support/manager';
import { type CollectedMetric, everythingReported, OtelSdk, unregisterOtel } from '../../test/support/otel-sdk';
import { waitFor } from '../../test/support/wait-for';
import { type RefreshLock, type RefreshLockHandle } from '../common/interfaces/refresh-lock.interface';
import { OAuthProtocolError, TokenEndpointHttpError, TokenRefreshConfigError } from '../common/token-refresh.errors';
import { REFRESH_ON_UNAUTHORIZED } from '../core/telemetry';
import { GLOBAL_PROVIDER_RECHECK_MS, OpenTelemetryRefreshTelemetry } from './open-telemetry.telemetry';
import { TokenRefreshAttributes as A, TokenRefreshMetrics as M, TokenRefreshSpans as S } from './otel-names';

// Distinct values, so a search of everything reported cannot miss one or hit by chance.
const ACCESS = 'access-token-4f1e9c';
const REFRESH = 'refresh-token-7d2a51';
const KEY = 'user-8812@example.com';
const SECRETS = [ACCESS, REFRESH, KEY, 'rotated-access', 'rotated-refresh'];

const rotating = (): FakeOAuthClient =>
  new FakeOAuthClient((_rt, call) => ({ accessToken: `rotated-access-${call}`, refreshToken: `rotated-refresh-${call}`, expiresIn: 3600 }));

/** A distributed lock that holds for `waitMs`, then answers as told. */
function slowLock(waitMs: number, answer: 'acquired' | 'unavailable' | 'error'): RefreshLock {
  const handle: RefreshLockHandle = { release: async () => undefined };
  return {
    distributed: true,
    acquire: async () => {
      await new Promise((resolve) => setTimeout(resolve, waitMs));
      if (answer === 'error') throw new Error('redis is down');
      return answer === 'acquired' ? handle : null;
    },
  };
}

function metric(collected: Map<string, CollectedMetric>, name: string): CollectedMetric {
  const found = collected.get(name);
  if (!found) throw new Error(`no metric ${name}; collected: ${[...collected.keys()].join(', ')}`);
  return found;
}

describe('OpenTelemetryRefreshTelemetry with the SDK registered', () => {
  let sdk: OtelSdk;
  const base = { [A.REGISTRATION]: 'default', [A.GRANT_TYPE]: 'refresh_token' };

  beforeEach(() => {
    sdk = new OtelSdk().register();
  });
  afterEach(async () => {
    unregisterOtel();
    await sdk.shutdown();
  });

  it('a refresh: a duration point and a count by outcome and trigger, one span around the token request, and the gauges', async () => {
    let activeDuringRequest: string | undefined;
    const client = new FakeOAuthClient((_rt, call) => {
      activeDuringRequest = trace.getActiveSpan()?.spanContext().spanId;
      return { accessToken: `rotated-access-${call}`, refreshToken: `rotated-refresh-${call}`, expiresIn: 3600 };
    });
    const { manager } = createTestManager({ client, telemetry: new OpenTelemetryRefreshTelemetry() });
    await manager.start({ accessToken: ACCESS, refreshToken: REFRESH, expiresIn: 3600 });
    await manager.forceRefresh();
    await manager.getAccessToken();
    await manager.getAccessToken();

    const collected = await sdk.collect();
    const success = { ...base, [A.TRIGGER]: 'forced', [A.OUTCOME]: 'success' };
    expect(metric(collected, M.REFRESH_DURATION)).toMatchObject({ unit: 's', type: 'histogram', points: [{ attributes: success, value: 1 }] });
    expect(metric(collected, M.REFRESH_DURATION).points[0].sum).toBeGreaterThanOrEqual(0);
    expect(metric(collected, M.REFRESHES)).toMatchObject({ unit: '{refresh}', type: 'counter', points: [{ attributes: success, value: 1 }] });
    expect(collected.has(M.FAILURES)).toBe(false);
    expect(collected.has(M.LOCK_WAIT_DURATION)).toBe(false);

    const expiry = metric(collected, M.TIME_UNTIL_EXPIRY);
    expect(expiry).toMatchObject({ unit: 's', type: 'gauge', points: [{ attributes: { [A.REGISTRATION]: 'default' } }] });
    expect(expiry.points[0].value).toBeGreaterThan(3590);
    expect(expiry.points[0].value).toBeLessThanOrEqual(3600);
    const states = metric(collected, M.CREDENTIALS);
    expect(states).toMatchObject({ unit: '{credential}', type: 'updowncounter' });
    expect(Object.fromEntries(states.points.map((p) => [p.attributes[A.STATE], p.value]))).toEqual({
      stopped: 0,
      idle: 1,
      refreshing: 0,
      backoff: 0,
      reauthenticating: 0,
      'reauth-required': 0,
    });
    const reads = metric(collected, M.ACCESS_TOKEN_READS);
    expect(reads).toMatchObject({ unit: '{call}', type: 'counter' });
    expect(Object.fromEntries(reads.points.map((p) => [p.attributes[A.READ_OUTCOME], p.value]))).toEqual({ fresh: 2, waited: 0, failed: 0 });
    // Key counts are a keyed registration's.
    expect(collected.has(M.KEYS)).toBe(false);

    const [span] = sdk.spans();
    expect(sdk.spans()).toHaveLength(1);
    expect(span).toMatchObject({
      name: S.REFRESH,
      kind: SpanKind.INTERNAL,
      status: { code: SpanStatusCode.UNSET },
      attributes: { ...success, [A.KEYED]: false, [A.ATTEMPT]: 1, [A.SOURCE]: 'refresh' },
    });
    expect(span.instrumentationScope.name).toBe('nestjs-token-refresh');
    // The token request ran inside the attempt's context: an HTTP instrumentation's span nests under it.
    expect(activeDuringRequest).toBe(span.spanContext().spanId);
    await manager.stop();
  });

  it('a refresh started inside a request\'s span is that span\'s child', async () => {
    const { manager } = createTestManager({ client: rotating(), telemetry: new OpenTelemetryRefreshTelemetry() });
    await manager.start({ accessToken: ACCESS, refreshToken: REFRESH, expiresIn: 3600 });
    const tracer = trace.getTracer('app');
    await tracer.startActiveSpan('GET /orders', async (incoming) => {
      await manager[REFRESH_ON_UNAUTHORIZED]();
      incoming.end();
    });
    const refresh = sdk.spans().find((s) => s.name === S.REFRESH)!;
    const incoming = sdk.spans().find((s) => s.name === 'GET /orders')!;
    expect(refresh.attributes[A.TRIGGER]).toBe('unauthorized');
    expect(refresh.parentSpanContext?.spanId).toBe(incoming.spanContext().spanId);
    await manager.stop();
  });

  it('a transient failure: outcome and failure by our code, an error span, backoff in the state gauge, then the retry', async () => {
    let failures = 1;
    const client = new FakeOAuthClient((_rt, call) => {
      if (failures-- > 0) throw new TokenEndpointHttpError(503);
      return { accessToken: `rotated-access-${call}`, refreshToken: `rotated-refresh-${call}`, expiresIn: 3600 };
    });
    const { manager } = createTestManager({
      client,
      telemetry: new OpenTelemetryRefreshTelemetry(),
      options: { retry: { initialDelay: 20, maxDelay: 20 } },
    });
    await manager.start({ accessToken: ACCESS, refreshToken: REFRESH, expiresIn: 3600 });
    await expectTypedError(manager.forceRefresh(), TokenEndpointHttpError);

    let collected = await sdk.collect();
    const failed = { ...base, [A.TRIGGER]: 'forced', [A.OUTCOME]: 'http_error' };
    expect(metric(collected, M.REFRESH_DURATION).points).toMatchObject([{ attributes: failed, value: 1 }]);
    expect(metric(collected, M.REFRESHES).points).toMatchObject([{ attributes: failed, value: 1 }]);
    // No server error came back (a 503 page): no oauth_error label.
    expect(metric(collected, M.FAILURES)).toMatchObject({ unit: '{failure}', type: 'counter', points: [{ attributes: failed, value: 1 }] });
    expect(metric(collected, M.FAILURES).points[0].attributes).not.toHaveProperty(A.OAUTH_ERROR);
    expect(metric(collected, M.CREDENTIALS).points.find((p) => p.attributes[A.STATE] === 'backoff')?.value).toBe(1);
    expect(sdk.spans()[0]).toMatchObject({
      name: S.REFRESH,
      status: { code: SpanStatusCode.ERROR, message: 'http_error' },
      attributes: { ...failed, [A.ERROR_TYPE]: 'http_error', [A.ATTEMPT]: 1 },
    });

    await waitFor(() => sdk.spans().length === 2, 5_000, 'the retry');
    expect(sdk.spans()[1].attributes).toMatchObject({ [A.TRIGGER]: 'retry', [A.ATTEMPT]: 2, [A.OUTCOME]: 'success' });
    collected = await sdk.collect();
    expect(metric(collected, M.REFRESHES).points).toHaveLength(2);
    expect(collected.has(M.REAUTH_REQUIRED)).toBe(false);
    await manager.stop();
  });

  it('a permanent failure: the server\'s error beside our code, and a reauth-required transition', async () => {
    const client = new FakeOAuthClient(() => {
      throw new OAuthProtocolError({ error: 'invalid_grant', status: 400 });
    });
    const { manager } = createTestManager({ client, telemetry: new OpenTelemetryRefreshTelemetry() });
    await manager.start({ accessToken: ACCESS, refreshToken: REFRESH, expiresIn: 3600 });
    await expectTypedError(manager.forceRefresh(), OAuthProtocolError, { error: 'invalid_grant' });

    const collected = await sdk.collect();
    const failed = { ...base, [A.TRIGGER]: 'forced', [A.OUTCOME]: 'oauth_error' };
    expect(metric(collected, M.REFRESHES).points).toMatchObject([{ attributes: failed, value: 1 }]);
    expect(metric(collected, M.FAILURES).points).toMatchObject([{ attributes: { ...failed, [A.OAUTH_ERROR]: 'invalid_grant' }, value: 1 }]);
    expect(metric(collected, M.REAUTH_REQUIRED)).toMatchObject({
      unit: '{transition}',
      type: 'counter',
      points: [{ attributes: { [A.REGISTRATION]: 'default' }, value: 1 }],
    });
    expect(metric(collected, M.CREDENTIALS).points.find((p) => p.attributes[A.STATE] === 'reauth-required')?.value).toBe(1);
    expect(sdk.spans()[0]).toMatchObject({
      status: { code: SpanStatusCode.ERROR, message: 'oauth_error' },
      attributes: { [A.OUTCOME]: 'oauth_error', [A.ERROR_TYPE]: 'oauth_error', [A.OAUTH_ERROR]: 'invalid_grant' },
    });
    await manager.stop();
  });

  it('a server error that is not a plain identifier is labelled "other" on metrics, so responses cannot mint series', async () => {
    const client = new FakeOAuthClient(() => {
      throw new OAuthProtocolError({ error: 'request 81f2-77 rejected', status: 400 });
    });
    const { manager } = createTestManager({ client, telemetry: new OpenTelemetryRefreshTelemetry() });
    await manager.start({ accessToken: ACCESS, refreshToken: REFRESH, expiresIn: 3600 });
    await manager.forceRefresh().catch(() => undefined);
    const collected = await sdk.collect();
    expect(metric(collected, M.FAILURES).points[0].attributes[A.OAUTH_ERROR]).toBe('other');
    expect(sdk.spans()[0].attributes[A.OAUTH_ERROR]).toBe('request 81f2-77 rejected');
    await manager.stop();
  });

  it.each([
    ['acquired', 'success'],
    ['unavailable', 'lock_unavailable'],
    // The lock's backend failing is a lock failure too.
    ['error', 'lock_unavailable'],
  ] as const)('a wait for a distributed lock that ends %s: a duration by outcome and a child span', async (lockOutcome, outcome) => {
    const { manager } = createTestManager({ client: rotating(), lock: slowLock(30, lockOutcome), telemetry: new OpenTelemetryRefreshTelemetry() });
    await manager.start({ accessToken: ACCESS, refreshToken: REFRESH, expiresIn: 3600 });
    if (lockOutcome === 'acquired') await manager.forceRefresh();
    else await expect(manager.forceRefresh()).rejects.toMatchObject({ code: outcome });

    const collected = await sdk.collect();
    const wait = metric(collected, M.LOCK_WAIT_DURATION);
    expect(wait).toMatchObject({ unit: 's', type: 'histogram', points: [{ attributes: { [A.REGISTRATION]: 'default', [A.LOCK_OUTCOME]: lockOutcome }, value: 1 }] });
    expect(wait.points[0].sum).toBeGreaterThanOrEqual(0.025);
    expect(metric(collected, M.REFRESHES).points[0].attributes[A.OUTCOME]).toBe(outcome);

    const refresh = sdk.spans().find((s) => s.name === S.REFRESH)!;
    const lockSpan = sdk.spans().find((s) => s.name === S.LOCK_WAIT)!;
    expect(lockSpan).toMatchObject({
      attributes: { [A.REGISTRATION]: 'default', [A.LOCK_OUTCOME]: lockOutcome },
      status: { code: lockOutcome === 'error' ? SpanStatusCode.ERROR : SpanStatusCode.UNSET },
    });
    expect(lockSpan.parentSpanContext?.spanId).toBe(refresh.spanContext().spanId);
    await manager.stop();
  });

  it('a keyed registration: counts per state, keys in memory and evictions, never a series or span attribute per key', async () => {
    const { manager } = createKeyedTestManager({ client: rotating(), telemetry: new OpenTelemetryRefreshTelemetry() });
    await manager.start();
    await manager.set(KEY, { accessToken: ACCESS, refreshToken: REFRESH, expiresIn: 3600 });
    await manager.set('user-2', { accessToken: 'a2', refreshToken: 'r2', expiresIn: 3600 });
    await manager.forceRefresh(KEY);
    await manager.getAccessToken(KEY);

    const collected = await sdk.collect();
    const users = { [A.REGISTRATION]: 'users' };
    expect(metric(collected, M.CREDENTIALS).points.find((p) => p.attributes[A.STATE] === 'idle')).toEqual({ attributes: { ...users, [A.STATE]: 'idle' }, value: 2 });
    expect(metric(collected, M.KEYS)).toMatchObject({ unit: '{key}', type: 'updowncounter', points: [{ attributes: users, value: 2 }] });
    expect(metric(collected, M.KEY_EVICTIONS)).toMatchObject({ unit: '{eviction}', type: 'counter', points: [{ attributes: users, value: 0 }] });
    expect(metric(collected, M.ACCESS_TOKEN_READS).points.find((p) => p.attributes[A.READ_OUTCOME] === 'fresh')?.value).toBe(1);
    expect(collected.has(M.TIME_UNTIL_EXPIRY)).toBe(false);
    expect(sdk.spans()[0].attributes).toMatchObject({ ...users, [A.KEYED]: true });

    const reported = everythingReported(collected, sdk.spans());
    expect(reported.filter((value) => value.includes('user-'))).toEqual([]);
    await manager.stop();
  });

  it('nothing reported holds a token, a refresh token or a key, whatever happened', async () => {
    let call = 0;
    const client = new FakeOAuthClient((rt) => {
      call++;
      if (call === 1) throw new TokenEndpointHttpError(503);
      // A server that echoes what it was sent in its error.
      if (call === 2) throw new OAuthProtocolError({ error: 'invalid_request', errorDescription: `bad ${rt} for ${KEY}`, status: 400 });
      return { accessToken: `rotated-access-${call}`, refreshToken: `rotated-refresh-${call}`, expiresIn: 3600 };
    });
    const telemetry = new OpenTelemetryRefreshTelemetry();
    const { manager } = createKeyedTestManager({ client, lock: slowLock(1, 'acquired'), telemetry });
    await manager.start();
    await manager.set(KEY, { accessToken: ACCESS, refreshToken: REFRESH, expiresIn: 3600 });
    for (let i = 0; i < 3; i++) await manager.forceRefresh(KEY).catch(() => undefined);
    const single = createTestManager({ client: rotating(), telemetry });
    await single.manager.start({ accessToken: ACCESS, refreshToken: REFRESH, expiresIn: 3600 });
    await single.manager.forceRefresh();

    const reported = everythingReported(await sdk.collect(), sdk.spans());
    expect(reported.length).toBeGreaterThan(50);
    expect(reported.filter((value) => SECRETS.some((secret) => value.includes(secret)))).toEqual([]);
    await manager.stop();
    await single.manager.stop();
  });

  it('an SDK that throws never fails a refresh', async () => {
    const broken = { getMeter: (): Meter => { throw new Error('broken meter provider'); } } as unknown as MeterProvider;
    const { manager } = createTestManager({ client: rotating(), telemetry: new OpenTelemetryRefreshTelemetry({ meterProvider: broken }) });
    await manager.start({ accessToken: ACCESS, refreshToken: REFRESH, expiresIn: 3600 });
    await manager.forceRefresh();
    expect(await manager.getAccessToken()).toBe('rotated-access-1');
    await manager.stop();
  });
});

describe('OpenTelemetryRefreshTelemetry without an SDK', () => {
  afterEach(() => {
    unregisterOtel();
    vi.useRealTimers();
  });

  it('records nothing and throws nothing: a refresh, failures and a lock wait before the SDK exists leave no trace in it', async () => {
    let call = 0;
    const client = new FakeOAuthClient(() => {
      call++;
      if (call === 1) throw new TokenEndpointHttpError(503);
      if (call === 2) throw new OAuthProtocolError({ error: 'invalid_grant', status: 400 });
      return { accessToken: `rotated-access-${call}`, refreshToken: `rotated-refresh-${call}`, expiresIn: 3600 };
    });
    const telemetry = new OpenTelemetryRefreshTelemetry();
    const { manager } = createTestManager({ client, lock: slowLock(1, 'acquired'), telemetry });
    await manager.start({ accessToken: ACCESS, refreshToken: REFRESH, expiresIn: 3600 });
    await expectTypedError(manager.forceRefresh(), TokenEndpointHttpError);
    await expectTypedError(manager.forceRefresh(), OAuthProtocolError);
    await manager.start({ accessToken: ACCESS, refreshToken: REFRESH, expiresIn: 3600 }).catch(() => undefined);
    await manager.updateTokens({ accessToken: ACCESS, refreshToken: REFRESH, expiresIn: 3600 });
    await manager.forceRefresh();
    expect(await manager.getAccessToken()).toBe('rotated-access-3');

    // An SDK registered now sees none of it: the meters in use were the API's no-ops.
    const sdk = new OtelSdk().register();
    try {
      const collected = await sdk.collect();
      expect([M.REFRESH_DURATION, M.REFRESHES, M.FAILURES, M.REAUTH_REQUIRED, M.LOCK_WAIT_DURATION].filter((name) => collected.has(name))).toEqual([]);
      expect(sdk.spans()).toEqual([]);
    } finally {
      await manager.stop();
      await sdk.shutdown();
    }
  });

  it('an SDK registered after start is picked up: at the next attempt, and by the gauges within the recheck interval', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
    const { manager } = createTestManager({ client: rotating(), telemetry: new OpenTelemetryRefreshTelemetry() });
    await manager.start({ accessToken: ACCESS, refreshToken: REFRESH, expiresIn: 3600 });
    const sdk = new OtelSdk().register();
    try {
      expect((await sdk.collect()).has(M.TIME_UNTIL_EXPIRY)).toBe(false);
      vi.advanceTimersByTime(GLOBAL_PROVIDER_RECHECK_MS);
      expect((await sdk.collect()).has(M.TIME_UNTIL_EXPIRY)).toBe(true);

      // Another SDK in its place (a test suite's next one): the next attempt moves to it at once.
      unregisterOtel();
      const next = new OtelSdk().register();
      await manager.forceRefresh();
      expect((await next.collect()).get(M.REFRESHES)?.points).toHaveLength(1);
      expect(next.spans()).toHaveLength(1);
      await next.shutdown();
    } finally {
      await manager.stop();
      await sdk.shutdown();
    }
  });

  it('the recheck is one timer while registrations are watched, none once the last one stops', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
    const plain = createTestManager({ client: rotating() });
    await plain.manager.start({ accessToken: ACCESS, refreshToken: REFRESH, expiresIn: 3600 });
    const engineTimers = vi.getTimerCount();
    await plain.manager.stop();
    const telemetry = new OpenTelemetryRefreshTelemetry();
    const first = createTestManager({ client: rotating(), telemetry });
    const second = createKeyedTestManager({ client: rotating(), telemetry });
    await first.manager.start({ accessToken: ACCESS, refreshToken: REFRESH, expiresIn: 3600 });
    expect(vi.getTimerCount()).toBe(engineTimers + 1);
    await second.manager.start();
    await first.manager.stop();
    await second.manager.stop();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('explicit providers are used as given, whatever is registered globally', async () => {
    const sdk = new OtelSdk();
    const { manager } = createTestManager({
      client: rotating(),
      telemetry: new OpenTelemetryRefreshTelemetry({ meterProvider: sdk.meterProvider, tracerProvider: sdk.tracerProvider }),
    });
    await manager.start({ accessToken: ACCESS, refreshToken: REFRESH, expiresIn: 3600 });
    await manager.forceRefresh();
    expect(metrics.getMeterProvider()).not.toBe(sdk.meterProvider);
    expect((await sdk.collect()).get(M.REFRESHES)?.points).toHaveLength(1);
    expect(sdk.spans()).toHaveLength(1);
    await manager.stop();
    await sdk.shutdown();
  });

  it('says what is missing when @opentelemetry/api is not installed', async () => {
    vi.resetModules();
    vi.doMock('./otel-api', () => ({ loadOpenTelemetryApi: () => null }));
    try {
      const { OpenTelemetryRefreshTelemetry: WithoutApi } = await import('./open-telemetry.telemetry.js');
      // A fresh module graph: its TokenRefreshConfigError is another class object, so compare by name.
      expect(() => new WithoutApi()).toThrow(expect.objectContaining({
        name: TokenRefreshConfigError.name,
        option: 'telemetry',
        message: expect.stringContaining('npm install @opentelemetry/api'),
      }));
    } finally {
      vi.doUnmock('./otel-api');
      vi.resetModules();
    }
  });
});
