import { Controller, Get, Module } from '@nestjs/common';
import { HealthCheck, HealthCheckService, HealthIndicatorService, TerminusModule } from '@nestjs/terminus';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { type RefreshStatus } from '../common/interfaces/refresh-status.interface';
import { refreshStatus } from '../../test/support/refresh-status';
import { getTokenRefreshToken } from '../common/token-refresh.constants';
import { TokenRefreshConfigError } from '../common/token-refresh.errors';
import { TokenRefreshHealthModule } from './token-refresh-health.module';
import { type HealthSessionLike, TokenRefreshHealthIndicator } from './token-refresh.health';

/** Terminus 12 has a degraded status; 11 (the other supported major) has only up and down. */
const probe: HealthSessionLike<'probe'> = new HealthIndicatorService().check('probe');
const TERMINUS_HAS_DEGRADED = typeof probe.degraded === 'function';

/** Stands in for TokenRefreshService: the indicator reads getRefreshStatus() and nothing else. */
class FakeService {
  status: RefreshStatus = refreshStatus();
  getRefreshStatus(): RefreshStatus {
    return this.status;
  }
}

/** A registration's service under its token, in a module that is neither global nor imported by the indicator's. */
@Module({
  providers: [
    { provide: getTokenRefreshToken(), useFactory: () => new FakeService() },
    { provide: getTokenRefreshToken('crm'), useFactory: () => new FakeService() },
  ],
})
class FakeRegistrations {}

@Controller('health')
class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly tokens: TokenRefreshHealthIndicator,
  ) {}
  @Get()
  @HealthCheck()
  check() {
    return this.health.check([() => this.tokens.isHealthy(), () => this.tokens.isHealthy('crm-token', { name: 'crm' })]);
  }
}

describe('TokenRefreshHealthIndicator', () => {
  const closers: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    while (closers.length) await closers.pop()!();
  });

  async function compile() {
    const moduleRef = await Test.createTestingModule({
      imports: [TerminusModule.forRoot({ logger: false }), TokenRefreshHealthModule, FakeRegistrations],
      controllers: [HealthController],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    closers.push(() => app.close());
    await app.init();
    const service = (name?: string) => app.get<FakeService>(getTokenRefreshToken(name), { strict: false });
    return { app, indicator: app.get(TokenRefreshHealthIndicator), main: service(), crm: service('crm') };
  }

  it.each([
    [{}, 'up'],
    [{ state: 'backoff', consecutiveFailures: 1 }, 'degraded'],
    [{ timeUntilExpiry: 0 }, 'down'],
    [{ state: 'stopped', isRunning: false }, 'down'],
    [{ state: 'reauth-required', consecutiveFailures: 1 }, 'down'],
  ] as const)('maps %o to %s under the given key', async (overrides, status) => {
    const { indicator, main } = await compile();
    main.status = refreshStatus(overrides as Partial<RefreshStatus>);
    const result = await indicator.isHealthy('tokens');
    expect(Object.keys(result)).toEqual(['tokens']);
    if (status === 'degraded' && !TERMINUS_HAS_DEGRADED) {
      expect(result.tokens).toMatchObject({ status: 'up', degraded: true, reason: 'refresh-failing' });
    } else {
      expect(result.tokens.status).toBe(status);
      expect(result.tokens.degraded).toBeUndefined();
    }
    expect(result.tokens.state).toBe(main.status.state);
  });

  it.each([
    ['terminus 12 (with degraded)', true],
    ['terminus 11 (up and down only)', false],
  ])('on %s, a failing refresh with a valid token is reported as well as terminus can', async (_label, hasDegraded) => {
    const calls: string[] = [];
    const session = (method: string) => (data: object) => {
      calls.push(method);
      return { k: { ...data, status: method } };
    };
    const fakeTerminus = {
      check: () => ({ up: session('up'), down: session('down'), ...(hasDegraded ? { degraded: session('degraded') } : {}) }),
    };
    const service = new FakeService();
    service.status = refreshStatus({ state: 'backoff', consecutiveFailures: 2 });
    const moduleRef = { get: () => service };
    const indicator = new TokenRefreshHealthIndicator(fakeTerminus as never, moduleRef as never);
    const result = await indicator.isHealthy('k');
    if (hasDegraded) {
      expect(calls).toEqual(['degraded']);
      expect(result.k).toMatchObject({ status: 'degraded', reason: 'refresh-failing', consecutiveFailures: 2 });
      expect(result.k.degraded).toBeUndefined();
    } else {
      expect(calls).toEqual(['up']);
      expect(result.k).toMatchObject({ status: 'up', degraded: true, reason: 'refresh-failing', consecutiveFailures: 2 });
    }
  });

  it('checks the named registration', async () => {
    const { indicator, crm } = await compile();
    crm.status = refreshStatus({ name: 'crm', state: 'reauth-required' });
    const result = await indicator.isHealthy('crm-token', { name: 'crm' });
    expect(result['crm-token']).toMatchObject({ status: 'down', name: 'crm', reason: 'reauth-required' });
  });

  it('an unknown registration name is a configuration error, not a down', async () => {
    const { indicator } = await compile();
    const error = await indicator.isHealthy('x', { name: 'nope' }).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(TokenRefreshConfigError);
    expect((error as TokenRefreshConfigError).option).toBe('name');
    expect((error as Error).message).toBe('TokenRefreshHealthIndicator: no TokenRefreshModule registration named "nope"');
  });

  it('through HealthCheckService: 200 when up, 200 when degraded ("degraded" on terminus 12), 503 when one is down', async () => {
    const { app, main, crm } = await compile();
    const server = app.getHttpServer();
    const up = await request(server).get('/health').expect(200);
    expect(up.body.status).toBe('ok');
    expect(up.body.details['token-refresh'].status).toBe('up');

    main.status = refreshStatus({ state: 'backoff', consecutiveFailures: 3 });
    const degraded = await request(server).get('/health').expect(200);
    expect(degraded.body.status).toBe(TERMINUS_HAS_DEGRADED ? 'degraded' : 'ok');
    expect(degraded.body.details['token-refresh']).toMatchObject(
      TERMINUS_HAS_DEGRADED ? { status: 'degraded', reason: 'refresh-failing' } : { status: 'up', degraded: true, reason: 'refresh-failing' },
    );

    crm.status = refreshStatus({ name: 'crm', timeUntilExpiry: 0 });
    const down = await request(server).get('/health').expect(503);
    expect(down.body.error['crm-token']).toMatchObject({ status: 'down', reason: 'expired' });
  });
});
