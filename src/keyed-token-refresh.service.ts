import { type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { KeyedTokenRefreshManager } from './core/keyed-refresh-manager';

/**
 * The injectable face of a keyed registration (`TokenRefreshModule.forRoot({ keyed: true })`):
 * the manager does the work, this class adds Nest's lifecycle. It runs from bootstrap to
 * shutdown; keys come from set(key, tokens), or from the store when used.
 */
export class KeyedTokenRefreshService extends KeyedTokenRefreshManager implements OnApplicationBootstrap, BeforeApplicationShutdown {
  async onApplicationBootstrap(): Promise<void> {
    if (!this.isRunning()) await this.start();
  }

  /**
   * Before, not on, shutdown: @nestjs/event-emitter removes listeners in its own
   * onApplicationShutdown, and the stopped event must still reach them.
   */
  async beforeApplicationShutdown(): Promise<void> {
    await this.stop();
  }
}
