import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FakeOAuthClient } from '../../test/support/fake-oauth-client';
import { GrantServer } from '../../test/support/grant-server';
import { createKeyedTestManager, createTestManager } from '../../test/support/manager';
import { type RefreshLock } from '../common/interfaces/refresh-lock.interface';
import { TokenRefreshEvents } from '../common/token-refresh.constants';
import { OAuthProtocolError, TokenEndpointHttpError } from '../common/token-refresh.errors';
import { type AttemptOutcome, type LockOutcome, REFRESH_ON_UNAUTHORIZED, type RefreshAttemptInfo, type RefreshTelemetry, type TelemetrySource } from './telemetry';

const T0 = Date.UTC(2026, 0, 1);

/** Telemetry that writes down what the engine tells it. */
class RecordingTelemetry implements RefreshTelemetry {
  readonly attempts: Array<{ info: RefreshAttemptInfo; lock: LockOutcome[]; requests: number; outcome?: AttemptOutcome }> = [];
  readonly reauthRequiredFor: string[] = [];
  readonly sources: TelemetrySource[] = [];
  unwatched = 0;

  attempt(info: RefreshAttemptInfo) {
    const record = { info, lock: [] as LockOutcome[], requests: 0, outcome: undefined as AttemptOutcome | undefined };
    this.attempts.push(record);
    return {
      lockWait: () => (outcome: LockOutcome) => record.lock.push(outcome),
      request: <T>(send: () => Promise<T>) => {
        record.requests++;
        return send();
      },
      end: (outcome: AttemptOutcome) => {
        record.outcome = outcome;
      },
    };
  }

  reauthRequired(registration: string): void {
    this.reauthRequiredFor.push(registration);
  }

  watch(source: TelemetrySource) {
    this.sources.push(source);
    return () => {
      this.unwatched++;
    };
  }
}

describe('what the engine tells telemetry', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(T0);
  });
  afterEach(() => vi.useRealTimers());

  it('an attempt per refresh, with its trigger, grant, attempt number, lock wait and outcome', async () => {
    let failures = 1;
    const client = new FakeOAuthClient((_rt, call) => {
      if (failures-- > 0) throw new TokenEndpointHttpError(503);
      return { accessToken: `at-${call}`, refreshToken: `rt-${call}`, expiresIn: 3600 };
    });
    const telemetry = new RecordingTelemetry();
    const { manager } = createTestManager({ client, telemetry, random: () => 0 });
    await manager.start({ accessToken: 'a', refreshToken: 'r', expiresIn: 3600 });
    await manager.forceRefresh().catch(() => undefined);
    await vi.advanceTimersByTimeAsync(1);
    await manager[REFRESH_ON_UNAUTHORIZED]();
    expect(telemetry.attempts.map(({ info, lock, requests, outcome }) => [info.trigger, info.grantType, info.attempt, lock, requests, outcome])).toEqual([
      ['forced', 'refresh_token', 1, ['acquired'], 1, { result: 'failure', code: 'http_error' }],
      ['retry', 'refresh_token', 2, ['acquired'], 1, { result: 'success', source: 'refresh' }],
      ['unauthorized', 'refresh_token', 1, ['acquired'], 1, { result: 'success', source: 'refresh' }],
    ]);
    expect(telemetry.attempts.every(({ info }) => info.distributedLock === false)).toBe(true);
    await manager.stop();
    expect(telemetry.unwatched).toBe(1);
  });

  it('a proactive refresh, an on-access one (lazy keyed), the server\'s error, a lock not acquired, and the reads the gauges see', async () => {
    const telemetry = new RecordingTelemetry();
    const busyLock: RefreshLock = { distributed: true, acquire: async () => null };
    const { manager } = createTestManager({ client: new FakeOAuthClient(), telemetry, lock: busyLock });
    await manager.start({ accessToken: 'a', refreshToken: 'r', expiresIn: 3600 });
    await manager.getAccessToken();
    await vi.advanceTimersByTimeAsync(55 * 60_000);
    expect(telemetry.attempts[0]).toMatchObject({ info: { trigger: 'proactive', distributedLock: true }, lock: ['unavailable'], requests: 0, outcome: { code: 'lock_unavailable' } });
    const source = telemetry.sources[0];
    expect(source).toMatchObject({ registration: 'default', keyed: false });
    expect(source.reads().fresh).toBe(1);
    expect(source.counts()).toMatchObject({ backoff: 1 });
    expect(source.timeUntilExpiry()).toBe(5 * 60_000);
    await manager.stop();

    const server = new GrantServer(3600);
    const keyed = createKeyedTestManager({ client: server, telemetry, options: { refreshMode: 'lazy' } });
    await keyed.manager.start();
    await keyed.manager.set('u', server.login());
    server.revokeGrant('rt-1');
    vi.setSystemTime(Date.now() + 56 * 60_000);
    await keyed.manager.getAccessToken('u');
    await vi.advanceTimersByTimeAsync(0);
    expect(telemetry.attempts.at(-1)).toMatchObject({ info: { trigger: 'on-access', keyed: true }, outcome: { code: 'oauth_error', oauthError: 'invalid_grant' } });
    expect(telemetry.reauthRequiredFor).toEqual(['users']);
    expect(telemetry.sources[1].memory()).toEqual({ keys: 1, evictions: 0 });
    await keyed.manager.stop();
  });
});

