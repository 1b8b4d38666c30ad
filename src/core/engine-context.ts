import { type KeyedTokenStore } from '../common/interfaces/keyed-token-store.interface';
import { type OAuthClient } from '../common/interfaces/oauth-client.interface';
import { type RefreshLock } from '../common/interfaces/refresh-lock.interface';
import { type TokenPair } from '../common/interfaces/token-pair.interface';
import { TokenRefreshEvents } from '../common/token-refresh.constants';
import { type TokenRefreshError } from '../common/token-refresh.errors';
import { summarizeError, TokenRefreshStoreFailedEvent } from '../common/token-refresh.events';
import { type Credential } from './credential';
import { type ResolvedSettings } from './options-validation';
import { type EventSink, type LoggerPort, type TimerPort } from './ports';
import { type RefreshTelemetry } from './telemetry';

/** What a refresh engine runs on. */
export interface EngineDeps {
  settings: ResolvedSettings;
  client: OAuthClient;
  store: KeyedTokenStore;
  lock: RefreshLock;
  timers: TimerPort;
  events?: EventSink;
  logger: LoggerPort;
  /** Called once per failed episode of a key; true asks for `reauthenticate`. */
  onRefreshFail?: (error: TokenRefreshError, key?: string) => boolean | Promise<boolean>;
  /** Obtains a fresh pair for a key from scratch (e.g. client credentials). */
  reauthenticate?: (key?: string) => Promise<TokenPair>;
  /** Jitter source; Math.random by default. */
  random?: () => number;
  /** A keyed registration: payloads, log lines and callbacks name the key. */
  keyed: boolean;
  /** Where attempts, lock waits and gauges are reported; nothing by default. */
  telemetry?: RefreshTelemetry;
}

/** What the engine's parts share: its dependencies, and how to name a credential in logs and events. */
export class EngineContext {
  constructor(readonly deps: EngineDeps) {}

  get name(): string {
    return this.deps.settings.name;
  }

  /** `crm` for a single registration, `users[user-42]` for a key of a keyed one. */
  label(c: Credential): string {
    return this.deps.keyed ? `${this.name}[${c.key}]` : this.name;
  }

  /** The fields every event payload starts with. */
  fields(c?: Credential): { name: string; at: Date; key?: string } {
    return c !== undefined && this.deps.keyed ? { name: this.name, at: new Date(), key: c.key } : { name: this.name, at: new Date() };
  }

  /** The key as callbacks take it: only keyed registrations pass one. */
  keyArg(c: Credential): string | undefined {
    return this.deps.keyed ? c.key : undefined;
  }

  emit(event: string, payload: object): void {
    try {
      this.deps.events?.emit(event, payload);
    } catch {
      // A throwing listener must not break the refresh loop.
    }
  }

  storeFailed(c: Credential, operation: 'load' | 'save', error: TokenRefreshError, willRetry: boolean): void {
    this.emit(
      TokenRefreshEvents.STORE_FAILED,
      new TokenRefreshStoreFailedEvent({ ...this.fields(c), operation, error: summarizeError(error), willRetry }),
    );
  }
}
