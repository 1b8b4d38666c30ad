import { type StoredTokens } from '../interfaces/token-store.interface';
import { TokenValidationError } from '../token-refresh.errors';

/**
 * Bumped if the stored shape ever changes incompatibly; readers refuse versions they do not know.
 * `issuedAt` was added within version 1 on purpose: it is optional, readers that predate it
 * ignore it, so replicas of both versions can share a key during a rolling deploy.
 */
export const STORED_TOKENS_VERSION = 1;

/** What is stored in Redis: StoredTokens with the times as epoch ms, so Lua can compare them. */
export interface StoredTokensRecord {
  v: typeof STORED_TOKENS_VERSION;
  accessToken: string;
  refreshToken?: string;
  tokenType: string;
  expiresAt: number;
  /** When the tokens were obtained. Absent in records written before it was kept. */
  issuedAt?: number;
  scope?: string;
  idToken?: string;
}

/**
 * Tokens as this store reads them back. `issuedAt` is absent for a record written before it
 * was kept: it is unknown, so it is left out rather than made up (a made-up time would order
 * the pair wrongly, and would skew the refresh schedule the core derives from it).
 */
export type LoadedTokens = Omit<StoredTokens, 'issuedAt'> & { issuedAt?: Date };

/** What serializeTokens accepts: a StoredTokens, or a LoadedTokens being written back. */
export type TokensToStore = Omit<StoredTokens, 'issuedAt'> & { issuedAt?: Date | number };

/** The two times that order pairs (epoch ms); issuedAt undefined when unknown. */
export interface TokenOrder {
  issuedAt?: number;
  expiresAt: number;
}

/**
 * Which of two pairs is newer: > 0 if `a`, < 0 if `b`, 0 if neither. The pair obtained later
 * wins, whatever it expires (a new login with a short lifetime replaces an older pair that
 * expires later); expiry breaks ties.
 *
 * When either side has no issuedAt (a record from before it was kept, or from a replica still
 * on the previous version), only expiry can order them, as before: rotations always move
 * expiry forward. Treating the unknown time as 0 ("oldest") instead would let any pair that
 * carries an issuedAt, however stale, overwrite it: during a rolling deploy, a replica writing
 * back its stale pair after a reconnect would replace the rotation an older replica saved, and
 * spend a refresh token twice. Using expiresAt as the unknown issuedAt would make the record
 * look obtained in the future and refuse every save until it expired. The core orders a
 * loaded pair without issuedAt the same way (storedSupersedes), and the Lua in
 * SAVE_IF_NOT_OLDER mirrors this function.
 */
export function compareOrder(a: TokenOrder, b: TokenOrder): number {
  if (a.issuedAt !== undefined && b.issuedAt !== undefined && a.issuedAt !== b.issuedAt) return a.issuedAt - b.issuedAt;
  return a.expiresAt - b.expiresAt;
}

export function orderOf(tokens: TokensToStore): TokenOrder {
  return { issuedAt: epochMs(tokens.issuedAt), expiresAt: tokens.expiresAt.getTime() };
}

/** The pub/sub notice a save sends. It says that tokens changed and how new they are, never what they are. */
export interface Announcement extends TokenOrder {
  /** Id of the store instance that saved, so it can skip its own notices. */
  origin: string;
}

export function serializeTokens(tokens: TokensToStore): { json: string } & TokenOrder {
  const expiresAt = tokens.expiresAt instanceof Date ? tokens.expiresAt.getTime() : Number.NaN;
  if (!Number.isFinite(expiresAt)) {
    throw new TokenValidationError('expiresAt', 'tokens to store need expiresAt as a valid Date');
  }
  const issuedAt = epochMs(tokens.issuedAt);
  if (issuedAt !== undefined && (!Number.isFinite(issuedAt) || issuedAt < 0)) {
    throw new TokenValidationError('issuedAt', 'tokens to store need issuedAt as a valid Date (or none)');
  }
  if (typeof tokens.accessToken !== 'string' || tokens.accessToken === '') {
    throw new TokenValidationError('accessToken', 'tokens to store need a non-empty accessToken');
  }
  const record: StoredTokensRecord = {
    v: STORED_TOKENS_VERSION,
    accessToken: tokens.accessToken,
    tokenType: tokens.tokenType,
    expiresAt,
  };
  // Left out when unknown (a legacy pair written back): the record then orders by expiry alone.
  if (issuedAt !== undefined) record.issuedAt = issuedAt;
  if (tokens.refreshToken !== undefined) record.refreshToken = tokens.refreshToken;
  if (tokens.scope !== undefined) record.scope = tokens.scope;
  if (tokens.idToken !== undefined) record.idToken = tokens.idToken;
  return { json: JSON.stringify(record), expiresAt, issuedAt };
}

