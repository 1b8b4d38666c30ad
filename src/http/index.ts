/* Authenticated HTTP: re-exported by the root entry point (@nestjs/axios is a required peer). */
export { TokenRefreshHttpModule } from './token-refresh-http.module';
export { createTokenRefreshHttpService } from './authenticated-http';
export { getTokenRefreshHttpToken, InjectTokenRefreshHttp } from './token-refresh-http.constants';
export type { TokenRefreshHttpConfig } from './token-refresh-http.options';
export type { TokenRefreshHttpModuleAsyncOptions, TokenRefreshHttpModuleOptions } from './token-refresh-http.module-definition';
export type { AccessTokenSource } from './authenticated-adapter';
