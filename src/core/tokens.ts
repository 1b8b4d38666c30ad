import { decodeJwt } from 'jose';
import { type ResolvedTokens, type TokenPair } from '../interfaces/token-pair.interface';
import { type StoredTokens } from '../interfaces/token-store.interface';
import { TokenValidationError } from '../token-refresh.errors';

/** Ten years: anything longer is a unit mistake (ms given as seconds), not a real token. */
const MAX_LIFETIME_MS = 10 * 365 * 24 * 3600_000;

/**
 * Turns a caller's TokenPair into absolute, validated, frozen tokens.
 * `issuedAt` is when the request that produced them started: expires_in counts from there,
 * so a slow token endpoint never makes us believe a token lives longer than it does.
 */
export function resolveTokens(pair: TokenPair | null | undefined, issuedAt: number): ResolvedTokens {
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
  const obtainedAt = resolveIssuedAt(pair.issuedAt, issuedAt);
  const expiresAt = resolveExpiry(pair, obtainedAt);
  return Object.freeze({
    accessToken,
    refreshToken: refreshToken ?? undefined,
    tokenType: normaliseTokenType(tokenType),
    expiresAt,
    issuedAt: Math.min(obtainedAt, expiresAt),
    scope: typeof scope === 'string' ? scope : undefined,
    idToken: typeof idToken === 'string' ? idToken : undefined,
  });
}

function resolveIssuedAt(given: Date | number | undefined | null, fallback: number): number {
  if (given === undefined || given === null) return fallback;
  const at = given instanceof Date ? given.getTime() : given;
  if (typeof at !== 'number' || !Number.isFinite(at) || at < 0) {
    throw new TokenValidationError('issuedAt', 'issuedAt must be a valid Date or epoch milliseconds');
  }
  return at;
}

function resolveExpiry(pair: TokenPair, issuedAt: number): number {
  if (pair.expiresAt !== undefined && pair.expiresAt !== null) {
    const at = pair.expiresAt instanceof Date ? pair.expiresAt.getTime() : pair.expiresAt;
    if (typeof at !== 'number' || !Number.isFinite(at) || at < 0) {
      throw new TokenValidationError('expiresAt', 'expiresAt must be a valid Date or epoch milliseconds');
    }
    if (at - issuedAt > MAX_LIFETIME_MS) {
      throw new TokenValidationError('expiresAt', 'expiresAt is more than ten years away; is it in seconds instead of ms?');
    }
    return at;
  }
  if (pair.expiresIn !== undefined && pair.expiresIn !== null) {
    const seconds = pair.expiresIn;
    if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0) {
      throw new TokenValidationError('expiresIn', 'expiresIn must be a non-negative number of seconds');
    }
    if (seconds * 1000 > MAX_LIFETIME_MS) {
      throw new TokenValidationError('expiresIn', 'expiresIn is more than ten years; is it in ms instead of seconds?');
    }
    return issuedAt + seconds * 1000;
  }
  const exp = jwtExpiry(pair.accessToken);
  if (exp !== undefined) return exp;
  throw new TokenValidationError(
    'expiresIn',
    'no expiry: give expiresIn (seconds) or expiresAt, or an access token that is a JWT with an exp claim',
  );
}

function jwtExpiry(token: string): number | undefined {
  if (token.split('.').length !== 3) return undefined;
  try {
    const { exp } = decodeJwt(token);
    return typeof exp === 'number' && Number.isFinite(exp) && exp > 0 ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/** RFC 6750 says the scheme is case-insensitive; send the canonical `Bearer`. */
function normaliseTokenType(tokenType: string | undefined): string {
  if (tokenType === undefined || tokenType.toLowerCase() === 'bearer') return 'Bearer';
  return tokenType;
}

/**
 * Fills what a refresh response may leave out. RFC 6749 section 6: without refresh_token the
 * old one stays in force. Section 5.1 only recommends expires_in; without it (and without a
 * JWT exp) the new token is taken to live as long as the one it replaces, rather than
 * rejecting a response whose refresh token may already be rotated.
 */
export function mergeRefreshResponse(response: TokenPair, previous: ResolvedTokens): TokenPair {
  const merged: TokenPair = { ...response };
  if (!merged.refreshToken) merged.refreshToken = previous.refreshToken;
  const noExpiry = (merged.expiresIn === undefined || merged.expiresIn === null) && (merged.expiresAt === undefined || merged.expiresAt === null);
  if (noExpiry && typeof merged.accessToken === 'string' && jwtExpiry(merged.accessToken) === undefined) {
    const previousLifetime = Math.floor((previous.expiresAt - previous.issuedAt) / 1000);
    // Under a minute the old lifetime is not a lifetime but what was left of one (tokens
    // loaded near or past expiry from a store that keeps no issuedAt): assume an hour.
    merged.expiresIn = previousLifetime >= MIN_KNOWN_LIFETIME_S ? previousLifetime : ASSUMED_LIFETIME_S;
  }
  return merged;
}

const MIN_KNOWN_LIFETIME_S = 60;
/** The usual default of providers that omit expires_in. */
export const ASSUMED_LIFETIME_S = 3600;

/** The shape handed to TokenStore.save: absolute expiry survives a restart, expiresIn would not. */
export function toStoredTokens(tokens: ResolvedTokens): StoredTokens {
  const stored: StoredTokens = {
    accessToken: tokens.accessToken,
    tokenType: tokens.tokenType,
    expiresAt: new Date(tokens.expiresAt),
    issuedAt: new Date(tokens.issuedAt),
  };
  if (tokens.refreshToken !== undefined) stored.refreshToken = tokens.refreshToken;
  if (tokens.scope !== undefined) stored.scope = tokens.scope;
  if (tokens.idToken !== undefined) stored.idToken = tokens.idToken;
  return stored;
}

/** What getTokens() returns: a frozen copy in the caller's vocabulary, expiresIn counted from now. */
export function toPublicTokens(tokens: ResolvedTokens, now: number): Readonly<TokenPair & { expiresAt: Date }> {
  return Object.freeze({
    ...toStoredTokens(tokens),
    expiresIn: Math.max(0, Math.floor((tokens.expiresAt - now) / 1000)),
  });
}

/**
 * Whether `candidate` supersedes `current`: the pair obtained later wins, so a late or
 * replayed copy never replaces newer tokens, and a new login with a shorter lifetime is not
 * undone by an older pair that expires later. Expiry breaks ties.
 */
export function isNewer(candidate: ResolvedTokens, current: ResolvedTokens | undefined): boolean {
  if (current === undefined) return true;
  if (candidate.issuedAt !== current.issuedAt) return candidate.issuedAt > current.issuedAt;
  return candidate.expiresAt > current.expiresAt;
}

/**
 * Tokens read from a store (or announced by another replica) against ours. A store that does
 * not keep issuedAt cannot say when its pair was obtained (resolving it stamps "now"), so
 * only expiry can order it: rotations always move expiry forward.
 */
export function storedSupersedes(stored: TokenPair, candidate: ResolvedTokens, current: ResolvedTokens | undefined): boolean {
  if (stored.issuedAt === undefined || stored.issuedAt === null) {
    return current === undefined || candidate.expiresAt > current.expiresAt;
  }
  return isNewer(candidate, current);
}
