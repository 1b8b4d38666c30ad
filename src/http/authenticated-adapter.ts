import { REFRESH_ON_UNAUTHORIZED } from '../core/telemetry';
import { type AxiosAdapter, type AxiosResponse, type InternalAxiosRequestConfig } from 'axios';
import { authorizationHeader, stripAuthorization } from './authorization-header';
import { type OwnAgents } from './own-agents';
import { isAllowedOrigin, originOf } from './request-origin';
import { decideOnUnauthorized, isReplayableBody, RefreshPerRejectedToken } from './unauthorized-retry';

/** The part of TokenRefreshService the adapter uses. */
export interface AccessTokenSource {
  getAccessToken(): Promise<string>;
  peekAccessToken(): string | undefined;
  getTokens(): { readonly tokenType?: string } | null;
  forceRefresh(): Promise<void>;
  /** forceRefresh, reported as caused by a 401 (TokenRefreshManager has it). */
  [REFRESH_ON_UNAUTHORIZED]?(): Promise<void>;
}

export interface AuthenticatedAdapterOptions {
  /** `new URL(baseURL).origin`: the only origin that ever sees the token. */
  allowedOrigin: string;
  /** Asked on every request, so the registration can be looked up lazily. */
  source: () => AccessTokenSource;
  /** Sends one request for real (axios' http or fetch adapter, or the one configured). */
  send: AxiosAdapter;
  /** The connection pools only requests to `allowedOrigin` use. */
  agents: OwnAgents;
}

type BeforeRedirect = NonNullable<InternalAxiosRequestConfig['beforeRedirect']>;
type Outcome = { ok: true; response: AxiosResponse } | { ok: false; error: unknown };

/**
 * An axios adapter that authenticates requests to one origin. It sits where the request is
 * finally sent, after every interceptor and transform, so it sees the URL that is really used
 * and can replay the exact same request. On a 401 it refreshes at most once per rejected
 * token (shared by every request that carried it) and replays each request once; the answer
 * to the replay goes back to the caller whatever it is. The token a refresh produced is not
 * refreshed again on a 401 until the API has accepted it once (see RefreshPerRejectedToken).
 * Once settled, the response or error handed back no longer carries the token (see forgetToken).
 * Its requests use their own connection pools, so no other request reaches them (see OwnAgents).
 */
export function createAuthenticatedAdapter(options: AuthenticatedAdapterOptions): AxiosAdapter {
  const { allowedOrigin, send, agents } = options;
  const refresher = new RefreshPerRejectedToken(async () => {
    const source = options.source();
    await (source[REFRESH_ON_UNAUTHORIZED] ? source[REFRESH_ON_UNAUTHORIZED]() : source.forceRefresh());
    return source.peekAccessToken();
  });

  return async (config: InternalAxiosRequestConfig): Promise<AxiosResponse> => {
    if (!isAllowedOrigin(allowedOrigin, config)) return send(config);
    agents.check(config);

    const source = options.source();
    // Rejects with the typed error (expired, reauth required): better than sending no token.
    const tokenSent = await source.getAccessToken();
    config.beforeRedirect = keepTokenOnOrigin(allowedOrigin, config.beforeRedirect);

    const first = await sendWith(send, agents, config, authorizationHeader(source.getTokens()?.tokenType, tokenSent));
    noteAccepted(refresher, tokenSent, first);
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
    const replay = await sendWith(send, agents, config, authorizationHeader(source.getTokens()?.tokenType, tokenNext));
    noteAccepted(refresher, tokenNext, replay);
    return unwrap(replay);
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

/** Sends `config` with this Authorization on our own pools and settles; the token is gone from the outcome. */
async function sendWith(
  send: AxiosAdapter,
  agents: OwnAgents,
  config: InternalAxiosRequestConfig,
  authorization: string,
): Promise<Outcome> {
  // The config outlives the request (response.config, a caller's replay): it gets the app's agents back.
  const restoreAgents = agents.assign(config);
  config.headers.set('Authorization', authorization);
  let outcome: Outcome;
  try {
    outcome = { ok: true, response: await send(config) };
  } catch (error) {
    outcome = { ok: false, error };
  }
  restoreAgents();
  forgetToken(config, outcome);
  return outcome;
}

/**
 * `redact` only covers AxiosError#toJSON; logging the error (util.inspect) shows the config and the raw
 * request. So once a request has settled, the config (shared by the response and the error)
 * loses its Authorization (a replay sets it again), and the raw request, whose `_header` holds
 * the header line as sent, stays reachable (`if (error.request)` still works) but is no longer
 * enumerable: neither util.inspect nor JSON.stringify shows it.
 */
function forgetToken(config: InternalAxiosRequestConfig, outcome: Outcome): void {
  config.headers.delete('Authorization');
  if (outcome.ok) {
    hideRequest(outcome.response);
  } else {
    hideRequest(outcome.error);
    hideRequest((outcome.error as { response?: unknown } | null)?.response);
  }
}

function hideRequest(holder: unknown): void {
  if (holder === null || typeof holder !== 'object') return;
  if (Object.getOwnPropertyDescriptor(holder, 'request')?.configurable) {
    Object.defineProperty(holder, 'request', { enumerable: false });
  }
}

/** Any answer but a 401 (none at all proves nothing) shows the server accepts the token. */
function noteAccepted(refresher: RefreshPerRejectedToken, token: string, outcome: Outcome): void {
  const status = statusOf(outcome);
  if (status !== undefined && status !== 401) refresher.accepted(token);
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
