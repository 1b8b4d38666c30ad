import { decodeJwt } from 'jose';
import { type TokenResponse } from '../common/interfaces/oauth-client.interface';
import { type ResolvedTokens, type TokenPair } from '../common/interfaces/token-pair.interface';
import { type StoredTokens } from '../common/interfaces/token-store.interface';
import { TokenValidationError } from '../common/token-refresh.errors';
import { isPlainObject } from './guards';

/** Ten years: anything longer is a unit mistake (ms given as seconds, an epoch), not a real token. */
export const MAX_LIFETIME_MS = 10 * 365 * 24 * 3600_000;

/** The usual default of providers that omit expires_in. */
export const ASSUMED_LIFETIME_S = 3600;
/** Under a minute, an old lifetime is what was left of one (tokens loaded near expiry), not a lifetime. */
const MIN_KNOWN_LIFETIME_S = 60;

/**
 * Turns a caller's TokenPair into absolute, validated, frozen tokens. Strict: the app (or its
 * store) handed these in, so anything wrong is its bug and is named in a TokenValidationError.
 * `issuedAt` is when the request that produced them started: expires_in counts from there,
 * so a slow token endpoint never makes us believe a token lives longer than it does.
 * `defaultVersion` is used when the pair states none.
 */
export function resolveTokens(pair: TokenPair | null | undefined, issuedAt: number, defaultVersion?: number): ResolvedTokens {
  if (pair === null || typeof pair !== 'object') {
    throw new TokenValidationError('tokens', 'tokens must be an object with an accessToken');
  }
  const { accessToken, refreshToken, tokenType, scope, idToken } = pair;
  if (typeof accessToken !== 'string' || accessToken.length === 0) {
    throw new TokenValidationError('accessToken', 'accessToken must be a non-empty string');
  }
  if (refreshToken !== undefined && refreshToken !== null && (typeof refreshToken !== 'string' || refreshToken === '')) {
    throw new TokenValidationError('refreshToken', 'refreshToken must be a non-empty string when given');
  }
  if (tokenType !== undefined && (typeof tokenType !== 'string' || tokenType.trim() === '')) {
    throw new TokenValidationError('tokenType', 'tokenType must be a non-empty string when given');
  }
  const version = pair.version;
  if (version !== undefined && version !== null && !isVersion(version)) {
    throw new TokenValidationError('version', 'version must be a non-negative whole number when given');
  }
  const obtainedAt = resolveIssuedAt(pair.issuedAt, issuedAt);
  const expiresAt = strictExpiry(pair, obtainedAt);
  return freeze({
    accessToken,
    refreshToken: refreshToken ?? undefined,
    tokenType: normaliseTokenType(tokenType),
    expiresAt,
    issuedAt: Math.min(obtainedAt, expiresAt),
    version: version ?? defaultVersion,
    scope: typeof scope === 'string' ? scope : undefined,
    idToken: typeof idToken === 'string' ? idToken : undefined,
  });
}

function resolveIssuedAt(given: Date | number | undefined | null, fallback: number): number {
  if (given === undefined || given === null) return fallback;
  const at = epochOf(given);
  if (at === undefined) throw new TokenValidationError('issuedAt', 'issuedAt must be a valid Date or epoch milliseconds');
  return at;
}

function strictExpiry(pair: TokenPair, issuedAt: number): number {
  const expiry = readExpiry(pair, issuedAt);
  if (expiry.problem) throw new TokenValidationError(expiry.problem.field, expiry.problem.message);
  if (expiry.at !== undefined) return expiry.at;
  throw new TokenValidationError(
    'expiresIn',
    'no expiry: give expiresIn (seconds) or expiresAt, or an access token that is a JWT with an exp claim',
  );
}

interface ExpiryReading {
  /** Epoch ms, when a usable expiry was found. */
  at?: number;
  /** The first field that was given but unusable. */
  problem?: { field: 'expiresAt' | 'expiresIn' | 'accessToken'; message: string };
}

/**
 * The expiry a pair states: expiresAt, else expiresIn, else a JWT access token's exp. Every
 * source gets the same checks (a valid number, within ten years of issuedAt), so no unit
 * mix-up (seconds for ms, an exp in ms or µs) can make a token look valid for centuries.
 */
