import { isPlainObject } from '../core/guards';
import { checkDuration } from '../core/durations';
import { TokenRefreshConfigError } from '../common/token-refresh.errors';

export const DEFAULT_HTTP_OAUTH_TIMEOUT = 10_000;

export type ClientAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'none';

/** Settings for the built-in RFC 6749 client (HttpOAuthClient): the `oauth` option. */
export interface HttpOAuthClientOptions {
  /** https, or http on a loopback host only. */
  tokenEndpoint: string;
  clientId: string;
  clientSecret?: string;
  /** Default `client_secret_basic` (RFC 6749 section 2.3.1), or `none` when no secret is given. */
  authMethod?: ClientAuthMethod;
  /** Sent as `scope` with every refresh. */
  scope?: string;
  /** Request timeout in ms. Default 10000. */
  timeout?: number;
  /** Extra form fields, e.g. `{ audience: '...' }` for Auth0. */
  extraParams?: Record<string, string>;
}
const AUTH_METHODS: readonly ClientAuthMethod[] = ['client_secret_basic', 'client_secret_post', 'none'];

/** Form fields the client owns; extraParams may not replace them. */
const RESERVED_PARAMS: readonly string[] = ['grant_type', 'refresh_token', 'client_id', 'client_secret', 'scope'];

/** HttpOAuthClientOptions after validation, with every default applied. Frozen. */
export interface NormalizedHttpOAuthClientOptions {
  /** Serialised URL (`new URL(...).href`). */
  readonly tokenEndpoint: string;
  readonly clientId: string;
  /** Present exactly when authMethod is not `none`. */
  readonly clientSecret?: string;
  readonly authMethod: ClientAuthMethod;
  readonly scope?: string;
  readonly timeout: number;
  readonly extraParams: Readonly<Record<string, string>>;
}

/**
 * Checks HttpOAuthClientOptions and applies defaults. Throws TokenRefreshConfigError naming the
 * option (`${path}.tokenEndpoint`, ...). Messages never repeat option values: the secret could
 * be anywhere, even pasted into the wrong field.
 */
export function validateHttpOAuthClientOptions(
  options: HttpOAuthClientOptions,
  path = 'oauth',
): NormalizedHttpOAuthClientOptions {
  if (!isPlainObject(options)) {
    throw new TokenRefreshConfigError(path, `${path} must be an object`);
  }
  const opt = (name: string): string => `${path}.${name}`;
  const fail = (name: string, message: string): never => {
    throw new TokenRefreshConfigError(opt(name), `${opt(name)} ${message}`);
  };

  const tokenEndpoint = validateEndpoint(options.tokenEndpoint, (m) => fail('tokenEndpoint', m));

  if (typeof options.clientId !== 'string' || options.clientId.trim() === '') {
    fail('clientId', 'must be a non-empty string');
  }
  const clientId = options.clientId;

  const clientSecret = options.clientSecret;
  if (clientSecret !== undefined && (typeof clientSecret !== 'string' || clientSecret === '')) {
    fail('clientSecret', 'must be a non-empty string when given');
  }

  const authMethod: ClientAuthMethod =
    options.authMethod ?? (clientSecret !== undefined ? 'client_secret_basic' : 'none');
  if (!AUTH_METHODS.includes(authMethod)) {
    fail('authMethod', `must be one of ${AUTH_METHODS.join(', ')}`);
  }
  if (authMethod !== 'none' && clientSecret === undefined) {
    fail('clientSecret', `is required with authMethod ${authMethod}`);
  }
  if (authMethod === 'none' && clientSecret !== undefined) {
    // Silently not sending a configured secret would hide a misconfiguration until the server says invalid_client.
    fail('clientSecret', 'is set but authMethod is none; remove it or use client_secret_basic or client_secret_post');
  }

  if (options.scope !== undefined && (typeof options.scope !== 'string' || options.scope.trim() === '')) {
    fail('scope', 'must be a non-empty string when given');
  }

  const timeout = checkDuration(options.timeout, opt('timeout'), { fallback: DEFAULT_HTTP_OAUTH_TIMEOUT });

  const extraParams: Record<string, string> = {};
  if (options.extraParams !== undefined) {
    if (!isPlainObject(options.extraParams)) fail('extraParams', 'must be an object of strings');
    for (const [key, value] of Object.entries(options.extraParams)) {
      if (RESERVED_PARAMS.includes(key)) {
        fail(
          `extraParams.${key}`,
          key === 'scope' ? 'is not allowed; use the scope option' : 'is set by the client and may not be overridden',
        );
      }
      if (typeof value !== 'string') fail(`extraParams.${key}`, 'must be a string');
      extraParams[key] = value;
    }
  }

  return Object.freeze({
    tokenEndpoint,
    clientId,
    ...(authMethod !== 'none' ? { clientSecret } : {}),
    authMethod,
    ...(options.scope !== undefined ? { scope: options.scope } : {}),
    timeout,
    extraParams: Object.freeze(extraParams),
  });
}

function validateEndpoint(value: unknown, fail: (message: string) => never): string {
  if (typeof value !== 'string' || value.trim() === '') return fail('must be a non-empty URL string');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return fail('is not a valid absolute URL');
  }
  if (url.username || url.password) {
    return fail('must not contain credentials; use clientId and clientSecret');
  }
  // RFC 6749 section 3.2: the endpoint URI must not include a fragment.
  if (url.hash) return fail('must not contain a fragment (#...)');
  if (url.protocol === 'https:') return url.href;
  if (url.protocol === 'http:') {
    if (isLoopbackHost(url.hostname)) return url.href;
    // Only the host is echoed: the URL's query could hold something sensitive.
    return fail(`must use https (http is allowed only on a loopback host, got host ${url.hostname})`);
  }
  return fail('must use https');
}

/** `localhost`, 127.0.0.0/8 or [::1]. URL has already normalised forms such as `127.1` or `[0:0::1]`. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase();
  if (host === 'localhost' || host === '[::1]') return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

