import { type RefreshLock, type RefreshLockHandle } from '../common/interfaces/refresh-lock.interface';

const RELEASED: RefreshLockHandle = Object.freeze({ release: async () => undefined });

/**
 * One process: the manager's single-flight already serialises refreshes of a registration,
 * so the lock has nothing left to do. `distributed = false` also tells the manager it need
 * not re-read the store before refreshing: nobody else writes it.
 */
export class InProcessRefreshLock implements RefreshLock {
  readonly distributed = false;

  async acquire(): Promise<RefreshLockHandle> {
    return RELEASED;
  }
}
