import { type Credential } from './credential';
import { type CredentialTransitions } from './credential-transitions';
import { type EngineContext, type EngineDeps } from './engine-context';
import { type KeyMemory } from './key-memory';
import { type Persistence } from './persistence';
import { type RefreshAttempts } from './refresh-attempts';
import { type RefreshFailures } from './refresh-failures';
import { type RefreshScheduler } from './refresh-scheduler';
import { type RefreshTelemetry } from './telemetry';
import { type TokenReader } from './token-reader';

/**
 * What the engine's parts share. RefreshEngine provides it; each part is one job: moving a
 * credential between states (credential-transitions), refreshing it (refresh-attempts), what
 * follows a failed episode (refresh-failures), reading tokens (token-reader), keys in memory
 * (key-memory), and the store (persistence).
 */
export interface EngineCore {
  readonly context: EngineContext;
  readonly deps: EngineDeps;
  readonly credentials: Map<string, Credential>;
  readonly scheduler: RefreshScheduler;
  readonly persistence: Persistence;
  readonly telemetry: RefreshTelemetry;
  readonly transitions: CredentialTransitions;
  readonly attempts: RefreshAttempts;
  readonly failures: RefreshFailures;
  readonly reader: TokenReader;
  readonly memory: KeyMemory;
  isRunning(): boolean;
  /** Whether `c` is still the credential held for its key (not deleted or evicted). */
  holds(c: Credential): boolean;
  /** The credential for `key`, from memory or else from the store. */
  resolveKey(key: string): Promise<Credential | undefined>;
  /** Forgets `c` in memory (the store keeps it). */
  drop(c: Credential): void;
}
