import { HttpService } from '@nestjs/axios';
import { type OnApplicationShutdown } from '@nestjs/common';
// The ESM declarations: the ones @nestjs/axios's HttpService is typed with.
import type { AxiosStatic } from 'axios' with { 'resolution-mode': 'import' };
import { type AccessTokenSource, createAuthenticatedAdapter } from './authenticated-adapter';
import { OwnAgents } from './own-agents';
import { type TokenRefreshHttpConfig, validateTokenRefreshHttpConfig } from './token-refresh-http.options';

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
export class AuthenticatedHttp implements OnApplicationShutdown {
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
    // @nestjs/axios 12 types axios from its ESM declarations, 4 (Nest 11) from its CommonJS ones:
    // the same axios either way (sharedAxios), so only the declarations differ.
    this.http = new HttpService(instance as ConstructorParameters<typeof HttpService>[0]);
  }

  onApplicationShutdown(): void {
    this.#agents.destroy();
  }
}

/**
 * Builds the authenticated HttpService outside a Nest app. Nothing closes its pools then: idle
 * connections go after the agent's `timeout` (5 s by default).
 */
export function createTokenRefreshHttpService(config: TokenRefreshHttpConfig, source: () => AccessTokenSource): HttpService {
  return new AuthenticatedHttp(config, source).http;
}
