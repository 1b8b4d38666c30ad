import { type DynamicModule, Inject, Module, type OnModuleInit } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { DEFAULT_REGISTRATION_NAME } from '../common/token-refresh.constants';
import { findTokenRefreshService } from '../token-refresh.lookup';
import { assertAsyncOptions } from '../token-refresh.options';
import { type TokenRefreshService } from '../token-refresh.service';
import { AuthenticatedHttp } from './authenticated-http';
import { getTokenRefreshHttpToken } from './token-refresh-http.constants';
import {
  ConfigurableTokenRefreshHttpModule,
  TOKEN_REFRESH_HTTP_MODULE_OPTIONS,
  type TokenRefreshHttpModuleAsyncOptions,
  type TokenRefreshHttpModuleOptions,
} from './token-refresh-http.module-definition';
import { rejectGlobal, type TokenRefreshHttpConfig } from './token-refresh-http.options';

/** Module-private tokens: each registration of this module has its own. */
const REGISTRATION = Symbol('token-refresh-http:registration');
const CLIENT = Symbol('token-refresh-http:client');

/**
 * Finds the TokenRefreshModule registration lazily and app-wide (strict: false), so this module
 * works wherever TokenRefreshModule is imported, without it being global.
 */
class RegistrationRef {
  #service: TokenRefreshService | undefined;

  constructor(
    private readonly moduleRef: ModuleRef,
    readonly name: string,
  ) {}

  get(): TokenRefreshService {
    this.#service ??= findTokenRefreshService(
      this.moduleRef,
      this.name,
      'TokenRefreshHttpModule',
      `import TokenRefreshModule.forRoot({ name: '${this.name}', ... })`,
    );
    return this.#service;
  }
}

/**
 * `TokenRefreshHttpModule.register({ baseURL, name?, isGlobal?, ...axios config })` or
 * `registerAsync({ name?, isGlobal?, imports, inject, useFactory | useClass | useExisting })`
 * provides an @nestjs/axios HttpService, injected with `@InjectTokenRefreshHttp(name?)`, whose
 * requests to baseURL's origin carry `Authorization: <tokenType> <accessToken>` of the named
 * registration. A 401 triggers one refresh, shared by every request that carried the rejected
 * token, and one replay per request. Requests to any other origin (absolute URLs, redirects)
 * never carry the token. Import it beside TokenRefreshModule.forRoot(...).
 *
 * Same-origin requests always get the registration's Authorization (one set by the caller is
 * replaced); a per-request `adapter` replaces the authenticating one, so such requests go out
 * without a token. They use connection pools of their own, closed when the app shuts down.
 */
@Module({})
export class TokenRefreshHttpModule extends ConfigurableTokenRefreshHttpModule implements OnModuleInit {
  constructor(@Inject(REGISTRATION) private readonly registration: RegistrationRef) {
    super();
  }

  /** Every provider exists by now: a missing registration fails the bootstrap, not the first request. */
  onModuleInit(): void {
    this.registration.get();
  }

  static register(options: TokenRefreshHttpModuleOptions): DynamicModule {
    return withRegistration(super.register(options), options.name);
  }

  static registerAsync(options: TokenRefreshHttpModuleAsyncOptions): DynamicModule {
    assertAsyncOptions(options, 'TokenRefreshHttpModule.registerAsync');
    rejectGlobal(options);
    return withRegistration(super.registerAsync(options), options.name);
  }
}

function withRegistration(definition: DynamicModule, name = DEFAULT_REGISTRATION_NAME): DynamicModule {
  const token = getTokenRefreshHttpToken(name);
  return {
    ...definition,
    providers: [
      ...(definition.providers ?? []),
      { provide: REGISTRATION, useFactory: (moduleRef: ModuleRef) => new RegistrationRef(moduleRef, name), inject: [ModuleRef] },
      {
        provide: CLIENT,
        useFactory: (config: TokenRefreshHttpConfig, registration: RegistrationRef) =>
          new AuthenticatedHttp(config, () => registration.get()),
        inject: [TOKEN_REFRESH_HTTP_MODULE_OPTIONS, REGISTRATION],
      },
      { provide: token, useFactory: (client: AuthenticatedHttp) => client.http, inject: [CLIENT] },
    ],
    exports: [...(definition.exports ?? []), token],
  };
}
