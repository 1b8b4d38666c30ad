import { type AxiosAdapter, type AxiosResponse, type InternalAxiosRequestConfig } from 'axios';
import { authorizationHeader, stripAuthorization } from './authorization-header';
import { isAllowedOrigin, originOf } from './request-origin';
import { decideOnUnauthorized, isReplayableBody, RefreshPerRejectedToken } from './unauthorized-retry';

/** The part of TokenRefreshService the adapter uses. */
export interface AccessTokenSource {
  getAccessToken(): Promise<string>;
  peekAccessToken(): string | undefined;
  getTokens(): { readonly tokenType?: string } | null;
  forceRefresh(): Promise<void>;
}

export interface AuthenticatedAdapterOptions {
  /** `new URL(baseURL).origin`: the only origin that ever sees the token. */
  allowedOrigin: string;
  /** Asked on every request, so the registration can be looked up lazily. */
  source: () => AccessTokenSource;
  /** Sends one request for real (axios' http or fetch adapter, or the one configured). */
  send: AxiosAdapter;
}

type BeforeRedirect = NonNullable<InternalAxiosRequestConfig['beforeRedirect']>;
type Outcome = { ok: true; response: AxiosResponse } | { ok: false; error: unknown };

/**
 * An axios adapter that authenticates requests to one origin. It sits where the request is
 * finally sent, after every interceptor and transform, so it sees the URL that is really used
 * and can replay the exact same request. On a 401 it refreshes at most once per rejected
 * token (shared by every request that carried it) and replays each request once; the answer
 * to the replay goes back to the caller whatever it is.
 */
export function createAuthenticatedAdapter(options: AuthenticatedAdapterOptions): AxiosAdapter {
  const { allowedOrigin, send } = options;
  const refresher = new RefreshPerRejectedToken(() => options.source().forceRefresh());

  return async (config: InternalAxiosRequestConfig): Promise<AxiosResponse> => {
    if (!isAllowedOrigin(allowedOrigin, config)) return send(config);

    const source = options.source();
    // Rejects with the typed error (expired, reauth required): better than sending no token.
    const tokenSent = await source.getAccessToken();
    config.headers.set('Authorization', authorizationHeader(source.getTokens()?.tokenType, tokenSent));
    config.beforeRedirect = keepTokenOnOrigin(allowedOrigin, config.beforeRedirect);

    const first = await settle(send(config));
    const action = decideOnUnauthorized({
      status: statusOf(first),
      replayable: isReplayableBody(config.data),
      tokenSent,
      tokenNow: source.peekAccessToken(),
    });
    if (action === 'return') return unwrap(first);
    if (action === 'refresh' && !(await refresher.refreshFor(tokenSent))) return unwrap(first);

    let tokenNext: string;
    try {
      tokenNext = await source.getAccessToken();
    } catch {
      return unwrap(first);
    }
    if (tokenNext === tokenSent) return unwrap(first);
    config.headers.set('Authorization', authorizationHeader(source.getTokens()?.tokenType, tokenNext));
    return send(config);
  };
}

/**
 * follow-redirects keeps Authorization on a redirect to a subdomain; we keep it only on the
 * configured origin. Runs before the caller's own hook, which may add headers of its own.
 */
export function keepTokenOnOrigin(allowedOrigin: string, next: BeforeRedirect | undefined): BeforeRedirect {
  return (redirectOptions, responseDetails, requestDetails) => {
    if (originOf(redirectOptions.href as string | undefined) !== allowedOrigin) {
      stripAuthorization(redirectOptions.headers as Record<string, unknown> | undefined);
    }
    next?.(redirectOptions, responseDetails, requestDetails);
  };
}

async function settle(promise: Promise<AxiosResponse>): Promise<Outcome> {
  try {
    return { ok: true, response: await promise };
  } catch (error) {
    return { ok: false, error };
  }
}

/** A response rejected by validateStatus arrives as an error that still carries it. */
function statusOf(outcome: Outcome): number | undefined {
  if (outcome.ok) return outcome.response.status;
  const status = (outcome.error as { response?: { status?: unknown } } | null)?.response?.status;
  return typeof status === 'number' ? status : undefined;
}

function unwrap(outcome: Outcome): AxiosResponse {
  if (outcome.ok) return outcome.response;
  throw outcome.error;
}
