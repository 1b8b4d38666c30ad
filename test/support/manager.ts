import { InMemoryTokenStore } from '../../src/core/in-memory-token.store';
import { InProcessRefreshLock } from '../../src/core/in-process-refresh.lock';
import { resolveSettings } from '../../src/core/options-validation';
import { type EventSink, type LoggerPort, NodeTimers, type TimerPort } from '../../src/core/ports';
import { TokenRefreshManager } from '../../src/core/refresh-manager';
import { type OAuthClient } from '../../src/common/interfaces/oauth-client.interface';
import { type RefreshLock } from '../../src/common/interfaces/refresh-lock.interface';
import { type RefreshPolicyOptions } from '../../src/core/options-validation';
import { type TokenStore } from '../../src/common/interfaces/token-store.interface';
import { FakeOAuthClient, RecordingEvents, silentLogger } from './fake-oauth-client';

export interface TestManagerSetup<C extends OAuthClient, S extends TokenStore> {
  client?: C;
  store?: S;
  lock?: RefreshLock;
  timers?: TimerPort;
  events?: EventSink;
  logger?: LoggerPort;
  name?: string;
  /** Module options (durations, retry, callbacks); oauthClient is filled in. */
  options?: Partial<RefreshPolicyOptions>;
  /** Jitter source. Default 0.5, so backoff delays are predictable. */
  random?: () => number;
}

/**
 * A TokenRefreshManager wired the way the Nest module wires one, with plain Node timers (fake
 * ones under vi.useFakeTimers), an in-memory store and lock, and recorded events. The one
 * factory for specs, end-to-end suites and the bench.
 */
export function createTestManager<C extends OAuthClient = FakeOAuthClient, S extends TokenStore = InMemoryTokenStore>(
  setup: TestManagerSetup<C, S> = {},
) {
  const client = (setup.client ?? new FakeOAuthClient()) as C;
  const store = (setup.store ?? new InMemoryTokenStore()) as S;
  const events = setup.events ?? new RecordingEvents();
  const options = setup.options ?? {};
  const manager = new TokenRefreshManager({
    settings: resolveSettings({ ...options }, setup.name),
    client,
    store,
    lock: setup.lock ?? new InProcessRefreshLock(),
    timers: setup.timers ?? new NodeTimers(),
    events,
    logger: setup.logger ?? silentLogger,
    onRefreshFail: options.onRefreshFail,
    reauthenticate: options.reauthenticate,
    random: setup.random ?? (() => 0.5),
  });
  return { manager, client, store, events: events as RecordingEvents };
}
