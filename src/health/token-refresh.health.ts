import { Injectable } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { DEFAULT_REGISTRATION_NAME } from '../common/token-refresh.constants';
import { type KeyedTokenRefreshService } from '../keyed-token-refresh.service';
import { findAnyRegistration } from '../token-refresh.lookup';
import { type TokenRefreshService } from '../token-refresh.service';
import { evaluateKeyedHealth, type KeyedHealthThresholds, type KeyedTokenHealthDetails } from './keyed-token-health';
import { evaluateTokenHealth, type TokenHealthDetails } from './token-health';

export const DEFAULT_HEALTH_KEY = 'token-refresh';

export interface TokenRefreshHealthOptions {
  /** The TokenRefreshModule registration to check. Default `'default'`. */
  name?: string;
  /** For a keyed registration: the shares of failing keys from which it is degraded and down. */
  keyed?: KeyedHealthThresholds;
}

/**
 * What this indicator needs from terminus's HealthIndicatorSession, on every supported major:
 * terminus 12 has `degraded()`, terminus 11 only `up()` and `down()`. Marking it optional makes
 * the compiler insist on the feature check, whichever terminus the package is built against.
 */
export interface HealthSessionLike<Key extends string> {
  up(data: HealthDetails): HealthIndicatorResult<Key>;
  down(data: HealthDetails): HealthIndicatorResult<Key>;
  degraded?(data: HealthDetails): HealthIndicatorResult<Key>;
}

type HealthDetails = TokenHealthDetails | (KeyedTokenHealthDetails & { degraded?: true });

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
 * A keyed registration is judged by its counts per state (see evaluateKeyedHealth).
 *
 * Injectable through TokenRefreshHealthModule, or listed in the providers of any module that
 * imports TerminusModule.
 */
@Injectable()
export class TokenRefreshHealthIndicator {
  readonly #registrations = new Map<string, { single: TokenRefreshService } | { keyed: KeyedTokenRefreshService }>();

  constructor(
    private readonly healthIndicatorService: HealthIndicatorService,
    private readonly moduleRef: ModuleRef,
  ) {}

  async isHealthy<const Key extends string = typeof DEFAULT_HEALTH_KEY>(
    key: Key = DEFAULT_HEALTH_KEY as Key,
    options: TokenRefreshHealthOptions = {},
  ): Promise<HealthIndicatorResult<Key>> {
    const session: HealthSessionLike<Key> = this.healthIndicatorService.check(key);
    const name = options.name ?? DEFAULT_REGISTRATION_NAME;
    const registration = this.#registration(name);
    const { status, details }: { status: string; details: HealthDetails } =
      'keyed' in registration
        ? evaluateKeyedHealth(name, registration.keyed.isRunning(), registration.keyed.counts(), options.keyed)
        : evaluateTokenHealth(registration.single.getRefreshStatus());
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
  #registration(name: string): { single: TokenRefreshService } | { keyed: KeyedTokenRefreshService } {
    let registration = this.#registrations.get(name);
    if (registration) return registration;
    registration = findAnyRegistration(this.moduleRef, name, 'TokenRefreshHealthIndicator');
    this.#registrations.set(name, registration);
    return registration;
  }
}
