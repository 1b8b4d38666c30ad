import { type HttpModuleOptions } from '@nestjs/axios';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { isLoopbackHost } from '../oauth/http-oauth-client.options';
import { TokenRefreshConfigError } from '../common/token-refresh.errors';

/** axios settings for the authenticated client; `baseURL` is required and names the one origin that gets the token. */
export type TokenRefreshHttpConfig = Omit<HttpModuleOptions, 'baseURL' | 'global' | 'httpAgent' | 'httpsAgent'> & {
  /** https, or http on a loopback host only (RFC 6750 section 5.3: bearer tokens need TLS). */
  baseURL: string;
  /**
   * A plain `new http.Agent(...)`. Requests to baseURL's origin use a pool of the module's own built
   * with the same options (a pooled socket keeps the last request and its Authorization); this
   * agent serves every other origin.
   */
  httpAgent?: HttpAgent;
  /** A plain `new https.Agent(...)` (TLS settings such as `ca`, `cert`, `key`), used as `httpAgent` is. */
  httpsAgent?: HttpsAgent;
};

export interface ValidatedHttpConfig {
  config: TokenRefreshHttpConfig;
  /** `new URL(baseURL).origin`. */
  allowedOrigin: string;
}

/**
 * Checks what would let the token go somewhere it should not: a missing or insecure baseURL,
 * an Authorization of the caller's own (it would be sent to every other origin), or an agent
 * whose pool the module cannot rebuild as its own (a subclass such as a proxy agent).
 * Messages never echo values: a URL's query or a header could hold a secret.
 */
export function validateTokenRefreshHttpConfig(config: TokenRefreshHttpConfig): ValidatedHttpConfig {
  const fail = (option: string, message: string): never => {
    throw new TokenRefreshConfigError(option, `TokenRefreshHttpModule ${option} ${message}`);
  };
  if (typeof config !== 'object' || config === null) return fail('options', 'must be an object');
  rejectGlobal(config);
  const { baseURL } = config;
  if (typeof baseURL !== 'string' || baseURL.trim() === '') return fail('baseURL', 'must be a non-empty URL string');
  let url: URL;
  try {
    url = new URL(baseURL);
  } catch {
    return fail('baseURL', 'is not a valid absolute URL');
  }
  if (url.username || url.password) fail('baseURL', 'must not contain credentials');
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
    fail('baseURL', `must use https (http is allowed only on a loopback host, got ${url.protocol}//${url.hostname})`);
  }
  if (hasAuthorization(config.headers)) fail('headers', 'must not set Authorization: it is set per request from the token');
  if (config.auth !== undefined) fail('auth', 'must not be set: Authorization is set per request from the token');
  for (const [option, type, kind] of [
    ['httpAgent', HttpAgent, 'http.Agent'],
    ['httpsAgent', HttpsAgent, 'https.Agent'],
  ] as const) {
    const agent: unknown = config[option];
    if (agent !== undefined && (agent === null || Object.getPrototypeOf(agent) !== type.prototype)) {
      fail(
        option,
        `must be a plain ${kind}: its options are copied into a pool only the token's requests use, ` +
          `and an agent of another kind cannot be copied (for a proxy use axios' \`proxy\` option)`,
      );
    }
  }
  return { config, allowedOrigin: url.origin };
}

/**
 * `global` is @nestjs/axios HttpModule's switch, not an axios setting: axios would ignore it and
 * the HttpService would silently stay local to the module.
 */
export function rejectGlobal(options: object): void {
  if (Object.hasOwn(options, 'global')) {
    throw new TokenRefreshConfigError('global', 'TokenRefreshHttpModule global is not an option: use isGlobal');
  }
}

/** Top level and the per-method buckets (`common`, `get`, ...) axios merges in. */
function hasAuthorization(headers: unknown, depth = 0): boolean {
  if (typeof headers !== 'object' || headers === null) return false;
  return Object.entries(headers).some(
    ([key, value]) => key.toLowerCase() === 'authorization' || (depth === 0 && hasAuthorization(value, 1)),
  );
}
