/* Authenticated HTTP: re-exported by the root entry point (@nestjs/axios is a required peer). */
export { TokenRefreshHttpModule, createTokenRefreshHttpService } from './token-refresh-http.module';
export { getTokenRefreshHttpToken, InjectTokenRefreshHttp } from './token-refresh-http.constants';
export type {
  TokenRefreshHttpConfig,
  TokenRefreshHttpModuleAsyncOptions,
  TokenRefreshHttpModuleOptions,
} from './token-refresh-http.options';
export type { AccessTokenSource } from './authenticated-adapter';
