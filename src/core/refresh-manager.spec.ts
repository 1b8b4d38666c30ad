import { inspect } from 'node:util';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { deferred, FakeOAuthClient } from '../../test/support/fake-oauth-client';
import { createTestManager } from '../../test/support/manager';
import { type StoredTokens, type TokenStore } from '../common/interfaces/token-store.interface';
import { TokenRefreshEvents } from '../common/token-refresh.constants';
import {
  OAuthProtocolError,
  ReauthRequiredError,
  TokenEndpointHttpError,
  TokenExpiredError,
  TokenRefreshStateError,
  TokenValidationError,
} from '../common/token-refresh.errors';
import { InMemoryTokenStore } from './in-memory-token.store';
import { type TokenRefreshManager } from './refresh-manager';

const MIN = 60_000;
const T0 = Date.UTC(2026, 0, 1);

/** Lets promise callbacks run without moving the clock. */
const flush = () => vi.advanceTimersByTimeAsync(0);

describe('TokenRefreshManager', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(T0);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  describe('lifecycle', () => {
    it('stop before start and stop twice are no-ops', async () => {
      const { manager, events } = createTestManager();
      await manager.stop();
      await manager.start({ accessToken: 'a', refreshToken: 'r', expiresIn: 3600 });
      await Promise.all([manager.stop(), manager.stop()]);
      await manager.stop();
      expect(manager.isRunning()).toBe(false);
      expect(events.named(TokenRefreshEvents.STOPPED)).toHaveLength(1);
      expect(vi.getTimerCount()).toBe(0);
    });

    it('rejects a second start while running', async () => {
      const { manager } = createTestManager();
      await manager.start({ accessToken: 'a', refreshToken: 'r', expiresIn: 3600 });
      await expect(manager.start({ accessToken: 'b', expiresIn: 3600 })).rejects.toBeInstanceOf(TokenRefreshStateError);
      expect(manager.getTokens()?.accessToken).toBe('a');
      await manager.stop();
    });

    it('starts again after stop, and refreshes on the new schedule', async () => {
      const { manager, client } = createTestManager();
      await manager.start({ accessToken: 'a', refreshToken: 'r0', expiresIn: 3600 });
      await manager.stop();
      await manager.start({ accessToken: 'b', refreshToken: 'r1', expiresIn: 600 });
      expect(manager.isRunning()).toBe(true);
      await vi.advanceTimersByTimeAsync(5 * MIN);
      expect(client.presented).toEqual(['r1']);
      expect(manager.getTokens()?.accessToken).toBe('at-1');
      await manager.stop();
    });

    it('start() without tokens loads them from the store; an empty store is a typed error', async () => {
      const { manager: empty } = createTestManager();
      await expect(empty.start()).rejects.toBeInstanceOf(TokenRefreshStateError);
      const store = new InMemoryTokenStore({ accessToken: 'stored', refreshToken: 'r', expiresAt: new Date(T0 + 3600_000) });
      const { manager } = createTestManager({ store });
      await manager.start();
      expect(await manager.getAccessToken()).toBe('stored');
      await manager.stop();
    });

    it('rejects bad tokens with TokenValidationError and keeps the good ones', async () => {
      const { manager } = createTestManager();
      await expect(manager.start({ accessToken: '', expiresIn: 10 })).rejects.toBeInstanceOf(TokenValidationError);
      expect(manager.isRunning()).toBe(false);
      await manager.start({ accessToken: 'good', refreshToken: 'r', expiresIn: 3600 });
      await expect(manager.updateTokens({ accessToken: 'x', expiresIn: Number.NaN })).rejects.toThrow(/expiresIn/);
      await expect(manager.updateTokens({ accessToken: 'x', expiresIn: -1 })).rejects.toBeInstanceOf(TokenValidationError);
      await expect(manager.updateTokens({ accessToken: 'x' })).rejects.toThrow(/no expiry/);
      expect(await manager.getAccessToken()).toBe('good');
      await manager.stop();
    });

    it('the first check runs at start: tokens already due are refreshed at once', async () => {
      const { manager, client } = createTestManager();
      await manager.start({ accessToken: 'old', refreshToken: 'r', expiresAt: T0 - 1000 });
      await flush();
      expect(client.presented).toEqual(['r']);
      expect(await manager.getAccessToken()).toBe('at-1');
      await manager.stop();
    });

    it('a store whose watch() throws fails start() without leaving it half running', async () => {
      const store: TokenStore = {
        load: async () => null,
        save: async () => undefined,
        watch: () => {
          throw new Error('subscribe failed');
        },
      };
      const { manager } = createTestManager({ store });
      await expect(manager.start({ accessToken: 'a', refreshToken: 'r', expiresIn: 3600 })).rejects.toMatchObject({ code: 'unknown_error' });
      expect(manager.isRunning()).toBe(false);
      expect(vi.getTimerCount()).toBe(0);
    });

    it('stop() during start() stops what start() starts', async () => {
      const loaded = deferred<StoredTokens>();
      const store: TokenStore = { load: () => loaded.promise, save: async () => undefined, watch: vi.fn(() => () => undefined) };
      const { manager, events } = createTestManager({ store });
      const started = manager.start();
      const stopped = manager.stop();
      loaded.resolve({ accessToken: 'a', refreshToken: 'r', tokenType: 'Bearer', expiresAt: new Date(T0 + 3600_000), issuedAt: new Date(T0), version: 1 });
      await started;
      await stopped;
      expect(manager.isRunning()).toBe(false);
      expect(vi.getTimerCount()).toBe(0);
      expect(events.emitted.map(([name]) => name)).toEqual([TokenRefreshEvents.STARTED, TokenRefreshEvents.STOPPED]);
    });
  });

  describe('scheduling', () => {
    it('refreshes at refreshAt exactly, not at the next check', async () => {
      const { manager, client } = createTestManager({ options: { checkInterval: 10 * MIN } });
      await manager.start({ accessToken: 'a', refreshToken: 'r', expiresIn: 3600 });
      expect(manager.getRefreshStatus().refreshAt?.getTime()).toBe(T0 + 55 * MIN);
      await vi.advanceTimersByTimeAsync(55 * MIN - 1);
      expect(client.calls).toBe(0);
      await vi.advanceTimersByTimeAsync(1);
      expect(client.calls).toBe(1);
      expect(manager.getLastRefreshAt()?.getTime()).toBe(T0 + 55 * MIN);
      await manager.stop();
    });

    it('a 60-second token under the 5-minute threshold refreshes at 30 s and does not loop', async () => {
      const client = new FakeOAuthClient((_rt, call) => ({ accessToken: `at-${call}`, refreshToken: `rt-${call}`, expiresIn: 60 }));
      const { manager } = createTestManager({ client });
      await manager.start({ accessToken: 'a', refreshToken: 'r', expiresIn: 60 });
      await vi.advanceTimersByTimeAsync(30_000 - 1);
      expect(client.calls).toBe(0);
      await vi.advanceTimersByTimeAsync(1);
      expect(client.calls).toBe(1);
      await vi.advanceTimersByTimeAsync(5 * MIN - 30_000);
      // One refresh every 30 s over 5 minutes: 10, not thousands.
      expect(client.calls).toBe(10);
      await manager.stop();
    });

    it('caps delays beyond setTimeout range and re-arms instead of firing at once', async () => {
      const { manager, client } = createTestManager();
      await manager.start({ accessToken: 'a', refreshToken: 'r', expiresIn: 60 * 24 * 3600 });
      await vi.advanceTimersByTimeAsync(2 ** 31);
      expect(client.calls).toBe(0);
      expect(manager.getRefreshStatus().state).toBe('idle');
      await vi.advanceTimersByTimeAsync(60 * 24 * 3600_000 - 5 * MIN - 2 ** 31);
      expect(client.calls).toBe(1);
      await manager.stop();
    });

    it('the check interval catches a clock jump (suspended process) that timers missed', async () => {
      const { manager, client } = createTestManager({ options: { checkInterval: MIN } });
      await manager.start({ accessToken: 'a', refreshToken: 'r', expiresIn: 3600 });
      vi.setSystemTime(T0 + 58 * MIN); // wall clock jumps, monotonic timers do not
      await vi.advanceTimersByTimeAsync(MIN);
      expect(client.calls).toBe(1);
      await manager.stop();
    });

    it('a response without expires_in after an expired start does not loop (assumes an hour)', async () => {
      const client = new FakeOAuthClient((_rt, call) => ({ accessToken: `opaque-${call}`, refreshToken: `rt-${call}` }));
      const { manager } = createTestManager({ client });
      await manager.start({ accessToken: 'a', refreshToken: 'r', expiresAt: T0 - 60_000 });
      await vi.advanceTimersByTimeAsync(10 * MIN);
      expect(client.calls).toBe(1);
      expect(manager.getRefreshStatus().timeUntilExpiry).toBe(50 * MIN);
      await manager.stop();
    });

    it('tokens that are due on arrival (expires_in 0) back off instead of refreshing in a loop', async () => {
      const client = new FakeOAuthClient((_rt, call) => ({ accessToken: `at-${call}`, refreshToken: `rt-${call}`, expiresIn: 0 }));
      const { manager } = createTestManager({ client });
      await manager.start({ accessToken: 'a', refreshToken: 'r', expiresIn: 0 });
      await vi.advanceTimersByTimeAsync(10_000);
      // random 0.5: waits of 0.5, 1, 2, 4 s after the first refresh.
      expect(client.calls).toBe(5);
      await manager.stop();
    });
  });

  describe('single flight', () => {
    it('1000 concurrent getAccessToken() at expiry make exactly one client call', async () => {
      const client = new FakeOAuthClient();
      client.hold();
      const { manager } = createTestManager({ options: { checkInterval: 100 * MIN }, client });
      await manager.start({ accessToken: 'a', refreshToken: 'r', expiresIn: 3600 });
      vi.setSystemTime(T0 + 3600_000); // due and expired, before any timer ran
      const all = Promise.all(Array.from({ length: 1000 }, () => manager.getAccessToken()));
      const forced = manager.forceRefresh();
      await flush();
      client.release();
      const tokens = await all;
      await forced;
      expect(client.presented).toEqual(['r']);
      expect(new Set(tokens)).toEqual(new Set(['at-1']));
      await manager.stop();
    });

    it('while a slow refresh runs, callers take the held token until 10 s before expiry, then wait for it', async () => {
      const client = new FakeOAuthClient();
      client.hold();
      const { manager } = createTestManager({ client });
      await manager.start({ accessToken: 'held', refreshToken: 'r', expiresIn: 3600 });
      await vi.advanceTimersByTimeAsync(55 * MIN); // refresh starts and hangs
      expect(manager.getRefreshStatus().state).toBe('refreshing');
      expect(await manager.getAccessToken()).toBe('held');
      await vi.advanceTimersByTimeAsync(5 * MIN - 10_000);
      const first = manager.getAccessToken();
      const second = manager.getAccessToken();
      expect(second).toBe(first); // one shared promise for every waiter
      let settled = false;
      void first.then(() => (settled = true));
      await flush();
      expect(settled).toBe(false);
      client.release();
      expect(await first).toBe('at-1');
      expect(client.calls).toBe(1);
      await manager.stop();
    });

    it('answers at once while fresh, without touching the client', async () => {
      const { manager, client } = createTestManager();
      await manager.start({ accessToken: 'a', refreshToken: 'r', expiresIn: 3600 });
      for (let i = 0; i < 100; i++) expect(await manager.getAccessToken()).toBe('a');
      expect(manager.peekAccessToken()).toBe('a');
      expect(client.calls).toBe(0);
      await manager.stop();
    });

    it('does not send when the distributed lock was lost before the request', async () => {
      const lost = new AbortController();
      lost.abort();
      const client = new FakeOAuthClient();
      const { manager } = createTestManager({
        client,
        lock: { distributed: true, acquire: async () => ({ release: async () => undefined, lost: lost.signal }) },
      });
      await manager.start({ accessToken: 'a', refreshToken: 'r', expiresIn: 3600 });
      await expect(manager.forceRefresh()).rejects.toMatchObject({ code: 'lock_unavailable' });
      expect(client.calls).toBe(0);
      await manager.stop();
    });

    it('reports a lock backend that throws as lock_unavailable, transient, with the cause kept', async () => {
      const down = new Error('connect ECONNREFUSED 127.0.0.1:6379');
      const client = new FakeOAuthClient();
      const { manager } = createTestManager({ client, lock: { distributed: true, acquire: () => Promise.reject(down) } });
      await manager.start({ accessToken: 'a', refreshToken: 'r', expiresIn: 3600 });
      const error = await manager.forceRefresh().catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'lock_unavailable', permanent: false, cause: down });
      expect(client.calls).toBe(0);
      expect(manager.getRefreshStatus().state).toBe('backoff');
      await manager.stop();
    });
  });

  describe('refresh results', () => {
    it('keeps the old refresh token when the response has none (RFC 6749 section 6)', async () => {
      const client = new FakeOAuthClient(() => ({ accessToken: 'new', expiresIn: 3600 }));
      const { manager, store } = createTestManager({ client });
      await manager.start({ accessToken: 'a', refreshToken: 'keep-me', expiresIn: 3600 });
      await manager.forceRefresh();
      expect(manager.getTokens()).toMatchObject({ accessToken: 'new', refreshToken: 'keep-me' });
      expect(await store.load()).toMatchObject({ accessToken: 'new', refreshToken: 'keep-me' });
      await manager.forceRefresh();
      expect(client.presented).toEqual(['keep-me', 'keep-me']);
      await manager.stop();
    });

    it('counts expires_in from when the request started, not when it answered', async () => {
      const client = new FakeOAuthClient(async () => {
        await new Promise((resolve) => setTimeout(resolve, 20_000));
        return { accessToken: 'slow', refreshToken: 'r2', expiresIn: 3600 };
      });
      const { manager } = createTestManager({ client });
      await manager.start({ accessToken: 'a', refreshToken: 'r', expiresIn: 3600 });
      const started = Date.now();
      const forced = manager.forceRefresh();
      await vi.advanceTimersByTimeAsync(20_000);
      await forced;
      expect(manager.getExpiresAt()?.getTime()).toBe(started + 3600_000);
      await manager.stop();
    });

    it('saves new tokens before they replace the old ones in memory', async () => {
      const order: string[] = [];
      const holder: { manager?: TokenRefreshManager } = {};
      const store: TokenStore = {
        load: async () => null,
        save: async (tokens: StoredTokens) => {
          order.push(`save ${tokens.accessToken}; memory ${holder.manager?.getTokens()?.accessToken}`);
        },
      };
      const { manager } = createTestManager({ store });
      holder.manager = manager;
      await manager.start({ accessToken: 'a', refreshToken: 'r', expiresIn: 3600 });
      await manager.forceRefresh();
      expect(order).toEqual(['save a; memory undefined', 'save at-1; memory a']);
      await manager.stop();
    });

    it('a store failure after rotation keeps the new refresh token, serves it, and saves it later', async () => {
      const saved: StoredTokens[] = [];
      let failing = false;
      const store: TokenStore = {
        load: async () => null,
        save: async (tokens) => {
          if (failing) throw new Error('disk full');
          saved.push(tokens);
        },
      };
      const { manager, client, events } = createTestManager({ store });
      await manager.start({ accessToken: 'a', refreshToken: 'r0', expiresIn: 3600 });
      failing = true;
      await manager.forceRefresh();
      expect(manager.getTokens()?.refreshToken).toBe('rt-1');
      expect(await manager.getAccessToken()).toBe('at-1');
      expect(events.named(TokenRefreshEvents.STORE_FAILED)).toHaveLength(1);
      failing = false;
      await vi.advanceTimersByTimeAsync(MIN);
      expect(saved.at(-1)).toMatchObject({ accessToken: 'at-1', refreshToken: 'rt-1' });
      // And the next refresh presents the rotated token, never the spent one.
      await manager.forceRefresh();
      expect(client.presented).toEqual(['r0', 'rt-1']);
      await manager.stop();
    });

    it('keeps a rotated refresh token from a response without expires_in', async () => {
      const client = new FakeOAuthClient((_rt, call) => ({ accessToken: `at-${call}`, refreshToken: `rt-${call}` }));
      const { manager } = createTestManager({ client });
      await manager.start({ accessToken: 'a', refreshToken: 'r0', expiresIn: 600 });
      await manager.forceRefresh();
      expect(manager.getTokens()).toMatchObject({ accessToken: 'at-1', refreshToken: 'rt-1', expiresIn: 600 });
      await manager.forceRefresh();
      expect(client.presented).toEqual(['r0', 'rt-1']);
      await manager.stop();
    });
  });

  describe('failures', () => {
    it('retries transient errors with backoff and honours Retry-After, serving the old token meanwhile', async () => {
      let failures = 2;
      const client = new FakeOAuthClient((_rt, call) => {
        if (failures-- > 0) throw new TokenEndpointHttpError(503, 30_000);
        return { accessToken: `at-${call}`, refreshToken: `rt-${call}`, expiresIn: 3600 };
      });
      const { manager, events } = createTestManager({ options: { checkInterval: 10 * MIN }, client });
      await manager.start({ accessToken: 'old', refreshToken: 'r', expiresIn: 3600 });
      await expect(manager.forceRefresh()).rejects.toBeInstanceOf(TokenEndpointHttpError);
      const status = manager.getRefreshStatus();
      expect(status).toMatchObject({ state: 'backoff', consecutiveFailures: 1, lastError: { code: 'http_error' } });
      expect(status.nextAttemptAt?.getTime()).toBe(Date.now() + 30_000);
      expect(await manager.getAccessToken()).toBe('old');
      await vi.advanceTimersByTimeAsync(30_000 - 1);
      expect(client.calls).toBe(1);
      await vi.advanceTimersByTimeAsync(1);
      expect(client.calls).toBe(2);
      await vi.advanceTimersByTimeAsync(30_000);
      expect(client.calls).toBe(3);
      expect(manager.getRefreshStatus()).toMatchObject({ state: 'idle', consecutiveFailures: 0, lastError: null });
      expect(events.named(TokenRefreshEvents.REFRESH_FAILED)).toMatchObject([
        { attempt: 1, willRetry: true },
        { attempt: 2, willRetry: true },
      ]);
      await manager.stop();
    });

    it('a permanent error calls onRefreshFail once, then sends no more requests', async () => {
      const client = new FakeOAuthClient(() => {
        throw new OAuthProtocolError({ error: 'invalid_grant', status: 400, errorDescription: 'grant revoked' });
      });
      const onRefreshFail = vi.fn(() => false);
      const { manager, events } = createTestManager({ options: { onRefreshFail }, client });
      await manager.start({ accessToken: 'a', refreshToken: 'r', expiresIn: 3600 });
      await expect(manager.forceRefresh()).rejects.toMatchObject({ code: 'oauth_error', error: 'invalid_grant', permanent: true });
      await vi.advanceTimersByTimeAsync(24 * 3600_000);
      expect(client.calls).toBe(1);
      expect(onRefreshFail).toHaveBeenCalledTimes(1);
      expect(manager.getRefreshStatus().state).toBe('reauth-required');
      expect(events.named(TokenRefreshEvents.REAUTH_REQUIRED)).toHaveLength(1);
      expect(events.named(TokenRefreshEvents.EXPIRED)).toHaveLength(1);
      await expect(manager.getAccessToken()).rejects.toBeInstanceOf(ReauthRequiredError);
      await expect(manager.forceRefresh()).rejects.toBeInstanceOf(ReauthRequiredError);
      // updateTokens revives it.
      await manager.updateTokens({ accessToken: 'b', refreshToken: 'r2', expiresIn: 3600 });
      expect(manager.getRefreshStatus().state).toBe('idle');
      expect(await manager.getAccessToken()).toBe('b');
      await manager.stop();
    });

    it('onRefreshFail returning true runs reauthenticate and resumes with its tokens', async () => {
      const client = new FakeOAuthClient((rt, call) => {
        if (rt === 'dead') throw new OAuthProtocolError({ error: 'invalid_grant', status: 400 });
        return { accessToken: `at-${call}`, refreshToken: `rt-${call}`, expiresIn: 3600 };
      });
      const reauthenticate = vi.fn(async () => ({ accessToken: 'fresh', refreshToken: 'alive', expiresIn: 3600 }));
      const onRefreshFail = vi.fn(async () => true);
      const { manager, events, store } = createTestManager({ options: { onRefreshFail, reauthenticate }, client });
      await manager.start({ accessToken: 'a', refreshToken: 'dead', expiresIn: 3600 });
      await manager.forceRefresh();
      expect(reauthenticate).toHaveBeenCalledTimes(1);
      expect(await manager.getAccessToken()).toBe('fresh');
      expect(await store.load()).toMatchObject({ refreshToken: 'alive' });
      expect(events.named(TokenRefreshEvents.REAUTHENTICATED)).toHaveLength(1);
      await vi.advanceTimersByTimeAsync(55 * MIN);
      expect(client.presented).toEqual(['dead', 'alive']);
      await manager.stop();
    });

    it('onRefreshFail returning true without reauthenticate still parks in reauth-required', async () => {
      const client = new FakeOAuthClient(() => {
        throw new OAuthProtocolError({ error: 'invalid_client', status: 401 });
      });
      const { manager } = createTestManager({ options: { onRefreshFail: () => true }, client });
      await manager.start({ accessToken: 'a', refreshToken: 'r', expiresIn: 3600 });
      await expect(manager.forceRefresh()).rejects.toMatchObject({ code: 'oauth_error', error: 'invalid_client' });
      expect(manager.getRefreshStatus().state).toBe('reauth-required');
      await manager.stop();
    });

    it('maxAttempts ends a transient episode like a permanent one', async () => {
      const client = new FakeOAuthClient(() => {
        throw new TokenEndpointHttpError(503);
      });
      const onRefreshFail = vi.fn(() => false);
      const { manager } = createTestManager({ options: { onRefreshFail, retry: { maxAttempts: 3, initialDelay: 1000, maxDelay: 1000 } }, client });
      await manager.start({ accessToken: 'a', refreshToken: 'r', expiresIn: 3600 });
      await manager.forceRefresh().catch(() => undefined);
      await vi.advanceTimersByTimeAsync(3600_000);
      expect(client.calls).toBe(3);
      expect(onRefreshFail).toHaveBeenCalledTimes(1);
      expect(manager.getRefreshStatus().state).toBe('reauth-required');
      await manager.stop();
    });

    it('once expired while failing, getAccessToken rejects with TokenExpiredError', async () => {
      const client = new FakeOAuthClient(() => {
        throw new TokenEndpointHttpError(503);
      });
      const { manager, events } = createTestManager({ client });
      await manager.start({ accessToken: 'a', refreshToken: 'r', expiresIn: 600 });
      await vi.advanceTimersByTimeAsync(11 * MIN);
      await expect(manager.getAccessToken()).rejects.toBeInstanceOf(TokenExpiredError);
      expect(events.named(TokenRefreshEvents.EXPIRED)).toHaveLength(1);
      expect(manager.peekAccessToken()).toBeUndefined();
      await manager.stop();
    });

    it('a zero backoff delay retries at once, not at the next check', async () => {
      let failures = 1;
      const client = new FakeOAuthClient((_rt, call) => {
        if (failures-- > 0) throw new TokenEndpointHttpError(503);
        return { accessToken: `at-${call}`, refreshToken: `rt-${call}`, expiresIn: 3600 };
      });
      const { manager } = createTestManager({ options: { checkInterval: 10 * MIN }, client, random: () => 0 });
      await manager.start({ accessToken: 'a', refreshToken: 'r', expiresIn: 3600 });
      await manager.forceRefresh().catch(() => undefined);
      await vi.advanceTimersByTimeAsync(1);
      expect(client.calls).toBe(2);
      expect(manager.getRefreshStatus().state).toBe('idle');
      await manager.stop();
    });
  });

  describe('stop with a refresh in flight', () => {
    it('waits for it (up to shutdownTimeout) so the rotated token is saved', async () => {
      const client = new FakeOAuthClient(() => ({ accessToken: 'rotated', refreshToken: 'rt-new', expiresIn: 3600 }));
      client.hold();
      const { manager, store } = createTestManager({ options: { shutdownTimeout: 5000 }, client });
      await manager.start({ accessToken: 'a', refreshToken: 'r', expiresIn: 3600 });
      const forced = manager.forceRefresh();
      await flush();
      const stopped = manager.stop();
      await vi.advanceTimersByTimeAsync(1000);
      client.release();
      await stopped;
      await forced;
      expect(await store.load()).toMatchObject({ refreshToken: 'rt-new' });
      expect(vi.getTimerCount()).toBe(0);
    });

    it('aborts it after shutdownTimeout', async () => {
      let aborted = false;
      const client = new FakeOAuthClient(
        (_rt, _call, { signal }) =>
          new Promise((_resolve, reject) => {
            signal.addEventListener('abort', () => {
              aborted = true;
              reject(signal.reason);
            });
          }),
      );
      const { manager } = createTestManager({ options: { shutdownTimeout: 2000 }, client });
      await manager.start({ accessToken: 'a', refreshToken: 'r', expiresIn: 3600 });
      const forced = manager.forceRefresh().catch((error: unknown) => error);
      await flush();
      const stopped = manager.stop();
      await vi.advanceTimersByTimeAsync(2000);
      await stopped;
      expect(aborted).toBe(true);
      expect(await forced).toMatchObject({ code: 'aborted' });
      expect(manager.getRefreshStatus().state).toBe('stopped');
      expect(vi.getTimerCount()).toBe(0);
    });

    it('keeps tokens that arrive after stop aborted a client that ignores the signal', async () => {
      const client = new FakeOAuthClient(() => ({ accessToken: 'late', refreshToken: 'rt-late', expiresIn: 3600 }));
      client.hold();
      const { manager, store } = createTestManager({ options: { shutdownTimeout: 1000 }, client });
      await manager.start({ accessToken: 'a', refreshToken: 'r', expiresIn: 3600 });
      const forced = manager.forceRefresh().catch(() => undefined);
      await flush();
      const stopped = manager.stop();
      await vi.advanceTimersByTimeAsync(1000); // shutdownTimeout passes: aborted
      client.release(); // the answer comes anyway, within the grace
      await vi.advanceTimersByTimeAsync(1000);
      await stopped;
      await forced;
      expect(await store.load()).toMatchObject({ refreshToken: 'rt-late' });
      expect(manager.getTokens()?.refreshToken).toBe('rt-late');
    });

    it('a refresh queued behind a stale flight is not sent once stop() has begun', async () => {
      const client = new FakeOAuthClient(
        (rt, call, { signal }) =>
          new Promise((resolve, reject) => {
            if (rt === 'old') signal.addEventListener('abort', () => reject(signal.reason));
            else resolve({ accessToken: `at-${call}`, refreshToken: `rt-${call}`, expiresIn: 3600 });
          }),
      );
      const { manager, store } = createTestManager({ client });
      await manager.start({ accessToken: 'a', refreshToken: 'old', expiresIn: 3600 });
      const first = manager.forceRefresh().catch((error: unknown) => error);
      await flush();
      await manager.updateTokens({ accessToken: 'b', refreshToken: 'r1', expiresIn: 3600 });
      const queued = manager.forceRefresh().catch((error: unknown) => error);
      await manager.stop();
      expect(await first).toMatchObject({ code: 'aborted' });
      expect(await queued).toMatchObject({ code: 'aborted' });
      expect(client.presented).toEqual(['old']);
      expect(await store.load()).toMatchObject({ refreshToken: 'r1' });
      expect(vi.getTimerCount()).toBe(0);
    });

    it('tokens that arrive after the abort grace are still saved and kept', async () => {
      const client = new FakeOAuthClient(async () => {
        await new Promise((resolve) => setTimeout(resolve, 1500));
        return { accessToken: 'late', refreshToken: 'rt-late', expiresIn: 3600 };
      });
      const { manager, store } = createTestManager({ options: { shutdownTimeout: 200 }, client });
      await manager.start({ accessToken: 'a', refreshToken: 'r0', expiresIn: 3600 });
      void manager.forceRefresh().catch(() => undefined);
      await flush();
      const stopped = manager.stop();
      await vi.advanceTimersByTimeAsync(400);
      await stopped;
      expect(manager.isRunning()).toBe(false);
      await vi.advanceTimersByTimeAsync(1100);
      expect(await store.load()).toMatchObject({ refreshToken: 'rt-late' });
      expect(manager.getTokens()?.refreshToken).toBe('rt-late');
      expect(manager.getRefreshStatus().state).toBe('stopped');
    });

    it('a failure that lands during stop() arms nothing and asks nobody', async () => {
      let permanent = false;
      const client = new FakeOAuthClient(() => {
        throw permanent ? new OAuthProtocolError({ error: 'invalid_grant', status: 400 }) : new TokenEndpointHttpError(503);
      });
      const onRefreshFail = vi.fn(() => true);
      const reauthenticate = vi.fn(async () => ({ accessToken: 'x', refreshToken: 'y', expiresIn: 3600 }));
      for (const kind of [false, true]) {
        permanent = kind;
        client.hold();
        const { manager, events } = createTestManager({ options: { onRefreshFail, reauthenticate }, client });
        await manager.start({ accessToken: 'a', refreshToken: 'r', expiresIn: 3600 });
        void manager.forceRefresh().catch(() => undefined);
        await flush();
        const stopped = manager.stop();
        client.release();
        await stopped;
        expect(vi.getTimerCount()).toBe(0);
        expect(events.named(TokenRefreshEvents.REFRESH_FAILED)).toHaveLength(0);
        expect(manager.getRefreshStatus()).toMatchObject({ state: 'stopped', lastError: kind ? { code: 'oauth_error', oauthError: 'invalid_grant' } : { code: 'http_error' } });
      }
      expect(onRefreshFail).not.toHaveBeenCalled();
      expect(reauthenticate).not.toHaveBeenCalled();
    });
  });

  describe('updateTokens during a refresh', () => {
    it('aborts the stale refresh and a following forceRefresh uses the new refresh token', async () => {
      const client = new FakeOAuthClient(
        (rt, call, { signal }) =>
          new Promise((resolve, reject) => {
            if (rt === 'old-rt') {
              signal.addEventListener('abort', () => reject(signal.reason));
              return;
            }
            resolve({ accessToken: `at-${call}`, refreshToken: `rt-${call}`, expiresIn: 3600 });
          }),
      );
      const { manager, store } = createTestManager({ client });
      await manager.start({ accessToken: 'a', refreshToken: 'old-rt', expiresIn: 3600 });
      const stale = manager.forceRefresh().catch((error: unknown) => error);
      await flush();
      await manager.updateTokens({ accessToken: 'b', refreshToken: 'new-rt', expiresIn: 3600 });
      await manager.forceRefresh();
      expect(await stale).toMatchObject({ code: 'aborted' });
      expect(client.presented).toEqual(['old-rt', 'new-rt']);
      expect(manager.getTokens()?.refreshToken).toBe('rt-2');
      expect(await store.load()).toMatchObject({ refreshToken: 'rt-2' });
      expect(manager.getRefreshStatus()).toMatchObject({ state: 'idle', consecutiveFailures: 0 });
      await manager.stop();
    });
  });

  describe('status, events and secrecy', () => {
    it('emits started and refreshed with names, times and source', async () => {
      const { manager, events } = createTestManager();
      await manager.start({ accessToken: 'a', refreshToken: 'r', expiresIn: 3600 });
      await vi.advanceTimersByTimeAsync(55 * MIN);
      await manager.stop();
      expect(events.emitted.map(([name]) => name)).toEqual([
        TokenRefreshEvents.STARTED,
        TokenRefreshEvents.REFRESHED,
        TokenRefreshEvents.STOPPED,
      ]);
      expect(events.named(TokenRefreshEvents.STARTED)[0]).toEqual({ name: 'default', at: new Date(T0), expiresAt: new Date(T0 + 60 * MIN) });
      expect(events.named(TokenRefreshEvents.REFRESHED)[0]).toEqual({
        name: 'default',
        at: new Date(T0 + 55 * MIN),
        expiresAt: new Date(T0 + 115 * MIN),
        refreshAt: new Date(T0 + 110 * MIN),
        source: 'refresh',
        durationMs: 0,
      });
    });

    it('a throwing event listener does not break refreshing', async () => {
      const client = new FakeOAuthClient();
      const { manager } = createTestManager({
        client,
        events: {
          emit: () => {
            throw new Error('listener bug');
          },
        },
      });
      await manager.start({ accessToken: 'a', refreshToken: 'r', expiresIn: 3600 });
      await manager.forceRefresh();
      expect(await manager.getAccessToken()).toBe('at-1');
      await manager.stop();
    });

    it('reports the Go status fields in ms and Dates', async () => {
      const { manager } = createTestManager();
      await manager.start({ accessToken: 'a', refreshToken: 'r', expiresIn: 3600 });
      await vi.advanceTimersByTimeAsync(10 * MIN);
      expect(manager.getRefreshStatus()).toEqual({
        name: 'default',
        isRunning: true,
        state: 'idle',
        expiresAt: new Date(T0 + 60 * MIN),
        refreshAt: new Date(T0 + 55 * MIN),
        lastRefreshAt: null,
        timeUntilExpiry: 50 * MIN,
        timeUntilRefresh: 45 * MIN,
        needsRefresh: false,
        consecutiveFailures: 0,
        lastError: null,
        nextAttemptAt: null,
      });
      await manager.stop();
    });

    it('getTokens() returns a frozen copy', async () => {
      const { manager } = createTestManager();
      await manager.start({ accessToken: 'a', refreshToken: 'r', expiresIn: 3600, scope: 'read' });
      const tokens = manager.getTokens()!;
      expect(Object.isFrozen(tokens)).toBe(true);
      expect(tokens).toMatchObject({ accessToken: 'a', refreshToken: 'r', tokenType: 'Bearer', expiresIn: 3600, scope: 'read' });
      await manager.stop();
    });

    it('never puts a token into events, status, errors or its own inspection', async () => {
      const secrets = ['AT-SECRET-1', 'RT-SECRET-1', 'AT-SECRET-2', 'RT-SECRET-2'];
      let call = 0;
      const client = new FakeOAuthClient(() => {
        call++;
        if (call === 1) return { accessToken: 'AT-SECRET-2', refreshToken: 'RT-SECRET-2', expiresIn: 3600 };
        if (call === 2) throw new TokenEndpointHttpError(503);
        throw new OAuthProtocolError({ error: 'invalid_grant', status: 400 });
      });
      const { manager, events } = createTestManager({ client });
      await manager.start({ accessToken: 'AT-SECRET-1', refreshToken: 'RT-SECRET-1', expiresIn: 3600 });
      const errors: unknown[] = [];
      for (let i = 0; i < 3; i++) await manager.forceRefresh().catch((error: unknown) => errors.push(error));
      await manager.getAccessToken().catch((error: unknown) => errors.push(error));
      await manager.stop();
      const surfaces = [
        JSON.stringify(events.emitted),
        inspect(events.emitted, { depth: Infinity }),
        JSON.stringify(manager.getRefreshStatus()),
        inspect(manager, { depth: Infinity, showHidden: true }),
        JSON.stringify(manager),
        ...errors.map((error) => inspect(error, { depth: Infinity, showHidden: true }) + JSON.stringify(error)),
      ];
      expect(errors.length).toBeGreaterThanOrEqual(2);
      for (const surface of surfaces) for (const secret of secrets) expect(surface).not.toContain(secret);
    });

    it('announces started before anything about the tokens it started with', async () => {
      const { manager, events } = createTestManager();
      await manager.start({ accessToken: 'old', refreshToken: 'r', expiresAt: T0 - 1 });
      await flush();
      expect(events.emitted.map(([name]) => name)).toEqual([
        TokenRefreshEvents.STARTED,
        TokenRefreshEvents.EXPIRED,
        TokenRefreshEvents.REFRESHED,
      ]);
      await manager.stop();
    });

    it('scrubs held tokens from the message of a foreign error', async () => {
      const client = new FakeOAuthClient((rt) => {
        throw new Error(`POST /token refresh_token=${rt} failed; bearer AT-HELD-1`);
      });
      const { manager, events } = createTestManager({ client });
      await manager.start({ accessToken: 'AT-HELD-1', refreshToken: 'RT-HELD-1', expiresIn: 3600 });
      const error = await manager.forceRefresh().catch((thrown: unknown) => thrown);
      expect(error).toMatchObject({ code: 'unknown_error', message: 'Error: POST /token refresh_token=[redacted] failed; bearer [redacted]' });
      const surfaces = JSON.stringify([events.emitted, manager.getRefreshStatus()]) + inspect(error, { showHidden: true });
      expect(surfaces).not.toContain('RT-HELD-1');
      expect(surfaces).not.toContain('AT-HELD-1');
      await manager.stop();
    });
  });
});
