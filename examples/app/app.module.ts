import { type DynamicModule, Inject, Injectable, Module, type OnApplicationShutdown } from '@nestjs/common';
import { EventEmitterModule } from '@nestjs/event-emitter';
import { ScheduleModule } from '@nestjs/schedule';
import { TerminusModule } from '@nestjs/terminus';
import { HttpModule } from '@nestjs/axios';
import { InMemoryTokenStore, TokenRefreshHttpModule, TokenRefreshModule } from '../../src';
import { EXAMPLE_CONFIG, type ExampleAppConfig } from './example-config';
import { TokenRefreshHealthModule } from '../../src/health';
import { DemoController } from './demo.controller';
import { HealthController } from './health.controller';
import { MetricsController, PROMETHEUS_EXPORTER } from './metrics';
import { RefreshEventsListener } from './refresh-events.listener';
import { TokenStatusController } from './token-status.controller';
import { UsersController } from './users.controller';

export type { ExampleAppConfig } from './example-config';



@Injectable()
class ShutdownHooks implements OnApplicationShutdown {
  constructor(@Inject(EXAMPLE_CONFIG) private readonly config: ExampleAppConfig) {}

  // On (not before) shutdown: TokenRefreshService stops before, and may still need the servers.
  async onApplicationShutdown(): Promise<void> {
    await this.config.onShutdown?.();
  }
}

@Module({})
export class AppModule {}

/** The example's root module; e2e tests build the same one against servers they start. */
export function createAppModule(config: ExampleAppConfig): DynamicModule {
  const { initialTokens, metrics } = config;
  return {
    module: AppModule,
    imports: [
      // TokenRefreshModule schedules in the app's SchedulerRegistry and emits through its EventEmitter2.
      ScheduleModule.forRoot(),
      EventEmitterModule.forRoot(),
      TerminusModule.forRoot(),
      TokenRefreshHealthModule,
      TokenRefreshModule.forRoot({
        oauth: config.oauth,
        refreshThreshold: 60_000,
        // autoStart reads the store at bootstrap; seeding it stands in for a store that survived a restart.
        tokenStore: new InMemoryTokenStore({
          accessToken: initialTokens.accessToken,
          refreshToken: initialTokens.refreshToken,
          tokenType: initialTokens.tokenType ?? 'Bearer',
          expiresAt: new Date(Date.now() + initialTokens.expiresIn * 1000),
        }),
        autoStart: true,
      }),
      TokenRefreshHttpModule.register({ baseURL: config.apiBaseUrl, timeout: 5_000 }),
      // Many users' tokens: one credential per user, connected through /users/:id/connect.
      TokenRefreshModule.forRoot({ name: 'users', keyed: true, oauth: config.oauth, refreshThreshold: 60_000 }),
      HttpModule,
    ],
    controllers: [TokenStatusController, HealthController, DemoController, UsersController, ...(metrics ? [MetricsController] : [])],
    providers: [
      RefreshEventsListener,
      ShutdownHooks,
      { provide: EXAMPLE_CONFIG, useValue: config },
      ...(metrics ? [{ provide: PROMETHEUS_EXPORTER, useValue: metrics.exporter }] : []),
    ],
  };
}
