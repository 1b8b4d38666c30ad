import { HttpService } from '@nestjs/axios';
import { Body, Controller, Get, HttpCode, Module, Post } from '@nestjs/common';
import { EventEmitterModule } from '@nestjs/event-emitter';
import { ScheduleModule } from '@nestjs/schedule';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { firstValueFrom } from 'rxjs';
import {
  InjectTokenRefreshHttp,
  TokenRefreshHttpModule,
  TokenRefreshModule,
  TokenRefreshService,
  type TokenPair,
} from 'nestjs-token-refresh';
import { TokenRefreshHealthIndicator, TokenRefreshHealthModule } from 'nestjs-token-refresh/health';

/**
 * The app the package test installs the tarball into (once on Nest 11, once on Nest 12): the
 * same source, compiled with the classic Nest tsconfig ("module": "commonjs").
 */
@Controller()
export class FixtureController {
  constructor(
    private readonly tokens: TokenRefreshService,
    private readonly health: HealthCheckService,
    private readonly tokenHealth: TokenRefreshHealthIndicator,
    @InjectTokenRefreshHttp() private readonly api: HttpService,
  ) {}

  /** Stands in for a login callback: the first pair comes from the authorization code exchange. */
  @Post('login')
  @HttpCode(204)
  async login(@Body() tokens: TokenPair): Promise<void> {
    await this.tokens.start(tokens);
  }

  @Post('refresh')
  async refresh(): Promise<{ ok: boolean; code?: string; oauthError?: string }> {
    try {
      await this.tokens.forceRefresh();
      return { ok: true };
    } catch (error) {
      // Our code is fixed (oauth_error); what the server said is in the error's own field.
      const { code, error: oauthError } = error as { code?: string; error?: string };
      return { ok: false, code, oauthError };
    }
  }

  @Get('status')
  status() {
    return this.tokens.getRefreshStatus();
  }

  @Get('health')
  @HealthCheck()
  check() {
    return this.health.check([() => this.tokenHealth.isHealthy()]);
  }

  @Get('call')
  async call(): Promise<unknown> {
    const response = await firstValueFrom(this.api.get('/data'));
    return response.data;
  }
}

export function createAppModule(env: { tokenEndpoint: string; apiBaseUrl: string }) {
  @Module({
    imports: [
      ScheduleModule.forRoot(),
      EventEmitterModule.forRoot(),
      TerminusModule.forRoot({ logger: false }),
      TokenRefreshHealthModule,
      TokenRefreshModule.forRoot({
        oauth: { tokenEndpoint: env.tokenEndpoint, clientId: 'fixture-client', clientSecret: 'fixture-secret' },
        // One failure is enough to show degraded: the test drives retries itself.
        retry: { initialDelay: 60_000, maxDelay: 60_000 },
      }),
      TokenRefreshHttpModule.register({ baseURL: env.apiBaseUrl }),
    ],
    controllers: [FixtureController],
  })
  class AppModule {}
  return AppModule;
}
