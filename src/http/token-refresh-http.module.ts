import { HttpService } from '@nestjs/axios';
import { type DynamicModule, Inject, Module, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
// The ESM declarations: the ones @nestjs/axios's HttpService is typed with.
import type { AxiosStatic } from 'axios' with { 'resolution-mode': 'import' };
import { DEFAULT_REGISTRATION_NAME } from '../common/token-refresh.constants';
import { findTokenRefreshService } from '../token-refresh.lookup';
import { type TokenRefreshService } from '../token-refresh.service';
import { type AccessTokenSource, createAuthenticatedAdapter } from './authenticated-adapter';
import { OwnAgents } from './own-agents';
import { getTokenRefreshHttpToken } from './token-refresh-http.constants';
import {
  type TokenRefreshHttpConfig,
  type TokenRefreshHttpModuleAsyncOptions,
  type TokenRefreshHttpModuleOptions,
  validateTokenRefreshHttpConfig,
} from './token-refresh-http.options';

/** Module-private tokens: each registration of this module has its own. */
const HTTP_CONFIG = Symbol('token-refresh-http:config');
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
 * `TokenRefreshHttpModule.register({ baseURL, name?, ...axios config })` provides an
 * @nestjs/axios HttpService, injected with `@InjectTokenRefreshHttp(name?)`, whose requests to
 * baseURL's origin carry `Authorization: <tokenType> <accessToken>` of the named registration.
 * A 401 triggers one refresh, shared by every request that carried the rejected token, and
 * one replay per request. Requests to any other origin (absolute URLs, redirects) never
 * carry the token. Import it beside TokenRefreshModule.forRoot(...).
 *
 * Same-origin requests always get the registration's Authorization (one set by the caller is
 * replaced); a per-request `adapter` replaces the authenticating one, so such requests go out
 * without a token. They use connection pools of their own, closed when the app shuts down.
 */
@Module({})
export class TokenRefreshHttpModule implements OnModuleInit {
  constructor(@Inject(REGISTRATION) private readonly registration: RegistrationRef) {}

  /** Every provider exists by now: a missing registration fails the bootstrap, not the first request. */
  onModuleInit(): void {
    this.registration.get();
  }

  static register(options: TokenRefreshHttpModuleOptions): DynamicModule {
    const { name, global, ...config } = options;
    return TokenRefreshHttpModule.registerAsync({ name, global, useFactory: () => config });
  }

  static registerAsync(options: TokenRefreshHttpModuleAsyncOptions): DynamicModule {
    const name = options.name ?? DEFAULT_REGISTRATION_NAME;
    const token = getTokenRefreshHttpToken(name);
    return {
      module: TokenRefreshHttpModule,
      global: options.global,
      imports: options.imports ?? [],
      providers: [
        { provide: HTTP_CONFIG, useFactory: options.useFactory, inject: options.inject ?? [] },
        { provide: REGISTRATION, useFactory: (moduleRef: ModuleRef) => new RegistrationRef(moduleRef, name), inject: [ModuleRef] },
        {
          provide: CLIENT,
          useFactory: (config: TokenRefreshHttpConfig, registration: RegistrationRef) =>
            new AuthenticatedHttp(config, () => registration.get()),
          inject: [HTTP_CONFIG, REGISTRATION],
        },
        { provide: token, useFactory: (client: AuthenticatedHttp) => client.http, inject: [CLIENT] },
      ],
      exports: [token],
    };
  }
}

/**
 * The axios @nestjs/axios itself loaded (ESM). `require('axios')` from this CommonJS build
 * would load a second copy, whose adapters would receive the first copy's config objects.
 */
let axiosStatic: AxiosStatic | undefined;
function sharedAxios(): AxiosStatic {
  axiosStatic ??= new HttpService().axiosRef as AxiosStatic;
  return axiosStatic;
}

/** The authenticated HttpService and the connection pools it alone uses, closed with the app. */
class AuthenticatedHttp implements OnApplicationShutdown {
  readonly http: HttpService;
  readonly #agents: OwnAgents;

  constructor(config: TokenRefreshHttpConfig, source: () => AccessTokenSource) {
    const { config: checked, allowedOrigin } = validateTokenRefreshHttpConfig(config);
    const axios = sharedAxios();
    const { adapter: configured, redact, ...rest } = checked;
    const baseAdapter = configured ?? axios.defaults.adapter;
    this.#agents = new OwnAgents(rest);
    const instance = axios.create({
      ...rest,
      // AxiosError#toJSON (what loggers serialise) then shows an Authorization as redacted,
      // also one the caller set on a request to another origin (the adapter leaves those alone).
      redact: [...new Set([...(redact ?? []), 'authorization'])],
      adapter: createAuthenticatedAdapter({
        allowedOrigin,
        source,
        agents: this.#agents,
        send: (request) => axios.getAdapter(baseAdapter, request)(request),
      }),
    });
    this.http = new HttpService(instance);
  }

  onApplicationShutdown(): void {
    this.#agents.destroy();
  }
}

/**
 * Builds the authenticated HttpService; exported for apps that wire providers by hand. Nothing
 * closes its pools then: idle connections go after the agent's `timeout` (5 s by default).
 */
export function createTokenRefreshHttpService(config: TokenRefreshHttpConfig, source: () => AccessTokenSource): HttpService {
  return new AuthenticatedHttp(config, source).http;
}
