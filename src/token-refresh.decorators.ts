import { Inject } from '@nestjs/common';
import { getKeyedTokenRefreshToken, getOAuthClientToken, getTokenRefreshToken, getTokenStoreToken } from './common/token-refresh.constants';
import { KeyedTokenRefreshService } from './keyed-token-refresh.service';
import { TokenRefreshService } from './token-refresh.service';

/** Injects a registration's TokenRefreshService; without a name, the default one (same as by class). */
export const InjectTokenRefresh = (name?: string): ParameterDecorator & PropertyDecorator =>
  Inject(name === undefined ? TokenRefreshService : getTokenRefreshToken(name));

/** Injects a keyed registration's KeyedTokenRefreshService; without a name, the default one (same as by class). */
export const InjectKeyedTokenRefresh = (name?: string): ParameterDecorator & PropertyDecorator =>
  Inject(name === undefined ? KeyedTokenRefreshService : getKeyedTokenRefreshToken(name));

/** Injects a registration's OAuth client (the `OAUTH_CLIENT` token of that name). */
export const InjectOAuthClient = (name?: string): ParameterDecorator & PropertyDecorator =>
  Inject(getOAuthClientToken(name));

/** Injects a registration's token store (the `TOKEN_STORE` token of that name). */
export const InjectTokenStore = (name?: string): ParameterDecorator & PropertyDecorator =>
  Inject(getTokenStoreToken(name));
