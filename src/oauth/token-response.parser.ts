import { isPlainObject } from '../core/guards';
import { type TokenPair } from '../interfaces/token-pair.interface';
import {
  InvalidTokenResponseError,
  OAuthProtocolError,
  TokenEndpointHttpError,
} from '../token-refresh.errors';
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

/** Longest provider-supplied text kept in an error. */
export const MAX_PROVIDER_TEXT = 200;

/** 10 years: anything longer is a unit mix-up (ms or an epoch), not a lifetime. */
export const MAX_EXPIRES_IN_SECONDS = 10 * 365 * 24 * 60 * 60;

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
): TokenPair {
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
    return toTokenPair(json);
  }

  const retryAfterMs = parseRetryAfter(header(headers, 'retry-after'), now);
  if (status >= 400 && isPlainObject(json) && typeof json.error === 'string' && json.error !== '') {
    throw protocolError(json, status, headers, now, redact);
  }
  // Redirects are deliberately not followed: a moved token endpoint is a configuration problem.
  const detail = status >= 300 && status < 400 ? 'redirect not followed' : undefined;
  throw new TokenEndpointHttpError(status, retryAfterMs, detail);
}

function toTokenPair(body: Record<string, unknown>): TokenPair {
  const accessToken = requiredString(body, 'access_token');
  // token_type is required (section 5.1), but when the server has already rotated the refresh
  // token, rejecting the body would lose it and make us spend the old one: read it as Bearer,
  // as golang/oauth2 does.
  const rotated = typeof body.refresh_token === 'string' && body.refresh_token !== '';
  const tokenType = rotated && (body.token_type === undefined || body.token_type === null) ? 'Bearer' : requiredString(body, 'token_type');
  const pair: TokenPair = { accessToken, tokenType };

  const expiresIn = parseExpiresIn(body.expires_in);
  if (expiresIn !== undefined) pair.expiresIn = expiresIn;

  // Absent means "keep the refresh token you have" (RFC 6749 section 6), so leave it undefined.
  const refreshToken = optionalString(body, 'refresh_token');
  if (refreshToken !== undefined) {
    if (refreshToken === '') throw new InvalidTokenResponseError('refresh_token is empty');
    pair.refreshToken = refreshToken;
  }
  const scope = optionalString(body, 'scope');
  if (scope !== undefined) pair.scope = scope;
  const idToken = optionalString(body, 'id_token');
  if (idToken !== undefined) pair.idToken = idToken;
  return pair;
}

function requiredString(body: Record<string, unknown>, field: string): string {
  const value = body[field];
  if (value === undefined || value === null) throw new InvalidTokenResponseError(`${field} is missing`);
  if (typeof value !== 'string') throw new InvalidTokenResponseError(`${field} is not a string (got ${kind(value)})`);
  if (value === '') throw new InvalidTokenResponseError(`${field} is empty`);
  return value;
}

/** null is treated as absent: several servers serialise unset optional fields that way. */
function optionalString(body: Record<string, unknown>, field: string): string | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new InvalidTokenResponseError(`${field} is not a string (got ${kind(value)})`);
  return value;
}

function parseExpiresIn(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  let seconds: number;
  if (typeof value === 'number') {
    seconds = value;
  } else if (typeof value === 'string' && /^\d+$/.test(value.trim())) {
    // Not RFC-conformant but common (older Azure AD, some gateways): "3600".
    seconds = Number(value.trim());
  } else {
    throw new InvalidTokenResponseError(`expires_in is not a number (got ${kind(value)})`);
  }
  if (!Number.isFinite(seconds) || seconds < 0) {
    throw new InvalidTokenResponseError('expires_in is not a non-negative finite number');
  }
  if (seconds > MAX_EXPIRES_IN_SECONDS) {
    throw new InvalidTokenResponseError('expires_in is larger than 10 years');
  }
  return seconds;
}

function protocolError(
  body: Record<string, unknown>,
  status: number,
  headers: ResponseHeaders,
  now: number,
  redact: readonly string[],
): OAuthProtocolError {
  const code = sanitize(String(body.error), redact, 64);
  const description = typeof body.error_description === 'string' ? sanitize(body.error_description, redact) : undefined;
  const uri = typeof body.error_uri === 'string' ? sanitize(body.error_uri, redact) : undefined;
  const retryAfterMs = parseRetryAfter(header(headers, 'retry-after'), now);
  return new OAuthProtocolError(code || 'unknown_error', status, description || undefined, uri || undefined, retryAfterMs);
}

/** Provider text ends up in logs: drop control and bidi characters and secrets, and cap the length. */
function sanitize(text: string, redact: readonly string[], max = MAX_PROVIDER_TEXT): string {
  let out = text;
  // Redact before truncating, so a cut cannot leave a recognisable prefix of a secret behind.
  for (const secret of redact) out = out.split(secret).join('[redacted]');
  out = out
    .replace(/[\p{Cc}\u200E\u200F\u202A-\u202E\u2066-\u2069]+/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  const chars = Array.from(out); // code points, so a surrogate pair is never split
  return chars.length > max ? `${chars.slice(0, max - 1).join('')}…` : out;
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
