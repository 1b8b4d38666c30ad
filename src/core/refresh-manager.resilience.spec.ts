import { SignJWT } from 'jose';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { deferred, FakeOAuthClient } from '../../test/support/fake-oauth-client';
import { createTestManager } from '../../test/support/manager';
import { ReuseDetectingServer } from '../../test/support/reuse-detecting-server';
import { type RefreshLock } from '../common/interfaces/refresh-lock.interface';
import { type StoredTokens, type TokenStore } from '../common/interfaces/token-store.interface';
import { parseTokenResponse } from '../oauth/token-response.parser';
import { TokenRefreshEvents } from '../common/token-refresh.constants';
import { type TokenRefreshStoreFailedEvent } from '../common/token-refresh.events';
import { TokenEndpointHttpError, TokenStoreUnreadableError } from '../common/token-refresh.errors';
import { InMemoryTokenStore } from './in-memory-token.store';

/*
 * Ways the promise ("a rotated refresh token is never lost, a replica never stalls for good")
 * broke under hostile but real conditions, each reproduced against a server that revokes the
 * grant when a refresh token is presented twice.
 */

const T0 = Date.UTC(2026, 0, 1);
const HOUR = 3_600_000;
const flush = () => vi.advanceTimersByTimeAsync(0);

/** A lock that says other replicas exist, so the manager re-reads the store under it. */
const distributedLock: RefreshLock = { distributed: true, acquire: async () => ({ release: async () => undefined }) };

/** A store whose calls the test can make throw, hang or misbehave, wrapping a real in-memory one. */
class ChaosStore implements TokenStore {
  readonly inner = new InMemoryTokenStore();
  load: TokenStore['load'] = () => this.inner.load();
  save: TokenStore['save'] = (tokens) => this.inner.save(tokens);
  loads = 0;
  saves = 0;
  constructor() {
    const load = this.load;
    const save = this.save;
    this.load = () => {
      this.loads++;
      return load();
    };
    this.save = (tokens) => {
      this.saves++;
      return save(tokens);
    };
  }
}

const never = <T>(): Promise<T> => new Promise<T>(() => undefined);

