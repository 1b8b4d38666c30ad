import { Injectable, Logger } from '@nestjs/common';
import { OnEvent } from '@nestjs/event-emitter';
import {
  TokenRefreshExpiredEvent,
  TokenRefreshReauthRequiredEvent,
  TokenRefreshRefreshedEvent,
  TokenRefreshEvents,
  TokenRefreshRefreshFailedEvent,
} from '../../src';

/** Shows the refresh loop at work on the console. Event payloads never hold tokens. */
@Injectable()
export class RefreshEventsListener {
  private readonly logger = new Logger('TokenEvents');

  @OnEvent(TokenRefreshEvents.REFRESHED)
  onRefreshed(event: TokenRefreshRefreshedEvent): void {
    const nextInSeconds = Math.round((event.refreshAt.getTime() - Date.now()) / 1000);
    this.logger.log(
      `"${event.name}" token refreshed in ${event.durationMs} ms; valid until ${event.expiresAt.toISOString()}, next refresh in ${nextInSeconds} s`,
    );
  }

  @OnEvent(TokenRefreshEvents.REFRESH_FAILED)
  onRefreshFailed(event: TokenRefreshRefreshFailedEvent): void {
    const next = event.willRetry && event.nextAttemptAt ? `retrying at ${event.nextAttemptAt.toISOString()}` : 'giving up';
    this.logger.warn(`"${event.name}" refresh attempt ${event.attempt} failed (${event.error.code}); ${next}`);
  }

  @OnEvent(TokenRefreshEvents.REAUTH_REQUIRED)
  onReauthRequired(event: TokenRefreshReauthRequiredEvent): void {
    this.logger.error(`"${event.name}" needs a new login (${event.error.code}); /health now reports down`);
  }

  @OnEvent(TokenRefreshEvents.EXPIRED)
  onExpired(event: TokenRefreshExpiredEvent): void {
    this.logger.warn(`"${event.name}" access token expired at ${event.expiredAt.toISOString()}`);
  }
}
