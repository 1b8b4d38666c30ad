import { Messages } from '../common/token-refresh.messages';
import { type Credential } from './credential';
import { withTimeout } from './deadline';
import { type EngineCore } from './engine-core';

/** Eviction goes down to this share of maxKeysInMemory. */
const EVICT_TO = 0.9;

/** Keys loaded from the store's due index per query. */
const DUE_SCAN_BATCH = 1_000;

const noop = (): void => undefined;

/**
 * Which keys a keyed registration holds in memory: with maxKeysInMemory, the least recently
 * used keys that have nothing going on are dropped (the store keeps them, and they are loaded
 * again on use); with a store that can list due keys (dueKeys), keys it does not hold are
 * loaded in time to be refreshed, also after a restart.
 */
export class KeyMemory {
  evictions = 0;
  #scanning = false;

  constructor(private readonly core: EngineCore) {}

  /** The check interval's work. */
  periodic(): void {
    this.evictIfOver();
    void this.loadDueKeys();
  }

  async loadDueKeys(): Promise<void> {
    const { store, settings, keyed, logger } = this.core.deps;
    if (!keyed || !store.dueKeys || settings.refreshMode === 'lazy' || this.#scanning || !this.core.isRunning()) return;
    this.#scanning = true;
    try {
      // Due before the next check, with the threshold to spare: loaded now, refreshed on time.
      const before = new Date(this.#dueHorizon());
      for (;;) {
        const keys = await withTimeout(Promise.resolve().then(() => store.dueKeys!(before, DUE_SCAN_BATCH)), settings.storeTimeout);
        let loaded = 0;
        for (const key of keys) {
          if (this.core.credentials.has(key) || !this.core.isRunning()) continue;
          // Due keys displace the least recently used idle ones (see evictIfOver).
          if ((await this.core.resolveKey(key).catch(noop)) !== undefined) loaded++;
        }
        if (keys.length < DUE_SCAN_BATCH || loaded === 0 || !this.core.isRunning()) return;
      }
    } catch {
      logger.warn(Messages.dueScanFailed(this.core.context.name));
    } finally {
      this.#scanning = false;
    }
  }

  /** Over maxKeysInMemory: drops the least recently used keys that have nothing going on (the store keeps them). */
  evictIfOver(): void {
    const { credentials, deps } = this.core;
    const max = deps.settings.maxKeysInMemory;
    if (max === undefined || credentials.size <= max) return;
    // Down to nine tenths of the bound, so the scan is paid once per many new keys, not for each.
    let excess = credentials.size - Math.floor(max * EVICT_TO);
    const candidates: Credential[] = [];
    const horizon = this.#dueHorizon();
    for (const c of credentials.values()) {
      if (this.#evictable(c, horizon)) candidates.push(c);
    }
    candidates.sort((a, b) => a.used - b.used);
    for (const c of candidates) {
      if (excess-- <= 0) break;
      this.core.drop(c);
      this.evictions++;
    }
  }

  /** Records an access, for the memory bound. */
  touch(c: Credential): void {
    c.used = this.core.scheduler.tick;
  }

  /** Keys due before this instant are loaded by the scan, and not evicted. */
  #dueHorizon(): number {
    const { checkInterval, refreshThreshold } = this.core.deps.settings;
    return Date.now() + checkInterval + refreshThreshold;
  }

  #evictable(c: Credential, horizon: number): boolean {
    if (c.state === 'refreshing' || c.state === 'reauthenticating' || c.state === 'reauth-required') return false;
    // Due soon (ahead mode): it would only be loaded again by the next scan.
    if (c.tokens && c.refreshAt <= horizon && this.core.deps.settings.refreshMode === 'ahead') return false;
    const work = c.busy;
    return !work || (work.flight === undefined && work.unsaved === undefined && work.saveChain === undefined && work.heldLock === undefined);
  }
}
