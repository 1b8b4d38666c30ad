/*
 * `nestjs-token-refresh/otel`: metrics and traces through OpenTelemetry. Needs the optional peer
 * dependency @opentelemetry/api; without an SDK registered it records nothing. TokenRefreshModule
 * uses it on its own when @opentelemetry/api is installed (option `telemetry`); this entry point
 * is for apps that pass their own providers, and for TokenRefreshManager outside Nest.
 */
export { OpenTelemetryRefreshTelemetry } from './open-telemetry.telemetry';
export type { OpenTelemetryRefreshTelemetryOptions } from './open-telemetry.telemetry';
export { DURATION_BUCKETS, INSTRUMENTATION_SCOPE, TokenRefreshAttributes, TokenRefreshMetrics, TokenRefreshSpans } from './otel-names';
