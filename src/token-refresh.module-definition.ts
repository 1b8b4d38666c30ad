import { ConfigurableModuleBuilder, type ConfigurableModuleAsyncOptions } from '@nestjs/common';
import { type TokenRefreshModuleOptions } from './token-refresh.options';
import { DEFAULT_REGISTRATION_NAME } from './common/token-refresh.constants';

/** Options that shape the module itself, given beside useFactory in forRootAsync. */
export interface TokenRefreshModuleExtras {
  /** Registration name; `@InjectTokenRefresh(name)` injects it. Default `'default'`. */
  name?: string;
  /** Make the registration's providers visible app-wide. */
  isGlobal?: boolean;
  /**
   * Many credentials, one per key (a user, a tenant): the registration provides a
   * KeyedTokenRefreshService (`@InjectKeyedTokenRefresh(name)`) instead of a TokenRefreshService,
   * and its tokenStore is a KeyedTokenStore. Default false.
   */
  keyed?: boolean;
}

/** `TokenRefreshModule.forRoot(options)`. */
export type TokenRefreshModuleRootOptions = TokenRefreshModuleOptions & TokenRefreshModuleExtras;

/** Implemented by the class given as `useClass` or `useExisting` to `forRootAsync`. */
export interface TokenRefreshOptionsFactory {
  createTokenRefreshOptions(): TokenRefreshModuleOptions | Promise<TokenRefreshModuleOptions>;
}

/** `TokenRefreshModule.forRootAsync(options)`: one of useFactory, useClass or useExisting, with name and isGlobal beside it. */
export type TokenRefreshModuleAsyncOptions = ConfigurableModuleAsyncOptions<TokenRefreshModuleOptions, 'createTokenRefreshOptions'> &
  TokenRefreshModuleExtras;

export const {
  ConfigurableModuleClass: ConfigurableTokenRefreshModule,
  MODULE_OPTIONS_TOKEN: TOKEN_REFRESH_MODULE_OPTIONS,
  OPTIONS_TYPE: TOKEN_REFRESH_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: TOKEN_REFRESH_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<TokenRefreshModuleOptions>({ moduleName: 'TokenRefresh' })
  .setClassMethodName('forRoot')
  .setFactoryMethodName('createTokenRefreshOptions')
  .setExtras<TokenRefreshModuleExtras>({ name: DEFAULT_REGISTRATION_NAME, isGlobal: false, keyed: false }, (definition, extras) => ({
    ...definition,
    global: extras.isGlobal,
  }))
  .build();
