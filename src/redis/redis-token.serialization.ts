import { epochOf, isVersion, type TokenOrder } from '../core/tokens';
import { type StoredTokens } from '../common/interfaces/token-store.interface';
import { TokenStoreUnreadableError, TokenValidationError } from '../common/token-refresh.errors';

/**
 * The record format. Readers refuse versions they do not know (a record a newer release wrote,
 * found after a rollback): such a record is unreadable, treated as absent, and the next save
 * replaces it (the save script does the same).
 */
export const STORED_TOKENS_VERSION = 1;

/** What is stored in Redis: StoredTokens with the times as epoch ms, so Lua can compare them. */
export interface StoredTokensRecord {
  v: typeof STORED_TOKENS_VERSION;
  accessToken: string;
  refreshToken?: string;
  tokenType: string;
  expiresAt: number;
  issuedAt: number;
  version: number;
  scope?: string;
  idToken?: string;
}

/** The pub/sub notice a save sends. It says that tokens changed and how new they are, never what they are. */
export interface Announcement extends Required<TokenOrder> {
  /** Id of the store instance that saved, so it can skip its own notices. */
  origin: string;
  /** Whose tokens changed, in a keyed store. */
  key?: string;
}

/** The order of a pair as the save script sees it. */
export function orderOfStored(tokens: StoredTokens): Required<TokenOrder> {
  return { version: tokens.version, issuedAt: tokens.issuedAt.getTime(), expiresAt: tokens.expiresAt.getTime() };
}

export function serializeTokens(tokens: StoredTokens): { json: string } & Required<TokenOrder> {
  const order = orderOfStored(tokens);
  if (!isEpochMs(order.expiresAt)) throw new TokenValidationError('expiresAt', 'tokens to store need expiresAt as a valid Date');
  if (!isEpochMs(order.issuedAt)) throw new TokenValidationError('issuedAt', 'tokens to store need issuedAt as a valid Date');
  if (!isVersion(order.version)) throw new TokenValidationError('version', 'tokens to store need a non-negative whole version');
  if (typeof tokens.accessToken !== 'string' || tokens.accessToken === '') {
    throw new TokenValidationError('accessToken', 'tokens to store need a non-empty accessToken');
  }
  const record: StoredTokensRecord = {
    v: STORED_TOKENS_VERSION,
    accessToken: tokens.accessToken,
    tokenType: tokens.tokenType,
    ...order,
  };
  if (tokens.refreshToken !== undefined) record.refreshToken = tokens.refreshToken;
  if (tokens.scope !== undefined) record.scope = tokens.scope;
  if (tokens.idToken !== undefined) record.idToken = tokens.idToken;
  return { json: JSON.stringify(record), ...order };
}

/**
 * Reads a stored record back, or throws TokenStoreUnreadableError saying what is wrong by
 * field name only: JSON.parse's own message quotes the input, which here is a token.
 */
export function parseStoredTokens(raw: string): StoredTokens {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new TokenStoreUnreadableError('not valid JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TokenStoreUnreadableError('not a JSON object');
  }
  const record = value as Record<string, unknown>;
  if (record.v !== STORED_TOKENS_VERSION) {
    throw new TokenStoreUnreadableError(`unknown format version, this release reads ${STORED_TOKENS_VERSION}`);
  }
  const { accessToken, expiresAt, issuedAt, version } = record;
  if (typeof accessToken !== 'string' || accessToken === '') throw new TokenStoreUnreadableError('no accessToken');
  if (!isEpochMs(expiresAt)) throw new TokenStoreUnreadableError('no valid expiresAt');
  if (!isEpochMs(issuedAt)) throw new TokenStoreUnreadableError('no valid issuedAt');
  if (!isVersion(version)) throw new TokenStoreUnreadableError('no valid version');
  const tokenType = typeof record.tokenType === 'string' && record.tokenType !== '' ? record.tokenType : 'Bearer';
  const tokens: StoredTokens = { accessToken, tokenType, expiresAt: new Date(expiresAt), issuedAt: new Date(issuedAt), version };
  for (const field of ['refreshToken', 'scope', 'idToken'] as const) {
    const text = record[field];
    if (text === undefined || text === null) continue;
    if (typeof text !== 'string' || text === '') throw new TokenStoreUnreadableError(`${field} is not a non-empty string`);
    tokens[field] = text;
  }
  return tokens;
}

export function encodeAnnouncement(announcement: Announcement): string {
  const { version, issuedAt, expiresAt, origin, key } = announcement;
  return JSON.stringify(key === undefined ? { version, issuedAt, expiresAt, origin } : { version, issuedAt, expiresAt, origin, key });
}

/** Undefined for anything that is not a notice of ours: a stray publish on the channel is ignored. */
export function parseAnnouncement(raw: string): Announcement | undefined {
  try {
    const value = JSON.parse(raw) as Partial<Record<keyof Announcement, unknown>> | null;
    if (value === null || typeof value !== 'object') return undefined;
    const { version, issuedAt, expiresAt, origin, key } = value;
    if (!isVersion(version) || !isEpochMs(issuedAt) || !isEpochMs(expiresAt) || typeof origin !== 'string') return undefined;
    if (key === undefined) return { version, issuedAt, expiresAt, origin };
    return typeof key === 'string' ? { version, issuedAt, expiresAt, origin, key } : undefined;
  } catch {
    return undefined;
  }
}

/** Epoch ms as a JSON number (the rule is core's epochOf; a Date is no JSON value). */
function isEpochMs(value: unknown): value is number {
  return typeof value === 'number' && epochOf(value) !== undefined;
}

