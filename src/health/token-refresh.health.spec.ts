import { Controller, Get, Module } from '@nestjs/common';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { type RefreshStatus } from '../common/interfaces/refresh-status.interface';
import { refreshStatus } from '../../test/support/refresh-status';
import { getTokenRefreshToken } from '../common/token-refresh.constants';
import { TokenRefreshConfigError } from '../common/token-refresh.errors';
import { TokenRefreshHealthModule } from './token-refresh-health.module';
import { TokenRefreshHealthIndicator } from './token-refresh.health';


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
    expect(result.tokens.status).toBe(status);
    expect(result.tokens.state).toBe(main.status.state);
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

  it('through HealthCheckService: 200 when up, 200 "degraded" when degraded, 503 when one is down', async () => {
    const { app, main, crm } = await compile();
    const server = app.getHttpServer();
    const up = await request(server).get('/health').expect(200);
    expect(up.body.status).toBe('ok');
    expect(up.body.details['token-refresh'].status).toBe('up');

    main.status = refreshStatus({ state: 'backoff', consecutiveFailures: 3 });
    const degraded = await request(server).get('/health').expect(200);
    expect(degraded.body.status).toBe('degraded');

    crm.status = refreshStatus({ name: 'crm', timeUntilExpiry: 0 });
    const down = await request(server).get('/health').expect(503);
    expect(down.body.error['crm-token']).toMatchObject({ status: 'down', reason: 'expired' });
  });
});
