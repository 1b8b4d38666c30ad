import { type StoredTokens } from '../interfaces/token-store.interface';
import { TokenValidationError } from '../token-refresh.errors';

/** Bumped if the stored shape ever changes incompatibly; readers refuse versions they do not know. */
export const STORED_TOKENS_VERSION = 1;

/** What is stored in Redis: StoredTokens with expiresAt as epoch ms, so Lua can compare it. */
export interface StoredTokensRecord {
  v: typeof STORED_TOKENS_VERSION;
  accessToken: string;
  refreshToken?: string;
  tokenType: string;
  expiresAt: number;
  scope?: string;
  idToken?: string;
}

/** The pub/sub notice a save sends. It says that tokens changed, never what they are. */
export interface Announcement {
  expiresAt: number;
  /** Id of the store instance that saved, so it can skip its own notices. */
  origin: string;
}

export function serializeTokens(tokens: StoredTokens): { json: string; expiresAt: number } {
  const expiresAt = tokens.expiresAt instanceof Date ? tokens.expiresAt.getTime() : Number.NaN;
  if (!Number.isFinite(expiresAt)) {
    throw new TokenValidationError('expiresAt', 'tokens to store need expiresAt as a valid Date');
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
  if (tokens.refreshToken !== undefined) record.refreshToken = tokens.refreshToken;
  if (tokens.scope !== undefined) record.scope = tokens.scope;
  if (tokens.idToken !== undefined) record.idToken = tokens.idToken;
  return { json: JSON.stringify(record), expiresAt };
}

/**
 * Reads a stored record back. Errors name the field only: JSON.parse's own message quotes
 * the input, which here is a token, so it is never passed on.
 */
export function parseStoredTokens(raw: string): StoredTokens {
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
  if (typeof expiresAt !== 'number' || !Number.isFinite(expiresAt) || expiresAt < 0) {
    throw new TokenValidationError('expiresAt', 'stored tokens have no valid expiresAt (epoch ms)');
  }
  const tokenType = typeof record.tokenType === 'string' && record.tokenType !== '' ? record.tokenType : 'Bearer';
  const tokens: StoredTokens = { accessToken, tokenType, expiresAt: new Date(expiresAt) };
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

export function encodeAnnouncement(announcement: Announcement): string {
  return JSON.stringify({ expiresAt: announcement.expiresAt, origin: announcement.origin });
}

/** Undefined for anything that is not a notice of ours: a stray publish on the channel is ignored. */
export function parseAnnouncement(raw: string): Announcement | undefined {
  try {
    const value = JSON.parse(raw) as Partial<Announcement> | null;
    if (value === null || typeof value !== 'object') return undefined;
    const { expiresAt, origin } = value;
    if (typeof expiresAt !== 'number' || !Number.isFinite(expiresAt) || typeof origin !== 'string') return undefined;
    return { expiresAt, origin };
  } catch {
    return undefined;
  }
}
