import { type HttpService } from '@nestjs/axios';
import { type AxiosResponse } from 'axios';
import { safeIdentifier } from '../core/error-classification';
import { formEncode, Redacted } from '../core/redaction';
import { type OAuthClient, type RefreshRequestOptions, type TokenResponse } from '../common/interfaces/oauth-client.interface';
import {
  InvalidTokenResponseError,
  MissingRefreshTokenError,
  RefreshAbortedError,
  TokenEndpointNetworkError,
  TokenEndpointTimeoutError,
  type TokenRefreshError,
} from '../common/token-refresh.errors';
import { type ClientAuthMethod, type HttpOAuthClientOptions, validateHttpOAuthClientOptions } from './http-oauth-client.options';
import { parseTokenResponse } from './token-response.parser';

/** Largest response (and request) body accepted: a token response is a few KiB at most. */
export const MAX_TOKEN_RESPONSE_BYTES = 1024 * 1024;

/** What inspect and JSON show of a client: never the secret. */
export interface HttpOAuthClientDescription {
  tokenEndpoint: string;
  clientId: string;
  authMethod: ClientAuthMethod;
}

/**
 * RFC 6749 section 6 refresh over @nestjs/axios. Every outcome is a typed error from
 * token-refresh.errors; axios errors are never rethrown or attached as `cause`, because they
 * carry the request config: the form body with the refresh token and the Authorization header.
 */
export class HttpOAuthClient extends Redacted implements OAuthClient {
  readonly tokenEndpoint: string;
  readonly clientId: string;
  readonly authMethod: ClientAuthMethod;
  // Private fields stay out of util.inspect, JSON.stringify, Object.keys and spreads.
  readonly #clientSecret: string | undefined;
  readonly #scope: string | undefined;
  readonly #timeout: number;
  readonly #extraParams: Readonly<Record<string, string>>;
  readonly #http: HttpService;

  constructor(options: HttpOAuthClientOptions, http: HttpService) {
    super();
    const normalized = validateHttpOAuthClientOptions(options);
    this.tokenEndpoint = normalized.tokenEndpoint;
    this.clientId = normalized.clientId;
    this.authMethod = normalized.authMethod;
    this.#clientSecret = normalized.clientSecret;
    this.#scope = normalized.scope;
    this.#timeout = normalized.timeout;
    this.#extraParams = normalized.extraParams;
    this.#http = http;
  }

  async refresh(refreshToken: string, options: RefreshRequestOptions): Promise<TokenResponse> {
    if (typeof refreshToken !== 'string' || refreshToken === '') throw new MissingRefreshTokenError();
    const callerSignal = options?.signal;
    if (callerSignal?.aborted) throw new RefreshAbortedError();

    // One controller for both the caller's abort and our overall deadline. axios' own `timeout`
    // is only a socket-idle timer, so a server trickling bytes would otherwise never time out.
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, this.#timeout);
    const onCallerAbort = (): void => controller.abort();
    callerSignal?.addEventListener('abort', onCallerAbort, { once: true });

    let response: AxiosResponse<unknown>;
    try {
      response = await this.#http.axiosRef.request<unknown>({
        url: this.tokenEndpoint,
        method: 'POST',
        headers: this.#headers(),
        data: this.#body(refreshToken),
        signal: controller.signal,
        // Also set per request so an instance default cannot shorten or disable it.
        timeout: this.#timeout,
        maxRedirects: 0,
        maxContentLength: MAX_TOKEN_RESPONSE_BYTES,
        maxBodyLength: MAX_TOKEN_RESPONSE_BYTES,
        responseType: 'text',
        responseEncoding: 'utf8',
        // We parse and classify every status ourselves; instance transforms must not interfere.
        transformRequest: [(data: unknown) => data],
        transformResponse: [(data: unknown) => data],
        validateStatus: () => true,
      });
    } catch (error) {
      throw this.#classify(error, callerSignal, timedOut);
    } finally {
      clearTimeout(timer);
      callerSignal?.removeEventListener('abort', onCallerAbort);
    }

    return parseTokenResponse(
      response.status,
      response.headers as Record<string, unknown>,
      bodyText(response.data),
      Date.now(),
      { redact: [refreshToken, this.#clientSecret] },
    );
  }

  protected redactedSummary(): HttpOAuthClientDescription {
    return { tokenEndpoint: this.tokenEndpoint, clientId: this.clientId, authMethod: this.authMethod };
  }

  #headers(): Record<string, string> {
    const headers: Record<string, string> = {
      'Content-Type': 'application/x-www-form-urlencoded',
      Accept: 'application/json',
    };
    if (this.authMethod === 'client_secret_basic') {
      // RFC 6749 section 2.3.1: form-urlencode id and secret before joining and base64-encoding.
      const credentials = `${formEncode(this.clientId)}:${formEncode(this.#clientSecret ?? '')}`;
      headers.Authorization = `Basic ${Buffer.from(credentials, 'utf8').toString('base64')}`;
    }
    return headers;
  }

  #body(refreshToken: string): string {
    const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken });
    if (this.#scope !== undefined) form.set('scope', this.#scope);
    // Reserved names were rejected by validation, so extras cannot override the fields above.
    for (const [key, value] of Object.entries(this.#extraParams)) form.set(key, value);
    if (this.authMethod !== 'client_secret_basic') form.set('client_id', this.clientId);
    if (this.authMethod === 'client_secret_post') form.set('client_secret', this.#clientSecret ?? '');
    return form.toString();
  }

  /** Maps a thrown request to a typed error built from codes only (see the class comment). */
  #classify(error: unknown, callerSignal: AbortSignal | undefined, timedOut: boolean): TokenRefreshError {
    // The caller's abort wins: the service is stopping, whatever else went wrong.
    if (callerSignal?.aborted) return new RefreshAbortedError();
    if (timedOut) return new TokenEndpointTimeoutError(this.#timeout);
    const code = safeIdentifier((error as { code?: unknown } | null)?.code);
    if (code === 'ECONNABORTED' || code === 'ETIMEDOUT') return new TokenEndpointTimeoutError(this.#timeout);
    if (code === 'ERR_BAD_RESPONSE' && /maxContentLength/.test(errorMessage(error))) {
      return new InvalidTokenResponseError('body larger than 1 MiB');
    }
    return new TokenEndpointNetworkError(code ?? 'request_failed');
  }
}


function errorMessage(error: unknown): string {
  const message = (error as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? message : '';
}

/** responseType 'text' gives a string; a response interceptor on a shared HttpService might not. */
function bodyText(data: unknown): string {
  if (typeof data === 'string') return data;
  if (data === undefined || data === null) return '';
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  try {
    return JSON.stringify(data) ?? '';
  } catch {
    return '';
  }
}