function readExpiry(pair: { expiresAt?: unknown; expiresIn?: unknown; accessToken?: unknown }, issuedAt: number): ExpiryReading {
  if (pair.expiresAt !== undefined && pair.expiresAt !== null) {
    const at = epochOf(pair.expiresAt);
    if (at === undefined) return { problem: { field: 'expiresAt', message: 'expiresAt must be a valid Date or epoch milliseconds' } };
    if (at - issuedAt > MAX_LIFETIME_MS) {
      return { problem: { field: 'expiresAt', message: 'expiresAt is more than ten years away; is it in seconds instead of ms?' } };
    }
    return { at };
  }
  if (pair.expiresIn !== undefined && pair.expiresIn !== null) {
    const seconds = pair.expiresIn;
    if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0) {
      return { problem: { field: 'expiresIn', message: 'expiresIn must be a non-negative number of seconds' } };
    }
    if (seconds * 1000 > MAX_LIFETIME_MS) {
      return { problem: { field: 'expiresIn', message: 'expiresIn is more than ten years; is it in ms instead of seconds?' } };
    }
    return { at: issuedAt + Math.round(seconds * 1000) };
  }
  if (typeof pair.accessToken !== 'string') return {};
  const exp = jwtExp(pair.accessToken);
  if (exp === undefined) return {};
  const at = exp * 1000;
  if (!Number.isFinite(exp) || exp <= 0 || at - issuedAt > MAX_LIFETIME_MS) {
    return { problem: { field: 'accessToken', message: 'the access token JWT exp claim is not seconds within ten years; is it in ms?' } };
  }
  return { at };
}

/** The exp claim of a JWT access token, unchecked; undefined when it is not a JWT or has none. */
function jwtExp(token: string): number | undefined {
  if (token.split('.').length !== 3) return undefined;
  try {
    const { exp } = decodeJwt(token);
    return typeof exp === 'number' ? exp : undefined;
  } catch {
    return undefined;
  }
}

/** RFC 6750 says the scheme is case-insensitive; send the canonical `Bearer`. */
function normaliseTokenType(tokenType: string | undefined): string {
  if (tokenType === undefined || tokenType.toLowerCase() === 'bearer') return 'Bearer';
  return tokenType;
}

/** What a refresh response turned into. */
export interface RefreshOutcome {
  /** The new tokens; undefined when the response carried no usable access token. */
  tokens?: ResolvedTokens;
  /**
   * Set when the response carried no usable access token but did rotate the refresh token:
   * the held tokens with the new refresh token, which must be kept (the old one is spent).
   */
  keep?: ResolvedTokens;
  /** Names of fields that were present but unusable, and were dropped. Never their values. */
  dropped: string[];
}

/**
 * Reads a token endpoint's answer leniently, because the server has already acted on it: once
 * a response carries a new refresh token, the old one is spent, and rejecting the body would
 * make the next attempt present a spent token (which a server with reuse detection punishes by
 * revoking the grant). So a rotated refresh token is always kept; an unusable optional field is
 * dropped; a missing or unusable lifetime falls back to the lifetime of the token it replaces
 * (RFC 6749 section 5.1 only recommends expires_in), or an hour when that is unknown (or
 * there is none: the first token of a client_credentials grant). Only a
 * missing or unusable access token makes the response unusable, and even then the rotation is kept.
 */
export function resolveRefreshResponse(response: TokenResponse | unknown, previous: ResolvedTokens | undefined, startedAt: number): RefreshOutcome {
  const body: Record<string, unknown> = isPlainObject(response) ? response : {};
  const dropped: string[] = [];
  const text = (field: string): string | undefined => {
    const value = body[field];
    if (value === undefined || value === null) return undefined;
    if (typeof value === 'string' && value.trim() !== '') return value;
    dropped.push(field);
    return undefined;
  };
  const rotated = text('refreshToken');
  const refreshToken = rotated ?? previous?.refreshToken;
  const version = (previous?.version ?? 0) + 1;
  const accessToken = text('accessToken');
  if (accessToken === undefined) {
    if (!isPlainObject(response)) dropped.push('response');
    const keep =
      previous !== undefined && rotated !== undefined && rotated !== previous.refreshToken
        ? freeze({ ...previous, refreshToken: rotated, version })
        : undefined;
    return { keep, dropped };
  }
  const tokenType = text('tokenType');
  const scope = text('scope');
  const idToken = text('idToken');

  const expiry = readExpiry(body, startedAt);
  if (expiry.problem) dropped.push(expiry.problem.field === 'accessToken' ? 'accessToken exp' : expiry.problem.field);
  const expiresAt = expiry.at ?? startedAt + assumedLifetimeS(previous) * 1000;
  return {
    tokens: freeze({
      accessToken,
      refreshToken,
      tokenType: normaliseTokenType(tokenType),
      expiresAt,
      issuedAt: Math.min(startedAt, expiresAt),
      version,
      scope,
      idToken,
    }),
    dropped,
  };
}

