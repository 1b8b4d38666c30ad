/*
 * `nestjs-token-refresh/health`: its own entry point because @nestjs/terminus is an optional
 * peer dependency. Nothing outside this folder imports terminus.
 */
export { TokenRefreshHealthIndicator, DEFAULT_HEALTH_KEY } from './token-refresh.health';
export type { TokenRefreshHealthOptions } from './token-refresh.health';
export { TokenRefreshHealthModule } from './token-refresh-health.module';
export { evaluateTokenHealth } from './token-health';
export type { TokenHealthDetails, TokenHealthReason, TokenHealthStatus } from './token-health';
export { DEFAULT_KEYED_HEALTH_THRESHOLDS, evaluateKeyedHealth } from './keyed-token-health';
export type { KeyedHealthThresholds, KeyedTokenHealthDetails } from './keyed-token-health';
