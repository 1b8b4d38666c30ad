/*
 * Every entry point, for the resolution checks (node10, node16, nodenext, bundler): types here,
 * and the same names at run time. The package test fails when an "exports" subpath is missing here.
 */
import { TokenRefreshModule, TokenRefreshService } from 'nestjs-token-refresh';
import { TokenRefreshHealthIndicator, TokenRefreshHealthModule, type TokenHealthDetails } from 'nestjs-token-refresh/health';
import { RedisKeyedTokenStore, RedisRefreshLock, RedisTokenStore, type RedisTokenStoreOptions } from 'nestjs-token-refresh/redis';
import { OpenTelemetryRefreshTelemetry, TokenRefreshMetrics, type OpenTelemetryRefreshTelemetryOptions } from 'nestjs-token-refresh/otel';

export const details: Pick<TokenHealthDetails, 'name'> = { name: 'default' };
export const redisOptions: RedisTokenStoreOptions = { keyPrefix: 'app:tokens' };
export const otelOptions: OpenTelemetryRefreshTelemetryOptions = {};
export const entryPoints = {
  '.': [TokenRefreshModule, TokenRefreshService],
  './health': [TokenRefreshHealthIndicator, TokenRefreshHealthModule],
  './redis': [RedisTokenStore, RedisRefreshLock, RedisKeyedTokenStore],
  './otel': [OpenTelemetryRefreshTelemetry, TokenRefreshMetrics],
};
