import { type KeyedTokenStore } from '../../src/common/interfaces/keyed-token-store.interface';
import { type RefreshLock } from '../../src/common/interfaces/refresh-lock.interface';

/** JSON-safe: it travels to replica processes in an environment variable. */
export type DurableBackendConfig = Record<string, string | number | boolean>;

/**
 * A database that keyed registrations share across replicas (PostgreSQL, Redis), as the
 * replica tests and the bench drive it. One module per database under test/durable/backends/.
 */
export interface DurableBackend {
  readonly name: string;
  /**
   * In the test process: a fresh table or key prefix of its own. `port` points the replicas at
   * a proxy the test runs in front of the server (to cut it off). Rejects, saying how to start
   * the server, when it is not running.
   */
  prepare(options?: { port?: number }): Promise<PreparedBackend>;
  /**
   * In a replica process: the keyed store and the lock built from `prepare()`'s config, the
   * way an app would build them. `lease` (ms) is the claim a replica holds on a key while it
   * refreshes it.
   */
  open(config: DurableBackendConfig, options: { lease?: number }): Promise<OpenedBackend>;
}

export interface PreparedBackend {
  readonly config: DurableBackendConfig;
  /** The server's own port (a proxy forwards there). */
  readonly serverPort: number;
  /** Every stored value as raw text (table rows, Redis values), to prove what reaches the database. */
  rawValues(): Promise<string[]>;
  /** Removes the table or the prefix. */
  drop(): Promise<void>;
}

export interface OpenedBackend {
  readonly store: KeyedTokenStore;
  readonly lock: RefreshLock;
  close(): Promise<void>;
}
