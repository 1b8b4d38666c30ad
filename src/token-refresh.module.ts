import { HttpModule } from '@nestjs/axios';
import { type DynamicModule, Module } from '@nestjs/common';
import { DEFAULT_REGISTRATION_NAME } from './common/token-refresh.constants';
import {
  ConfigurableTokenRefreshModule,
  type TokenRefreshModuleAsyncOptions,
  type TokenRefreshModuleRootOptions,
} from './token-refresh.module-definition';
import { assertAsyncOptions } from './token-refresh.options';
import { createRegistrationProviders } from './token-refresh.providers';

/**
 * `TokenRefreshModule.forRoot({ oauth: {...} })` or `forRootAsync({ name, imports, inject, useFactory })`.
 * Each call is one registration: its own client, store, lock, schedule and service.
 * The app imports ScheduleModule.forRoot() (checks live in its SchedulerRegistry; a second
 * ScheduleModule here would give the app a registry that cannot see them), and
 * EventEmitterModule.forRoot() to receive events.
 */
@Module({})
export class TokenRefreshModule extends ConfigurableTokenRefreshModule {
  static forRoot(options: TokenRefreshModuleRootOptions): DynamicModule {
    return withRegistration(super.forRoot(options), options.name, options.keyed);
  }

  static forRootAsync(options: TokenRefreshModuleAsyncOptions): DynamicModule {
    assertAsyncOptions(options, 'TokenRefreshModule.forRootAsync');
    return withRegistration(super.forRootAsync(options), options.name, options.keyed);
  }
}

function withRegistration(definition: DynamicModule, name = DEFAULT_REGISTRATION_NAME, keyed = false): DynamicModule {
  const { providers, exports } = createRegistrationProviders(name, keyed);
  return {
    ...definition,
    imports: [...(definition.imports ?? []), HttpModule.register({})],
    providers: [...(definition.providers ?? []), ...providers],
    exports: [...(definition.exports ?? []), ...exports],
  };
}
