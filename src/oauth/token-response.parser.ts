import { isPlainObject } from '../core/guards';
import { scrubText } from '../core/redaction';
import { type TokenResponse } from '../common/interfaces/oauth-client.interface';
import {
  InvalidTokenResponseError,
  OAuthProtocolError,
  TokenEndpointHttpError,
} from '../common/token-refresh.errors';
import { parseRetryAfter } from './retry-after';

/** Response headers as axios or node:http give them; names are matched case-insensitively. */
export type ResponseHeaders = Readonly<Record<string, unknown>> | null | undefined;

export interface ParseTokenResponseOptions {
  /**
   * Values (refresh token, client secret) to blank out of provider-supplied text. Some servers
   * echo the request back in `error_description`, which would otherwise land in error messages.
   */
  redact?: readonly (string | undefined)[];
}

/**
 * Turns a token endpoint response into a TokenPair (2xx, RFC 6749 section 5.1) or throws the
 * typed error that classifies it (section 5.2 error body, bare HTTP error, malformed success).
 * `now` (epoch ms) is used for a Retry-After HTTP-date. Messages never contain token values or
 * the raw body.
 */
export function parseTokenResponse(
  status: number,
  headers: ResponseHeaders,
  bodyText: string,
  now: number,
  options: ParseTokenResponseOptions = {},
): TokenResponse {
  const redact = (options.redact ?? []).filter((v): v is string => typeof v === 'string' && v.length >= 4);
  const json = parseJson(bodyText);

  if (status >= 200 && status < 300) {
    if (!isPlainObject(json)) {
      throw new InvalidTokenResponseError(describeNonObject(bodyText, json, headers));
    }
    // Some providers (GitHub, for one) answer 200 with an error body instead of a 4xx.
    if (json.access_token === undefined && typeof json.error === 'string' && json.error !== '') {
      throw protocolError(json, status, headers, now, redact);
    }
    return toTokenResponse(json);
  }

  const retryAfterMs = parseRetryAfter(header(headers, 'retry-after'), now);
  if (status >= 400 && isPlainObject(json) && typeof json.error === 'string' && json.error !== '') {
    throw protocolError(json, status, headers, now, redact);
  }
  // Redirects are deliberately not followed: a moved token endpoint is a configuration problem.
  const detail = status >= 300 && status < 400 ? 'redirect not followed' : undefined;
  throw new TokenEndpointHttpError(status, retryAfterMs, detail);
}

/**
 * Maps a section 5.1 body to a TokenResponse. Lenient on purpose: the manager judges every field
 * (resolveRefreshResponse) and keeps a rotated refresh token even when the rest is unusable, so
 * only a body with neither an access token nor a refresh token is refused here.
 */
function toTokenResponse(body: Record<string, unknown>): TokenResponse {
  if (!isToken(body.access_token) && !isToken(body.refresh_token)) {
    throw new InvalidTokenResponseError(
      body.access_token === undefined || body.access_token === null ? 'access_token is missing' : `access_token is not a usable string (got ${kind(body.access_token)})`,
    );
  }
  const response: Record<string, unknown> = {};
  for (const [field, key] of FIELDS) {
    const value = body[field];
    if (value !== undefined && value !== null) response[key] = value;
  }
  // Not RFC-conformant but common (older Azure AD, some gateways): "3600", even "3600.0".
  if (typeof body.expires_in === 'string' && /^\d+(\.\d+)?$/.test(body.expires_in.trim())) {
    response.expiresIn = Number(body.expires_in.trim());
  }
  return response as TokenResponse;
}

const FIELDS: ReadonlyArray<readonly [string, keyof TokenResponse]> = [
  ['access_token', 'accessToken'],
  ['refresh_token', 'refreshToken'],
  ['token_type', 'tokenType'],
  ['expires_in', 'expiresIn'],
  ['scope', 'scope'],
  ['id_token', 'idToken'],
];

function isToken(value: unknown): boolean {
  return typeof value === 'string' && value.trim() !== '';
}

function protocolError(
  body: Record<string, unknown>,
  status: number,
  headers: ResponseHeaders,
  now: number,
  redact: readonly string[],
): OAuthProtocolError {
  const code = scrubText(String(body.error), redact, 64);
  const description = typeof body.error_description === 'string' ? scrubText(body.error_description, redact) : undefined;
  const uri = typeof body.error_uri === 'string' ? scrubText(body.error_uri, redact) : undefined;
  const retryAfterMs = parseRetryAfter(header(headers, 'retry-after'), now);
  return new OAuthProtocolError({
    error: code || 'unknown_error',
    status,
    errorDescription: description || undefined,
    errorUri: uri || undefined,
    retryAfterMs,
  });
}

const NOT_JSON = Symbol('not json');

function parseJson(text: string): unknown {
  if (text.trim() === '') return NOT_JSON;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return NOT_JSON;
  }
}

function describeNonObject(bodyText: string, json: unknown, headers: ResponseHeaders): string {
  if (bodyText.trim() === '') return 'body is empty';
  if (json === NOT_JSON) {
    const type = contentType(headers);
    return `body is not JSON${type ? ` (content-type ${type})` : ''}`;
  }
  return `body is not a JSON object (got ${kind(json)})`;
}

/** The media type alone (no parameters), sanitised: safe to put in a message. */
function contentType(headers: ResponseHeaders): string | undefined {
  const value = header(headers, 'content-type');
  if (!value) return undefined;
  const media = value.split(';')[0].trim().toLowerCase();
  return /^[\w.+-]+\/[\w.+-]+$/.test(media) && media.length <= 100 ? media : 'unrecognised';
}

function header(headers: ResponseHeaders, name: string): string | undefined {
  if (!headers) return undefined;
  for (const key of Object.keys(headers)) {
    if (key.toLowerCase() !== name) continue;
    const value = headers[key];
    if (typeof value === 'string') return value;
    if (typeof value === 'number') return String(value);
    if (Array.isArray(value) && typeof value[0] === 'string') return value[0];
  }
  return undefined;
}

/** A type name for messages: never the value itself. */
function kind(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}
