import { Controller, Get } from '@nestjs/common';
import { HealthCheck, type HealthCheckResult, HealthCheckService } from '@nestjs/terminus';
import { TokenRefreshHealthIndicator } from '../../src/health';

@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly tokenRefresh: TokenRefreshHealthIndicator,
  ) {}

  /** 200 while the token is valid (status `degraded` while refreshes fail), 503 once it is not. */
  @Get()
  @HealthCheck()
  check(): Promise<HealthCheckResult> {
    return this.health.check([() => this.tokenRefresh.isHealthy('token-refresh')]);
  }
}
