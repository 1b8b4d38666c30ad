import { HttpService } from '@nestjs/axios';
import { Logger, type Provider, type Type } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { SchedulerRegistry } from '@nestjs/schedule';
import { InMemoryTokenStore } from './core/in-memory-token.store';
import { InMemoryKeyedTokenStore } from './core/keyed-token.stores';
import { InProcessRefreshLock } from './core/in-process-refresh.lock';
import { assertShape, type ResolvedSettings } from './core/options-validation';
import { type OAuthClient } from './common/interfaces/oauth-client.interface';
import { type RefreshLock } from './common/interfaces/refresh-lock.interface';
import { type TokenRefreshModuleOptions, validateModuleOptions } from './token-refresh.options';
import { type KeyedTokenStore } from './common/interfaces/keyed-token-store.interface';
import { type TokenStore } from './common/interfaces/token-store.interface';
import { KeyedTokenRefreshService } from './keyed-token-refresh.service';
import { HttpOAuthClient } from './oauth/http-oauth-client';
import { SchedulerRegistryTimers } from './scheduler-registry.timers';
import { resolveTelemetry } from './token-refresh.telemetry';
import {
  DEFAULT_REGISTRATION_NAME,
  getOAuthClientToken,
  getRefreshLockToken,
  getKeyedTokenRefreshToken,
  getTokenRefreshToken,
  getTokenStoreToken,
} from './common/token-refresh.constants';
import { TOKEN_REFRESH_MODULE_OPTIONS } from './token-refresh.module-definition';
import { TokenRefreshConfigError } from './common/token-refresh.errors';
import { TokenRefreshService } from './token-refresh.service';

/** A value is used as given; a class is built by Nest so it can inject the app's providers. */
async function instantiate<T>(value: T | Type<T>, moduleRef: ModuleRef): Promise<T> {
  return typeof value === 'function' ? moduleRef.create(value as Type<T>) : value;
}

/**
 * The providers of one registration, under its own tokens so registrations never collide.
 * Every factory checks the options first (a cheap, pure check), so whichever Nest builds
 * first, a typo fails the bootstrap with the option's name before anything is built.
 */
export function createRegistrationProviders(name: string, keyed = false): { providers: Provider[]; exports: (string | Type)[] } {
  const clientToken = getOAuthClientToken(name);
  const storeToken = getTokenStoreToken(name);
  const lockToken = getRefreshLockToken(name);
  const serviceToken = keyed ? getKeyedTokenRefreshToken(name) : getTokenRefreshToken(name);
  const serviceClass: Type = keyed ? KeyedTokenRefreshService : TokenRefreshService;
  const isDefault = name === DEFAULT_REGISTRATION_NAME;
  const check = (options: TokenRefreshModuleOptions): ResolvedSettings => validateModuleOptions(options, name);

  const providers: Provider[] = [
    {
      provide: clientToken,
      useFactory: async (options: TokenRefreshModuleOptions, moduleRef: ModuleRef, http: HttpService): Promise<OAuthClient> => {
        check(options);
        return options.oauth
          ? new HttpOAuthClient(options.oauth, http)
          : assertShape<OAuthClient>(await instantiate(options.oauthClient!, moduleRef), 'oauthClient', ['refresh']);
      },
      inject: [TOKEN_REFRESH_MODULE_OPTIONS, ModuleRef, HttpService],
    },
    {
      provide: storeToken,
      useFactory: async (options: TokenRefreshModuleOptions, moduleRef: ModuleRef) => {
        check(options);
        if (options.tokenStore === undefined) return keyed ? new InMemoryKeyedTokenStore() : new InMemoryTokenStore();
        // A keyed store takes the key first; delete() is what tells it apart.
        return assertShape(await instantiate(options.tokenStore, moduleRef), 'tokenStore', keyed ? ['load', 'save', 'delete'] : ['load', 'save']);
      },
      inject: [TOKEN_REFRESH_MODULE_OPTIONS, ModuleRef],
    },
    {
      provide: lockToken,
      useFactory: async (options: TokenRefreshModuleOptions, moduleRef: ModuleRef) => {
        check(options);
        return options.lock === undefined
          ? new InProcessRefreshLock()
          : assertShape<RefreshLock>(await instantiate(options.lock, moduleRef), 'lock', ['acquire']);
      },
      inject: [TOKEN_REFRESH_MODULE_OPTIONS, ModuleRef],
    },
    {
      provide: isDefault ? serviceClass : serviceToken,
      useFactory: (
        options: TokenRefreshModuleOptions,
        client: OAuthClient,
        store: TokenStore & KeyedTokenStore,
        lock: RefreshLock,
        registry: SchedulerRegistry | undefined,
        emitter: EventEmitter2 | undefined,
      ) => {
        const settings = check(options);
        if (!registry) {
          throw new TokenRefreshConfigError(
            'imports',
            'TokenRefreshModule schedules its checks in SchedulerRegistry: add ScheduleModule.forRoot() (from @nestjs/schedule) to your app module imports',
          );
        }
        const deps = {
          settings,
          client,
          store,
          lock,
          timers: new SchedulerRegistryTimers(registry, name),
          events: emitter,
          logger: new Logger(`TokenRefresh:${name}`),
          onRefreshFail: options.onRefreshFail,
          reauthenticate: options.reauthenticate,
          telemetry: resolveTelemetry(options.telemetry),
        };
        return keyed ? new KeyedTokenRefreshService(deps) : new TokenRefreshService(deps);
      },
      inject: [
        TOKEN_REFRESH_MODULE_OPTIONS,
        clientToken,
        storeToken,
        lockToken,
        { token: SchedulerRegistry, optional: true },
        { token: EventEmitter2, optional: true },
      ],
    },
  ];
  const exports: (string | Type)[] = [serviceToken, clientToken, storeToken, lockToken];
  if (isDefault) {
    providers.push({ provide: serviceToken, useExisting: serviceClass });
    exports.push(serviceClass);
  }
  return { providers, exports };
}
