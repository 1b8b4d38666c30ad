import { Injectable } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { DEFAULT_REGISTRATION_NAME } from '../common/token-refresh.constants';
import { findTokenRefreshService } from '../token-refresh.lookup';
import { type TokenRefreshService } from '../token-refresh.service';
import { evaluateTokenHealth, type TokenHealthDetails } from './token-health';

export const DEFAULT_HEALTH_KEY = 'token-refresh';

export interface TokenRefreshHealthOptions {
  /** The TokenRefreshModule registration to check. Default `'default'`. */
  name?: string;
}

/**
 * What this indicator needs from terminus's HealthIndicatorSession, on every supported major:
 * terminus 12 has `degraded()`, terminus 11 only `up()` and `down()`. Marking it optional makes
 * the compiler insist on the feature check, whichever terminus the package is built against.
 */
export interface HealthSessionLike<Key extends string> {
  up(data: TokenHealthDetails): HealthIndicatorResult<Key>;
  down(data: TokenHealthDetails): HealthIndicatorResult<Key>;
  degraded?(data: TokenHealthDetails): HealthIndicatorResult<Key>;
}

/**
 * A terminus indicator for one registration:
 * ```ts
 * this.health.check([() => this.tokenRefresh.isHealthy('crm-token', { name: 'crm' })])
 * ```
 * up while a valid token is held; degraded (HTTP 200, overall status `degraded`) while
 * refreshing fails but the token is still valid; down (HTTP 503) when expired, stopped or
 * reauth-required. Terminus 11 has no degraded status: there the indicator is up, with
 * `degraded: true` and the reason in its details. Details: name, state, expiresIn (ms),
 * lastRefreshAt, consecutiveFailures and, unless up, reason and lastError (a code). Never a token.
 *
 * Injectable through TokenRefreshHealthModule, or listed in the providers of any module that
 * imports TerminusModule.
 */
@Injectable()
export class TokenRefreshHealthIndicator {
  readonly #services = new Map<string, TokenRefreshService>();

  constructor(
    private readonly healthIndicatorService: HealthIndicatorService,
    private readonly moduleRef: ModuleRef,
  ) {}

  async isHealthy<const Key extends string = typeof DEFAULT_HEALTH_KEY>(
    key: Key = DEFAULT_HEALTH_KEY as Key,
    options: TokenRefreshHealthOptions = {},
  ): Promise<HealthIndicatorResult<Key>> {
    const session: HealthSessionLike<Key> = this.healthIndicatorService.check(key);
    const { status, details } = evaluateTokenHealth(this.#service(options.name ?? DEFAULT_REGISTRATION_NAME).getRefreshStatus());
    switch (status) {
      case 'up':
        return session.up(details);
      case 'degraded':
        return session.degraded ? session.degraded(details) : session.up({ ...details, degraded: true });
      default:
        return session.down(details);
    }
  }

  /**
   * Looked up on first use and app-wide (strict: false): TokenRefreshModule need not be global.
   * A name nobody registered is a bug in the app, so it throws rather than reporting down.
   */
  #service(name: string): TokenRefreshService {
    let service = this.#services.get(name);
    if (service) return service;
    service = findTokenRefreshService(this.moduleRef, name, 'TokenRefreshHealthIndicator');
    this.#services.set(name, service);
    return service;
  }
}
