import { ConfigurableModuleBuilder, type ConfigurableModuleAsyncOptions } from '@nestjs/common';
import { DEFAULT_REGISTRATION_NAME } from '../common/token-refresh.constants';
import { type TokenRefreshHttpConfig } from './token-refresh-http.options';

/** Options that shape the module itself, given beside the axios settings or beside useFactory. */
export interface TokenRefreshHttpModuleExtras {
  /** The TokenRefreshModule registration whose token is sent; `@InjectTokenRefreshHttp(name)` injects it. Default `'default'`. */
  name?: string;
  /** Make the HttpService injectable in every module. */
  isGlobal?: boolean;
}

/** `TokenRefreshHttpModule.register(options)`. */
export type TokenRefreshHttpModuleOptions = TokenRefreshHttpConfig & TokenRefreshHttpModuleExtras;

/** Implemented by the class given as `useClass` or `useExisting` to `registerAsync`. */
export interface TokenRefreshHttpOptionsFactory {
  createTokenRefreshHttpOptions(): TokenRefreshHttpConfig | Promise<TokenRefreshHttpConfig>;
}

/** `TokenRefreshHttpModule.registerAsync(options)`: one of useFactory, useClass or useExisting, with name and isGlobal beside it. */
export type TokenRefreshHttpModuleAsyncOptions = ConfigurableModuleAsyncOptions<TokenRefreshHttpConfig, 'createTokenRefreshHttpOptions'> &
  TokenRefreshHttpModuleExtras;

export const {
  ConfigurableModuleClass: ConfigurableTokenRefreshHttpModule,
  MODULE_OPTIONS_TOKEN: TOKEN_REFRESH_HTTP_MODULE_OPTIONS,
} = new ConfigurableModuleBuilder<TokenRefreshHttpConfig>({ moduleName: 'TokenRefreshHttp' })
  .setClassMethodName('register')
  .setFactoryMethodName('createTokenRefreshHttpOptions')
  .setExtras<TokenRefreshHttpModuleExtras>({ name: DEFAULT_REGISTRATION_NAME, isGlobal: false }, (definition, extras) => ({
    ...definition,
    global: extras.isGlobal,
  }))
  .build();