describe('revokeRefreshToken', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(T0);
  });
  afterEach(() => vi.useRealTimers());

  it('revokes the single registration\'s refresh token at stop, and a key\'s at delete', async () => {
    const revoked: Array<[string, string | undefined]> = [];
    const client = Object.assign(new FakeOAuthClient(), {
      revoke: async (token: string, options: { key?: string; tokenTypeHint: string }) => {
        revoked.push([token, options.key]);
      },
    });
    const { manager } = createTestManager({ client, options: { revokeRefreshToken: true } });
    await manager.start({ accessToken: 'a', refreshToken: 'rt-single', expiresIn: 3600 });
    await manager.stop();
    const keyed = createKeyedTestManager({ client, options: { revokeRefreshToken: true } });
    await keyed.manager.start();
    await keyed.manager.set('u1', { accessToken: 'a', refreshToken: 'rt-u1', expiresIn: 3600 });
    await keyed.manager.delete('u1');
    await keyed.manager.stop();
    expect(revoked).toEqual([
      ['rt-single', undefined],
      ['rt-u1', 'u1'],
    ]);
  });

  it('a revocation that fails or hangs is reported and does not hold the stop beyond its bound', async () => {
    const client = Object.assign(new FakeOAuthClient(), {
      revoke: () => new Promise<void>(() => undefined),
    });
    const { manager, events } = createTestManager({ client, options: { revokeRefreshToken: true, shutdownTimeout: 1000 } });
    await manager.start({ accessToken: 'a', refreshToken: 'rt', expiresIn: 3600 });
    const t = performance.now();
    const stopped = manager.stop();
    await vi.advanceTimersByTimeAsync(2000);
    await stopped;
    expect(performance.now() - t).toBeLessThanOrEqual(2000);
    expect(events.named(TokenRefreshEvents.REVOKE_FAILED)).toHaveLength(1);

    const failing = Object.assign(new FakeOAuthClient(), {
      revoke: async () => {
        throw new OAuthProtocolError({ error: 'unsupported_token_type', status: 400 });
      },
    });
    const second = createTestManager({ client: failing, options: { revokeRefreshToken: true } });
    await second.manager.start({ accessToken: 'a', refreshToken: 'rt', expiresIn: 3600 });
    await second.manager.stop();
    expect(second.events.named(TokenRefreshEvents.REVOKE_FAILED)).toMatchObject([{ error: { code: 'oauth_error', oauthError: 'unsupported_token_type' } }]);
  });
});