describe('TokenRefreshManager under hostile conditions', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(T0);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  describe('a 200 that rotates the refresh token but is odd elsewhere keeps the rotation', () => {
    const odd: Array<[string, Record<string, unknown>]> = [
      ['expires_in "3600.0"', { expires_in: '3600.0' }],
      ['expires_in "3600.5"', { expires_in: '3600.5' }],
      ['expires_in -1', { expires_in: -1 }],
      ['expires_in over ten years', { expires_in: 11 * 365 * 24 * 3600 }],
      ['scope as an array', { scope: ['openid', 'email'] }],
      ['id_token as an object', { id_token: { sub: 'x' } }],
      ['no token_type', { token_type: undefined }],
    ];

    it.each(odd)('%s: saved, served, and the next refresh presents the new refresh token', async (_label, fields) => {
      const server = new ReuseDetectingServer('rt-0');
      // The real parser, on the body a provider really sent.
      server.shape = (reply) => {
        const body = { access_token: reply.accessToken, token_type: 'Bearer', refresh_token: reply.refreshToken, expires_in: 3600, ...fields };
        return parseTokenResponse(200, { 'content-type': 'application/json' }, JSON.stringify(body), Date.now());
      };
      const { manager, store } = createTestManager({ client: server });
      await manager.start({ accessToken: 'at-0', refreshToken: 'rt-0', expiresIn: 3600 });
      await manager.forceRefresh();
      expect(await store.load()).toMatchObject({ refreshToken: 'rt-1' });
      expect(await manager.getAccessToken()).toBe('at-1');
      await manager.forceRefresh();
      expect(server.presented).toEqual(['rt-0', 'rt-1']);
      expect(server.reuse).toBe(0);
      await manager.stop();
    });

    it('a rotation without a usable access token keeps the new refresh token; the retry presents it', async () => {
      const server = new ReuseDetectingServer('rt-0');
      server.shape = (reply, call) => (call === 1 ? { refreshToken: reply.refreshToken } : reply);
      const { manager, store, events } = createTestManager({ client: server });
      await manager.start({ accessToken: 'at-0', refreshToken: 'rt-0', expiresIn: 3600 });
      await expect(manager.forceRefresh()).rejects.toMatchObject({ code: 'invalid_response', permanent: false });
      expect(await store.load()).toMatchObject({ accessToken: 'at-0', refreshToken: 'rt-1' });
      expect(await manager.getAccessToken()).toBe('at-0');
      expect(manager.getRefreshStatus()).toMatchObject({ state: 'backoff', consecutiveFailures: 1 });
      await vi.advanceTimersByTimeAsync(2_000);
      expect(server.presented).toEqual(['rt-0', 'rt-1']);
      expect(server.reuse).toBe(0);
      expect(await manager.getAccessToken()).toBe('at-2');
      expect(events.named(TokenRefreshEvents.REFRESHED)).toHaveLength(1);
      await manager.stop();
    });
  });

  describe('an unreadable stored record', () => {
    it('is reported once, treated as absent, and overwritten by the next save; refreshing goes on', async () => {
      const server = new ReuseDetectingServer('rt-0');
      const store = new ChaosStore();
      const { manager, events } = createTestManager({ client: server, store, lock: distributedLock });
      await manager.start({ accessToken: 'at-0', refreshToken: 'rt-0', expiresIn: 3600 });
      store.load = async () => {
        throw new TokenStoreUnreadableError('unknown format version');
      };
      await manager.forceRefresh();
      await manager.forceRefresh();
      expect(server.presented).toEqual(['rt-0', 'rt-1']);
      expect(await store.inner.load()).toMatchObject({ refreshToken: 'rt-2' });
      const failed = events.named(TokenRefreshEvents.STORE_FAILED) as TokenRefreshStoreFailedEvent[];
      expect(failed).toHaveLength(1);
      expect(failed[0]).toMatchObject({ operation: 'load', willRetry: false, error: { code: 'store_unreadable' } });
      await manager.stop();
    });

    it('a stored pair the manager cannot use (a custom store returning junk) counts as unreadable too', async () => {
      const server = new ReuseDetectingServer('rt-0');
      const store = new ChaosStore();
      const { manager, events } = createTestManager({ client: server, store, lock: distributedLock });
      await manager.start({ accessToken: 'at-0', refreshToken: 'rt-0', expiresIn: 3600 });
      store.load = async () => ({ accessToken: '', expiresIn: -5 });
      await manager.forceRefresh();
      expect(manager.getRefreshStatus().state).toBe('idle');
      expect(events.named(TokenRefreshEvents.STORE_FAILED)).toMatchObject([{ error: { code: 'store_unreadable' } }]);
      await manager.stop();
    });
  });

  describe('clock steps', () => {
    it('a rotation made after the wall clock stepped back two hours is saved, and the spent token is never adopted', async () => {
      const server = new ReuseDetectingServer('rt-0');
      const store = new ChaosStore();
      const { manager } = createTestManager({ client: server, store, lock: distributedLock });
      await manager.start({ accessToken: 'at-0', refreshToken: 'rt-0', expiresIn: 3600 });
      vi.setSystemTime(Date.now() - 2 * HOUR); // NTP correction, VM restore
      await manager.forceRefresh();
      expect(await store.inner.load()).toMatchObject({ refreshToken: 'rt-1' });
      await manager.forceRefresh();
      expect(server.presented).toEqual(['rt-0', 'rt-1']);
      expect(server.reuse).toBe(0);
      await manager.stop();
    });

    it('after the wall clock steps back, a token that has really expired is not handed out', async () => {
      const client = new FakeOAuthClient(() => {
        throw new TokenEndpointHttpError(503);
      });
      const { manager } = createTestManager({ client, options: { retry: { initialDelay: 1000, maxDelay: 10 * 60_000 } } });
      await manager.start({ accessToken: 'at-0', refreshToken: 'rt-0', expiresIn: 3600 });
      await vi.advanceTimersByTimeAsync(HOUR + 60_000); // refreshing failed all along; expired a minute ago
      vi.setSystemTime(Date.now() - 2 * HOUR);
      await expect(manager.getAccessToken()).rejects.toMatchObject({ code: 'token_expired' });
      expect(manager.peekAccessToken()).toBeUndefined();
      expect(manager.getRefreshStatus().timeUntilExpiry).toBe(0);
      await manager.stop();
    });

    it('after the wall clock steps back, the refresh still starts on time', async () => {
      const server = new ReuseDetectingServer('rt-0');
      const { manager } = createTestManager({ client: server, options: { checkInterval: 60_000 } });
      await manager.start({ accessToken: 'at-0', refreshToken: 'rt-0', expiresIn: 3600 });
      vi.setSystemTime(Date.now() - 2 * HOUR);
      // The check interval runs meanwhile; it must not re-arm the refresh two hours late.
      await vi.advanceTimersByTimeAsync(55 * 60_000);
      expect(server.presented).toEqual(['rt-0']);
      await manager.stop();
    });

    it('after a jump forward (a suspended machine waking), an expired token is refreshed before it is served', async () => {
      const server = new ReuseDetectingServer('rt-0');
      const { manager } = createTestManager({ client: server });
      await manager.start({ accessToken: 'at-0', refreshToken: 'rt-0', expiresIn: 3600 });
      vi.setSystemTime(Date.now() + 3 * HOUR);
      expect(manager.peekAccessToken()).toBeUndefined();
      expect(await manager.getAccessToken()).toBe('at-1');
      await manager.stop();
    });

    it('a save that loses the comparison (the store holds a newer version) is reported, not silent, and not retried', async () => {
      const store = new ChaosStore();
      const { manager, events } = createTestManager({ store });
      await manager.start({ accessToken: 'at-0', refreshToken: 'rt-0', expiresIn: 3600 });
      const held = (await store.inner.load()) as StoredTokens;
      await store.inner.save({ ...held, accessToken: 'elsewhere', version: held.version + 5 });
      const saves = store.saves;
      await manager.forceRefresh();
      await vi.advanceTimersByTimeAsync(10 * 60_000);
      expect(store.saves).toBe(saves + 1);
      const failed = events.named(TokenRefreshEvents.STORE_FAILED) as TokenRefreshStoreFailedEvent[];
      expect(failed).toMatchObject([{ operation: 'save', willRetry: false, error: { code: 'store_conflict' } }]);
      await manager.stop();
    });
  });

  describe('a store that never answers', () => {
    it('start(tokens) and stop() still return: a hung save counts as failed after storeTimeout', async () => {
      const store = new ChaosStore();
      store.save = () => never();
      const { manager, events } = createTestManager({ store, options: { storeTimeout: 2000, shutdownTimeout: 1000 } });
      const started = manager.start({ accessToken: 'at-0', refreshToken: 'rt-0', expiresIn: 3600 });
      await vi.advanceTimersByTimeAsync(2000);
      await started;
      expect(manager.isRunning()).toBe(true);
      expect(events.named(TokenRefreshEvents.STORE_FAILED)).toMatchObject([{ operation: 'save', error: { code: 'store_failed' } }]);
      const t = performance.now();
      const stopped = manager.stop();
      await vi.advanceTimersByTimeAsync(2000);
      await stopped;
      expect(performance.now() - t).toBeLessThanOrEqual(2000);
      expect(manager.isRunning()).toBe(false);
    });

    it('a refresh whose save hangs still serves the tokens that arrived, and saves them later', async () => {
      const server = new ReuseDetectingServer('rt-0');
      const store = new ChaosStore();
      const { manager } = createTestManager({ client: server, store, options: { storeTimeout: 3000 } });
      await manager.start({ accessToken: 'at-0', refreshToken: 'rt-0', expiresAt: T0 + 5 * 60_000 });
      store.save = () => never();
      const forced = manager.forceRefresh();
      await vi.advanceTimersByTimeAsync(3000);
      await forced;
      expect(manager.getRefreshStatus().state).toBe('idle');
      vi.setSystemTime(T0 + 10 * 60_000); // the old token has expired
      expect(await manager.getAccessToken()).toBe('at-1');
      store.save = (tokens) => store.inner.save(tokens);
      await vi.advanceTimersByTimeAsync(10_000); // the store retry runs
      expect(await store.inner.load()).toMatchObject({ refreshToken: 'rt-1' });
      await manager.stop();
    });

    it('start() from a store whose load hangs fails with store_failed after storeTimeout', async () => {
      const store = new ChaosStore();
      store.load = () => never();
      const { manager } = createTestManager({ store, options: { storeTimeout: 1500 } });
      const started = manager.start().catch((error: unknown) => error);
      await vi.advanceTimersByTimeAsync(1500);
      expect(await started).toMatchObject({ code: 'store_failed', message: expect.stringContaining('timed out after 1500 ms') });
      expect(manager.isRunning()).toBe(false);
    });
  });

  it('stop() then start() while a refresh the server already answered is still on its way keeps that rotation', async () => {
    const server = new ReuseDetectingServer('rt-0');
    const answer = deferred<void>();
    // A slow token endpoint whose client ignores the abort signal.
    server.shape = async (reply) => {
      await answer.promise;
      return reply;
    };
    const { manager, store } = createTestManager({ client: server, options: { shutdownTimeout: 1000 } });
    await manager.start({ accessToken: 'at-0', refreshToken: 'rt-0', expiresIn: 3600 });
    void manager.forceRefresh().catch(() => undefined);
    await flush();
    const stopped = manager.stop();
    await vi.advanceTimersByTimeAsync(2000);
    await stopped;
    const restarted = manager.start();
    await vi.advanceTimersByTimeAsync(1000);
    await restarted;
    answer.resolve();
    await flush();
    expect(await store.load()).toMatchObject({ refreshToken: 'rt-1' });
    expect(await manager.getAccessToken()).toBe('at-1');
    await manager.forceRefresh();
    expect(server.presented).toEqual(['rt-0', 'rt-1']);
    expect(server.reuse).toBe(0);
    await manager.stop();
  });

  it('overlapping start() calls (autoStart and the app\'s own), then stop(), leave no watcher or timer, and end on stopped', async () => {
    const loaded = deferred<StoredTokens>();
    let watching = 0;
    const store: TokenStore = {
      load: () => loaded.promise,
      save: async () => undefined,
      watch: () => {
        watching++;
        return () => {
          watching--;
        };
      },
    };
    const { manager, events } = createTestManager({ store });
    const fromStore = manager.start().catch((error: unknown) => error); // autoStart: its load is slow
    const fromApp = manager.start({ accessToken: 'at-app', refreshToken: 'rt-app', expiresIn: 3600 }).catch((error: unknown) => error);
    const stopped = manager.stop();
    await vi.advanceTimersByTimeAsync(5000); // shutdownTimeout: stop() gives up on the slow start
    await stopped;
    loaded.resolve({ accessToken: 'at-0', refreshToken: 'rt-0', tokenType: 'Bearer', expiresAt: new Date(T0 + HOUR), issuedAt: new Date(T0), version: 1 });
    await Promise.all([fromStore, fromApp]);
    await flush();
    expect(manager.isRunning()).toBe(false);
    expect(watching).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    // Nothing was left started: any started is followed by a stopped.
    const names = events.emitted.map(([name]) => name);
    const lastStarted = names.lastIndexOf(TokenRefreshEvents.STARTED);
    expect(lastStarted === -1 || names.lastIndexOf(TokenRefreshEvents.STOPPED) > lastStarted).toBe(true);
  });

  it('stop() keeps one deadline for everything: a slow start, a refresh that ignores the abort, a hung save', async () => {
    const server = new ReuseDetectingServer('rt-0');
    server.shape = () => never();
    const store = new ChaosStore();
    const { manager } = createTestManager({ client: server, store, options: { shutdownTimeout: 1000, storeTimeout: 60_000 } });
    await manager.start({ accessToken: 'at-0', refreshToken: 'rt-0', expiresIn: 3600 });
    void manager.forceRefresh().catch(() => undefined);
    await flush();
    store.save = () => never();
    store.load = () => never();
    // A start() that overlaps: its store load never answers.
    void manager.start().catch(() => undefined);
    const t = performance.now();
    let done = false;
    void manager.stop().then(() => {
      done = true;
    });
    await vi.advanceTimersByTimeAsync(2000);
    expect(done).toBe(true);
    expect(performance.now() - t).toBeLessThanOrEqual(2000);
    expect(manager.isRunning()).toBe(false);
  });

  it('start() with a JWT whose exp is in microseconds throws a TokenValidationError and changes nothing', async () => {
    const exp = (Math.floor(T0 / 1000) + 900) * 1_000_000;
    const jwt = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setExpirationTime(exp).sign(new Uint8Array(32));
    const { manager, events } = createTestManager();
    await expect(manager.start({ accessToken: jwt, refreshToken: 'rt-0' })).rejects.toMatchObject({ code: 'invalid_tokens', field: 'accessToken' });
    expect(manager.isRunning()).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
    expect(events.emitted).toEqual([]);
  });
});
