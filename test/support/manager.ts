import { InMemoryTokenStore } from '../../src/core/in-memory-token.store';
import { InProcessRefreshLock } from '../../src/core/in-process-refresh.lock';
import { resolveSettings } from '../../src/core/options-validation';
import { type EventSink, type LoggerPort, NodeTimers, type TimerPort } from '../../src/core/ports';
import { KeyedTokenRefreshManager } from '../../src/core/keyed-refresh-manager';
import { InMemoryKeyedTokenStore } from '../../src/core/keyed-token.stores';
import { TokenRefreshManager } from '../../src/core/refresh-manager';
import { type RefreshTelemetry } from '../../src/core/telemetry';
import { type KeyedTokenStore } from '../../src/common/interfaces/keyed-token-store.interface';
import { type TokenPair } from '../../src/common/interfaces/token-pair.interface';
import { type TokenRefreshError } from '../../src/common/token-refresh.errors';
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
  telemetry?: RefreshTelemetry;
}

/**
 * A TokenRefreshManager wired the way the Nest module wires one, with plain Node timers (fake
 * ones under vi.useFakeTimers), an in-memory store and lock, and recorded events. The one
 * factory for specs, end-to-end suites and the bench.
 */
export function createTestManager<C extends OAuthClient = FakeOAuthClient, S extends TokenStore = InMemoryTokenStore>(
  setup: TestManagerSetup<C, S> = {},
) {
  const store = (setup.store ?? new InMemoryTokenStore()) as S;
  const options = setup.options ?? {};
  const deps = defaultDeps(setup);
  const manager = new TokenRefreshManager({
    ...deps,
    settings: resolveSettings({ ...options }, setup.name),
    store,
    onRefreshFail: options.onRefreshFail,
    reauthenticate: options.reauthenticate,
  });
  return { manager, client: deps.client, store, events: deps.events };
}

export interface KeyedTestManagerSetup<C extends OAuthClient, S extends KeyedTokenStore> extends Omit<TestManagerSetup<C, never>, 'store' | 'options'> {
  store?: S;
  options?: Partial<RefreshPolicyOptions> & {
    onRefreshFail?: (error: TokenRefreshError, key: string) => boolean | Promise<boolean>;
    reauthenticate?: (key: string) => Promise<TokenPair>;
  };
}

/** A KeyedTokenRefreshManager wired like createTestManager's: fake-able timers, an in-memory store, recorded events. */
export function createKeyedTestManager<C extends OAuthClient = FakeOAuthClient, S extends KeyedTokenStore = InMemoryKeyedTokenStore>(
  setup: KeyedTestManagerSetup<C, S> = {},
) {
  const store = (setup.store ?? new InMemoryKeyedTokenStore()) as S;
  const { onRefreshFail, reauthenticate, ...options } = setup.options ?? {};
  const deps = defaultDeps(setup);
  const manager = new KeyedTokenRefreshManager({
    ...deps,
    settings: resolveSettings(options, setup.name ?? 'users'),
    store,
    onRefreshFail,
    reauthenticate,
  });
  return { manager, client: deps.client, store, events: deps.events };
}

/** What both factories fill in the same way: a fake client, an in-process lock, Node timers, recorded events, fixed jitter. */
function defaultDeps<C extends OAuthClient>(setup: Omit<TestManagerSetup<C, never>, 'store' | 'options'>) {
  return {
    client: (setup.client ?? new FakeOAuthClient()) as C,
    lock: setup.lock ?? new InProcessRefreshLock(),
    timers: setup.timers ?? new NodeTimers(),
    events: (setup.events ?? new RecordingEvents()) as RecordingEvents,
    logger: setup.logger ?? silentLogger,
    random: setup.random ?? (() => 0.5),
    telemetry: setup.telemetry,
  };
}
