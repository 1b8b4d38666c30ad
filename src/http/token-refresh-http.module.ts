import { HttpService } from '@nestjs/axios';
import { type DynamicModule, Inject, Module, type OnModuleInit } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
// The ESM declarations: the ones @nestjs/axios's HttpService is typed with.
import type { AxiosStatic } from 'axios' with { 'resolution-mode': 'import' };
import { DEFAULT_REGISTRATION_NAME } from '../token-refresh.constants';
import { findTokenRefreshService } from '../token-refresh.lookup';
import { type TokenRefreshService } from '../token-refresh.service';
import { type AccessTokenSource, createAuthenticatedAdapter } from './authenticated-adapter';
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
 * without a token.
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
          provide: token,
          useFactory: (config: TokenRefreshHttpConfig, registration: RegistrationRef) =>
            createTokenRefreshHttpService(config, () => registration.get()),
          inject: [HTTP_CONFIG, REGISTRATION],
        },
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

/** Builds the authenticated HttpService; exported for apps that wire providers by hand. */
export function createTokenRefreshHttpService(config: TokenRefreshHttpConfig, source: () => AccessTokenSource): HttpService {
  const { config: checked, allowedOrigin } = validateTokenRefreshHttpConfig(config);
  const axios = sharedAxios();
  const { adapter: configured, redact, ...rest } = checked;
  const baseAdapter = configured ?? axios.defaults.adapter;
  const instance = axios.create({
    ...rest,
    // AxiosError#toJSON (what loggers serialise) then shows an Authorization as redacted,
    // also one the caller set on a request to another origin (the adapter leaves those alone).
    redact: [...new Set([...(redact ?? []), 'authorization'])],
    adapter: createAuthenticatedAdapter({
      allowedOrigin,
      source,
      send: (request) => axios.getAdapter(baseAdapter, request)(request),
    }),
  });
  // @nestjs/axios 12 types axios from its ESM declarations, 4 (Nest 11) from its CommonJS ones:
  // the same axios either way (sharedAxios), so only the declarations differ.
  return new HttpService(instance as ConstructorParameters<typeof HttpService>[0]);
}
