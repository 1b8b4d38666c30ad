import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { GrantServer } from '../../test/support/grant-server';
import { IndexedKeyedStore } from '../../test/support/indexed-keyed-store';
import { createKeyedTestManager } from '../../test/support/manager';
import { TokenRefreshEvents } from '../common/token-refresh.constants';
import { type TokenRefreshEvent } from '../common/token-refresh.events';
import { ReauthRequiredError, TokenValidationError } from '../common/token-refresh.errors';

const T0 = Date.UTC(2026, 0, 1);
const MIN = 60_000;
const flush = () => vi.advanceTimersByTimeAsync(0);

describe('KeyedTokenRefreshManager', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(T0);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /** A manager on a GrantServer, with `count` users connected, each a grant of its own. */
  async function connected(count: number, options = {}, store?: IndexedKeyedStore) {
    const server = new GrantServer(3600);
    const setup = createKeyedTestManager({ client: server, store, options });
    await setup.manager.start();
    const logins = new Map<string, string>();
    for (let i = 0; i < count; i++) {
      const login = server.login();
      logins.set(`user-${i}`, login.refreshToken!);
      await setup.manager.set(`user-${i}`, login);
    }
    return { ...setup, server, logins };
  }

  it('holds a credential per key and refreshes each ahead of its expiry, with the key in every event', async () => {
    const { manager, server, events } = await connected(3);
    expect(await manager.getAccessToken('user-1')).toBe('at-2');
    await vi.advanceTimersByTimeAsync(55 * MIN);
    expect(server.presented.sort()).toEqual(['rt-1', 'rt-2', 'rt-3']);
    expect(await manager.getAccessToken('user-1')).not.toBe('at-2');
    const keys = (events.named(TokenRefreshEvents.REFRESHED) as TokenRefreshEvent[]).map((event) => event.key).sort();
    expect(keys).toEqual(['user-0', 'user-1', 'user-2']);
    expect(server.reuse).toBe(0);
    await manager.stop();
  });

  it('shares one refresh per key among concurrent callers at expiry', async () => {
    const { manager, server } = await connected(2);
    vi.setSystemTime(T0 + 3600_000 - 1000); // about to expire, past its refresh time
    const tokens = await Promise.all(Array.from({ length: 100 }, () => manager.getAccessToken('user-0')));
    expect(new Set(tokens).size).toBe(1);
    expect(server.presented.filter((rt) => rt === 'rt-1')).toHaveLength(1);
    expect(server.concurrentPresentations).toBe(0);
    await manager.stop();
  });

  it('caps refreshes in flight, serving the key closest to expiry first', async () => {
    const server = new GrantServer(3600);
    server.answer = { kind: 'slow', ms: 1000 };
    const { manager } = createKeyedTestManager({ client: server, options: { maxConcurrentRefreshes: 3 } });
    // Twelve keys set before the schedule runs, all past their refresh time, expiring ten seconds
    // apart: when it starts, the earliest expiry must go first.
    for (let i = 0; i < 12; i++) {
      const login = server.login();
      await manager.set(`k${i}`, { ...login, expiresIn: undefined, issuedAt: T0 - 3600_000, expiresAt: T0 + (12 - i) * 10_000 });
    }
    await manager.start();
    await flush();
    expect(server.inFlight).toBe(3);
    const firstPresented = server.presented.slice(0, 3);
    await vi.advanceTimersByTimeAsync(5000);
    expect(server.maxInFlight).toBe(3);
    expect(server.presented).toHaveLength(12);
    // k11 expires first (1 min), then k10, k9.
    expect(firstPresented).toEqual(['rt-12', 'rt-11', 'rt-10']);
    await manager.stop();
  });

  it('parks a dead key on its own: one request, an event with the key, a typed error for its callers; the others go on', async () => {
    const { manager, server, events, logins } = await connected(3);
    server.revokeGrant(logins.get('user-1')!);
    await vi.advanceTimersByTimeAsync(55 * MIN);
    expect(manager.getRefreshStatus('user-1')?.state).toBe('reauth-required');
    expect(manager.keys('reauth-required')).toEqual(['user-1']);
    expect(manager.counts()).toMatchObject({ idle: 2, 'reauth-required': 1 });
    expect(events.named(TokenRefreshEvents.REAUTH_REQUIRED)).toMatchObject([{ key: 'user-1' }]);
    vi.setSystemTime(T0 + 61 * MIN);
    const error = await manager.getAccessToken('user-1').catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(ReauthRequiredError);
    expect(error).toMatchObject({ key: 'user-1' });
    expect(await manager.getAccessToken('user-0')).toMatch(/^at-/);
    await vi.advanceTimersByTimeAsync(5 * 60 * MIN);
    expect(server.presented.filter((rt) => rt === logins.get('user-1'))).toHaveLength(1);
    await manager.stop();
  });

  it('delete(key) forgets the key in memory and in the store, and no request follows', async () => {
    const store = new IndexedKeyedStore();
    const { manager, server } = await connected(2, {}, store);
    await manager.delete('user-0');
    expect(store.records.has('user-0')).toBe(false);
    expect(await manager.has('user-0')).toBe(false);
    await expect(manager.getAccessToken('user-0')).rejects.toMatchObject({ code: 'invalid_state' });
    await vi.advanceTimersByTimeAsync(3 * 60 * MIN);
    expect(server.presented).not.toContain('rt-1');
    expect(server.presented).toContain('rt-2');
    await manager.stop();
  });

  it('lazy mode refreshes a key only when it is used past its refresh time; keep-alive refreshes idle ones', async () => {
    const { manager, server } = await connected(2, { refreshMode: 'lazy', keepAliveInterval: 10 * 60 * MIN });
    await vi.advanceTimersByTimeAsync(56 * MIN);
    expect(server.presented).toEqual([]);
    // Used past its refresh time but comfortably valid: answered at once, refreshed behind.
    expect(await manager.getAccessToken('user-0')).toBe('at-1');
    await flush();
    expect(server.presented).toEqual(['rt-1']);
    // Ten hours on, the unused key is refreshed to keep its refresh token alive.
    await vi.advanceTimersByTimeAsync(10 * 60 * MIN);
    expect(server.presented).toContain('rt-2');
    expect(server.reuse).toBe(0);
    await manager.stop();
  });

  it('holds at most maxKeysInMemory keys, reloads an evicted key on use, and still refreshes the store\'s due keys', async () => {
    const store = new IndexedKeyedStore();
    const { manager, server } = await connected(50, { maxKeysInMemory: 20, checkInterval: MIN }, store);
    expect(manager.keys().length).toBeLessThanOrEqual(20);
    expect(store.records.size).toBe(50);
    expect(await manager.getAccessToken('user-0')).toBe('at-1');
    expect(manager.keys()).toContain('user-0');
    await vi.advanceTimersByTimeAsync(60 * MIN);
    // Every key was refreshed, held in memory or not.
    expect(new Set(server.presented).size).toBe(50);
    expect(server.reuse).toBe(0);
    expect(manager.keys().length).toBeLessThanOrEqual(20);
    await manager.stop();
  });

  it('a new manager on the same store continues where the last one stopped', async () => {
    const store = new IndexedKeyedStore();
    const first = await connected(5, { checkInterval: MIN }, store);
    await vi.advanceTimersByTimeAsync(56 * MIN);
    await first.manager.stop();
    const { manager } = createKeyedTestManager({ client: first.server, store, options: { checkInterval: MIN } });
    await manager.start();
    await vi.advanceTimersByTimeAsync(60 * MIN);
    expect(first.server.rotations).toBe(10);
    expect(first.server.reuse).toBe(0);
    for (let i = 0; i < 5; i++) expect(store.records.get(`user-${i}`)?.refreshToken).toBe(first.server.currentOf(first.logins.get(`user-${i}`)!));
    await manager.stop();
  });

  it('stop() with hundreds of refreshes in flight saves every rotation that arrives', async () => {
    const store = new IndexedKeyedStore();
    const server = new GrantServer(3600);
    const { manager } = createKeyedTestManager({ client: server, store, options: { maxConcurrentRefreshes: 500, shutdownTimeout: 5000 } });
    await manager.start();
    for (let i = 0; i < 300; i++) await manager.set(`k${i}`, server.login());
    server.answer = { kind: 'slow', ms: 2000 };
    await vi.advanceTimersByTimeAsync(55 * MIN + 1000); // every key is due: 300 refreshes are out
    expect(server.inFlight).toBe(300);
    const stopped = manager.stop();
    await vi.advanceTimersByTimeAsync(5000);
    await stopped;
    expect(server.rotations).toBe(300);
    for (let i = 0; i < 300; i++) {
      const held = store.records.get(`k${i}`)!.refreshToken!;
      expect(held).toBe(server.currentOf(held));
    }
  });

  it('uses a constant number of timers, however many keys it holds', async () => {
    const { manager } = await connected(1000);
    expect(vi.getTimerCount()).toBeLessThanOrEqual(3);
    await manager.stop();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('refuses a key that is not a non-empty string', async () => {
    const { manager } = createKeyedTestManager();
    await expect(manager.set('', { accessToken: 'a', expiresIn: 60 })).rejects.toBeInstanceOf(TokenValidationError);
    await expect(manager.set(42 as never, { accessToken: 'a', expiresIn: 60 })).rejects.toMatchObject({ field: 'key' });
    await expect(manager.set('k', { accessToken: '', expiresIn: 60 })).rejects.toMatchObject({ field: 'accessToken' });
    expect(manager.keys()).toEqual([]);
  });
});
