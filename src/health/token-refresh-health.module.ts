import { Module } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { TokenRefreshHealthIndicator } from './token-refresh.health';

/**
 * `imports: [TerminusModule, TokenRefreshHealthModule]`, then inject TokenRefreshHealthIndicator
 * beside HealthCheckService. It provides its own HealthIndicatorService (whose only state is the
 * attempt() cache, unused here), so it works beside TerminusModule.forRoot(...) with any options.
 */
@Module({
  providers: [HealthIndicatorService, TokenRefreshHealthIndicator],
  exports: [TokenRefreshHealthIndicator],
})
export class TokenRefreshHealthModule {}
