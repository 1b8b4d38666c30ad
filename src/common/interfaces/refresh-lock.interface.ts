/** A held lock. release() must be safe to call more than once. */
export interface RefreshLockHandle {
  release(): Promise<void>;
  /**
   * Aborted when the lock is known to be lost (lease expired, backend gone). The manager checks
   * it before sending a refresh; it does not cut a request already sent.
   */
  readonly lost?: AbortSignal;
}

export interface RefreshLockRequest {
  waitMs: number;
  signal: AbortSignal;
  /** The credential's key, in a keyed registration: refreshes of different keys need not wait for each other. */
  key?: string;
}

/**
 * Serialises refreshes of one credential across processes. In a single process the
 * in-process lock is enough; several replicas need a shared one (RedisRefreshLock).
 */
export interface RefreshLock {
  /**
   * True when other processes may refresh the same credential. The manager then re-reads
   * the store under the lock, and adopts what another replica saved instead of refreshing.
   */
  readonly distributed?: boolean;
  /** Resolves a handle once held, or null when it could not be taken within `waitMs`. */
  acquire(options: RefreshLockRequest): Promise<RefreshLockHandle | null>;
}