function assumedLifetimeS(previous: ResolvedTokens | undefined): number {
  if (previous === undefined) return ASSUMED_LIFETIME_S;
  const lifetime = Math.floor((previous.expiresAt - previous.issuedAt) / 1000);
  return lifetime >= MIN_KNOWN_LIFETIME_S ? lifetime : ASSUMED_LIFETIME_S;
}

function freeze(tokens: ResolvedTokens): ResolvedTokens {
  return Object.freeze(tokens);
}

/** The shape handed to TokenStore.save: absolute expiry survives a restart, expiresIn would not. */
export function toStoredTokens(tokens: ResolvedTokens, refreshAt?: number): StoredTokens {
  const stored: StoredTokens = {
    accessToken: tokens.accessToken,
    tokenType: tokens.tokenType,
    expiresAt: new Date(tokens.expiresAt),
    issuedAt: new Date(tokens.issuedAt),
    version: tokens.version ?? 0,
  };
  if (tokens.refreshToken !== undefined) stored.refreshToken = tokens.refreshToken;
  if (tokens.scope !== undefined) stored.scope = tokens.scope;
  if (tokens.idToken !== undefined) stored.idToken = tokens.idToken;
  if (refreshAt !== undefined) stored.refreshAt = new Date(refreshAt);
  return stored;
}

/** What getTokens() returns: a frozen copy in the caller's vocabulary, expiresIn counted from `now`. */
export function toPublicTokens(tokens: ResolvedTokens, now: number): Readonly<TokenPair & { expiresAt: Date }> {
  return Object.freeze({
    ...toStoredTokens(tokens),
    expiresIn: Math.max(0, Math.floor((tokens.expiresAt - now) / 1000)),
  });
}

/**
 * What orders two pairs of one credential: `version`, which every save of a new pair
 * increments, so the order never depends on one machine's clock; then when the pair was
 * obtained (a tie between two writers); then expiry. A part unknown on either side (a store
 * that does not keep it) is skipped.
 */
export interface TokenOrder {
  version?: number;
  issuedAt?: number;
  expiresAt: number;
}

/** > 0 if `a` is newer, < 0 if `b` is, 0 if neither. The Redis save script mirrors this. */
export function compareTokenOrder(a: TokenOrder, b: TokenOrder): number {
  if (a.version !== undefined && b.version !== undefined && a.version !== b.version) return a.version - b.version;
  if (a.issuedAt !== undefined && b.issuedAt !== undefined && a.issuedAt !== b.issuedAt) return a.issuedAt - b.issuedAt;
  return a.expiresAt - b.expiresAt;
}

/**
 * The order of a pair as it was given: a store's pair that lacks issuedAt (resolving stamped
 * "now" on it) or version cannot claim them.
 */
export function orderOf(given: Pick<TokenPair, 'version' | 'issuedAt'>, resolved: ResolvedTokens): TokenOrder {
  return {
    version: given.version ?? undefined,
    issuedAt: given.issuedAt === undefined || given.issuedAt === null ? undefined : resolved.issuedAt,
    expiresAt: resolved.expiresAt,
  };
}

/** The order of a pair as handed to or read from a store; parts it lacks stay unknown. */
export function orderOfPair(pair: TokenPair): TokenOrder {
  return {
    version: typeof pair.version === 'number' ? pair.version : undefined,
    issuedAt: epochOf(pair.issuedAt),
    expiresAt: epochOf(pair.expiresAt) ?? 0,
  };
}

/** Whether a pair read from a store (or announced by another replica) supersedes the one held. */
export function storedSupersedes(stored: TokenPair, candidate: ResolvedTokens, current: ResolvedTokens | undefined): boolean {
  if (current === undefined) return true;
  return compareTokenOrder(orderOf(stored, candidate), current) > 0;
}

/** A pair's version: a non-negative whole number. */
export function isVersion(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** Epoch ms from a Date or a number; undefined when invalid or negative. */
export function epochOf(value: unknown): number | undefined {
  const at = value instanceof Date ? value.getTime() : value;
  return typeof at === 'number' && Number.isFinite(at) && at >= 0 ? at : undefined;
}
