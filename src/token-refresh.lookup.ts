import { type ModuleRef } from '@nestjs/core';
import { getKeyedTokenRefreshToken, getTokenRefreshToken } from './common/token-refresh.constants';
import { TokenRefreshConfigError } from './common/token-refresh.errors';
import { type KeyedTokenRefreshService } from './keyed-token-refresh.service';
import { type TokenRefreshService } from './token-refresh.service';

/**
 * The TokenRefreshService of the registration `name`, looked up app-wide (strict: false) so
 * TokenRefreshModule need not be global. A name nobody registered is a bug in the app: it
 * throws a TokenRefreshConfigError `<who>: no TokenRefreshModule registration named "<name>"`,
 * followed by `; <hint>` when one is given.
 */
export function findTokenRefreshService(moduleRef: ModuleRef, name: string, who: string, hint?: string): TokenRefreshService {
  let service: TokenRefreshService | undefined;
  try {
    service = moduleRef.get<TokenRefreshService>(getTokenRefreshToken(name), { strict: false });
  } catch {
    service = undefined;
  }
  if (!service) {
    const message = `${who}: no TokenRefreshModule registration named "${name}"`;
    throw new TokenRefreshConfigError('name', hint ? `${message}; ${hint}` : message);
  }
  return service;
}

/** The registration `name`, single or keyed; throws like findTokenRefreshService when there is neither. */
export function findAnyRegistration(
  moduleRef: ModuleRef,
  name: string,
  who: string,
): { single: TokenRefreshService } | { keyed: KeyedTokenRefreshService } {
  try {
    const keyed = moduleRef.get<KeyedTokenRefreshService>(getKeyedTokenRefreshToken(name), { strict: false });
    if (typeof keyed?.counts === 'function') return { keyed };
  } catch {
    // not a keyed registration
  }
  return { single: findTokenRefreshService(moduleRef, name, who) };
}