/**
 * Reads a stored record back. Errors name the field only: JSON.parse's own message quotes
 * the input, which here is a token, so it is never passed on.
 */
export function parseStoredTokens(raw: string): LoadedTokens {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new TokenValidationError('tokens', 'stored tokens are not valid JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TokenValidationError('tokens', 'stored tokens are not a JSON object');
  }
  const record = value as Record<string, unknown>;
  if (record.v !== STORED_TOKENS_VERSION) {
    throw new TokenValidationError('v', `stored tokens have an unknown format version (expected ${STORED_TOKENS_VERSION})`);
  }
  const accessToken = record.accessToken;
  if (typeof accessToken !== 'string' || accessToken === '') {
    throw new TokenValidationError('accessToken', 'stored tokens have no accessToken');
  }
  const expiresAt = record.expiresAt;
  if (!isEpochMs(expiresAt)) {
    throw new TokenValidationError('expiresAt', 'stored tokens have no valid expiresAt (epoch ms)');
  }
  const tokenType = typeof record.tokenType === 'string' && record.tokenType !== '' ? record.tokenType : 'Bearer';
  const tokens: LoadedTokens = { accessToken, tokenType, expiresAt: new Date(expiresAt) };
  // Missing in records written before issuedAt was kept: see LoadedTokens.
  const issuedAt = record.issuedAt;
  if (issuedAt !== undefined && issuedAt !== null) {
    if (!isEpochMs(issuedAt)) throw new TokenValidationError('issuedAt', 'stored issuedAt must be epoch ms when present');
    tokens.issuedAt = new Date(issuedAt);
  }
  for (const field of ['refreshToken', 'scope', 'idToken'] as const) {
    const text = record[field];
    if (text === undefined || text === null) continue;
    if (typeof text !== 'string' || text === '') {
      throw new TokenValidationError(field, `stored ${field} must be a non-empty string when present`);
    }
    tokens[field] = text;
  }
  return tokens;
}

/** Carries both times: replicas on the previous version read expiresAt and ignore issuedAt. */
export function encodeAnnouncement(announcement: Announcement): string {
  const { expiresAt, issuedAt, origin } = announcement;
  return JSON.stringify(issuedAt === undefined ? { expiresAt, origin } : { expiresAt, issuedAt, origin });
}

/** Undefined for anything that is not a notice of ours: a stray publish on the channel is ignored. */
export function parseAnnouncement(raw: string): Announcement | undefined {
  try {
    const value = JSON.parse(raw) as Partial<Record<keyof Announcement, unknown>> | null;
    if (value === null || typeof value !== 'object') return undefined;
    const { expiresAt, issuedAt, origin } = value;
    if (!isEpochMs(expiresAt) || typeof origin !== 'string') return undefined;
    // From a replica on the previous version: no issuedAt, ordered by expiry alone.
    if (issuedAt === undefined) return { expiresAt, origin };
    if (!isEpochMs(issuedAt)) return undefined;
    return { expiresAt, issuedAt, origin };
  } catch {
    return undefined;
  }
}

function isEpochMs(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

function epochMs(value: Date | number | undefined | null): number | undefined {
  if (value === undefined || value === null) return undefined;
  return value instanceof Date ? value.getTime() : typeof value === 'number' ? value : Number.NaN;
}
