import { type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { TokenRefreshManager } from './core/refresh-manager';
import { Messages } from './common/token-refresh.messages';

/**
 * The injectable face of the refresh manager: the manager does the work, this class adds
 * Nest's lifecycle. Built by the module's factory, one per registration.
 */
export class TokenRefreshService extends TokenRefreshManager implements OnApplicationBootstrap, BeforeApplicationShutdown {
  /** autoStart: tokens from the store. An empty store is not an error: start(tokens) later. */
  async onApplicationBootstrap(): Promise<void> {
    if (!this.autoStart || this.isRunning()) return;
    try {
      await this.start();
    } catch (error) {
      this.logger.warn(Messages.autoStartSkipped(this.name, (error as Error).message));
    }
  }

  /**
   * Before, not on, shutdown: @nestjs/event-emitter removes listeners in its own
   * onApplicationShutdown, and the stopped event must still reach them.
   */
  async beforeApplicationShutdown(): Promise<void> {
    await this.stop();
  }
}
