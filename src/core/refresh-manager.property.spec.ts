import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type Answer, GrantServer } from '../../test/support/grant-server';
import { createTestManager } from '../../test/support/manager';
import { type TokenPair } from '../common/interfaces/token-pair.interface';
import { type StoredTokens, type TokenStore } from '../common/interfaces/token-store.interface';
import { InMemoryTokenStore } from './in-memory-token.store';
import { type TokenRefreshManager } from './refresh-manager';

/*
 * The refresh manager as a state machine under random interleavings of everything that can
 * happen to it: start, stop, updateTokens (a new login), forceRefresh, getAccessToken, time
 * passing, the wall clock stepping either way, a store that throws or hangs, and a token
 * endpoint that answers, fails transiently or permanently, answers slowly or is aborted.
 * The endpoint revokes a grant when a refresh token is presented twice. After every step:
 * - no refresh token is presented while it is already in flight, and none is reused (so no
 *   rotation was lost);
 * - no expired access token is handed out;
 * - stop() settles within shutdownTimeout plus its grace;
 * - the state and the status agree.
 * PROPERTY_RUNS=2000 npx vitest run refresh-manager.property runs many more cases; PROPERTY_SEED replays
 * the seed fast-check prints with a failure.
 */

const T0 = Date.UTC(2026, 0, 1);
const LIFETIME_S = 300;
const SHUTDOWN_TIMEOUT = 2_000;
const STORE_TIMEOUT = 1_000;

type StoreMode = 'ok' | 'throw' | 'hang';

class FlakyStore implements TokenStore {
  readonly inner = new InMemoryTokenStore();
  mode: StoreMode = 'ok';
  load(): Promise<TokenPair | null | undefined> {
    return this.#run(() => this.inner.load());
  }
  save(tokens: StoredTokens): Promise<void> {
    return this.#run(() => this.inner.save(tokens));
  }
  #run<T>(operation: () => Promise<T>): Promise<T> {
    if (this.mode === 'throw') return Promise.reject(new Error('store down'));
    if (this.mode === 'hang') return new Promise<T>(() => undefined);
    return operation();
  }
}

type Command =
  | { kind: 'start' }
  | { kind: 'stop' }
  | { kind: 'login' }
  | { kind: 'force' }
  | { kind: 'read' }
  | { kind: 'wait'; ms: number }
  | { kind: 'clock'; ms: number }
  | { kind: 'store'; mode: StoreMode }
  | { kind: 'answer'; answer: Answer };

const commandArb: fc.Arbitrary<Command> = fc.oneof(
  { weight: 2, arbitrary: fc.constant({ kind: 'start' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'stop' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'login' as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'force' as const }) },
  { weight: 3, arbitrary: fc.constant({ kind: 'read' as const }) },
  { weight: 4, arbitrary: fc.integer({ min: 100, max: 200_000 }).map((ms) => ({ kind: 'wait' as const, ms })) },
  { weight: 1, arbitrary: fc.integer({ min: -3 * 3_600_000, max: 3 * 3_600_000 }).map((ms) => ({ kind: 'clock' as const, ms })) },
  { weight: 1, arbitrary: fc.constantFrom<StoreMode>('ok', 'ok', 'throw', 'hang').map((mode) => ({ kind: 'store' as const, mode })) },
  {
    weight: 2,
    arbitrary: fc
      .oneof(
        fc.constant<Answer>({ kind: 'ok' }),
        fc.constant<Answer>({ kind: 'ok' }),
        fc.constant<Answer>({ kind: 'unavailable' }),
        fc.constant<Answer>({ kind: 'rejected' }),
        fc.integer({ min: 100, max: 20_000 }).map<Answer>((ms) => ({ kind: 'slow', ms })),
        fc.integer({ min: 100, max: 20_000 }).map<Answer>((ms) => ({ kind: 'slow', ms })),
        fc.integer({ min: 100, max: 20_000 }).map<Answer>((ms) => ({ kind: 'abortable', ms })),
      )
      .map((answer) => ({ kind: 'answer' as const, answer })),
  },
);

/** Moves the fake clock until `promise` settles; how much fake time that took, or Infinity past `maxMs`. */
async function timeToSettle(promise: Promise<unknown>, maxMs: number): Promise<number> {
  let settled = false;
  const done = (): void => {
    settled = true;
  };
  void promise.then(done, done);
  const began = performance.now();
  await vi.advanceTimersByTimeAsync(0);
  while (!settled && performance.now() - began <= maxMs) await vi.advanceTimersByTimeAsync(50);
  return settled ? performance.now() - began : Infinity;
}

/** The status must say what the state means. */
function expectStatusAgrees(manager: TokenRefreshManager): void {
  const status = manager.getRefreshStatus();
  expect(status.isRunning).toBe(manager.isRunning());
  expect(status.state === 'stopped').toBe(!status.isRunning);
  if (status.state === 'backoff') expect(status.nextAttemptAt).not.toBeNull();
  if (status.state === 'idle' || status.state === 'stopped') expect(status.nextAttemptAt).toBeNull();
  if (status.state === 'idle') expect(status.consecutiveFailures).toBe(0);
  if (status.expiresAt !== null) {
    expect(status.timeUntilExpiry).toBeGreaterThanOrEqual(0);
    expect(status.needsRefresh).toBe(status.timeUntilRefresh === 0);
  } else {
    expect(status.timeUntilExpiry).toBeNull();
  }
}

describe('TokenRefreshManager as a state machine', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('keeps its invariants under random interleavings of lifecycle calls, time, clocks, store and endpoint faults', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(commandArb, { minLength: 1, maxLength: 60 }), async (commands) => {
        vi.useFakeTimers();
        vi.setSystemTime(T0);
        const server = new GrantServer(LIFETIME_S);
        const store = new FlakyStore();
        await store.inner.save({ ...(server.login() as StoredTokens), expiresAt: new Date(T0 + LIFETIME_S * 1000), issuedAt: new Date(T0), version: 1 });
        const { manager } = createTestManager({
          client: server,
          store,
          options: { shutdownTimeout: SHUTDOWN_TIMEOUT, storeTimeout: STORE_TIMEOUT, refreshThreshold: 60_000, checkInterval: 30_000 },
          random: Math.random,
        });
        const pending: Promise<unknown>[] = [];
        const expired: string[] = [];
        const track = (promise: Promise<unknown>): void => {
          pending.push(promise.catch(() => undefined));
        };
        try {
          await timeToSettle(manager.start(), STORE_TIMEOUT);
          for (const command of commands) {
            switch (command.kind) {
              case 'start':
                track(manager.start());
                break;
              case 'stop': {
                const took = await timeToSettle(manager.stop(), 4 * SHUTDOWN_TIMEOUT);
                // shutdownTimeout, plus its grace (at most as much again), to the 50 ms step above.
                expect(took).toBeLessThanOrEqual(2 * SHUTDOWN_TIMEOUT + 50);
                expect(manager.isRunning()).toBe(false);
                break;
              }
              case 'login':
                track(manager.updateTokens(server.login()));
                break;
              case 'force':
                track(manager.forceRefresh());
                break;
              case 'read':
                track(
                  manager.getAccessToken().then((token) => {
                    if (!server.isValid(token)) expired.push(token);
                  }),
                );
                break;
              case 'wait':
                await vi.advanceTimersByTimeAsync(command.ms);
                break;
              case 'clock':
                vi.setSystemTime(Date.now() + command.ms);
                break;
              case 'store':
                store.mode = command.mode;
                break;
              case 'answer':
                server.answer = command.answer;
                break;
            }
            await vi.advanceTimersByTimeAsync(0);
            expect(server.concurrentPresentations).toBe(0);
            expect(server.reuse).toBe(0);
            expect(expired, 'tokens handed out after they expired').toEqual([]);
            expectStatusAgrees(manager);
            const peeked = manager.peekAccessToken();
            if (peeked !== undefined) expect(server.isValid(peeked), `${peeked} peeked after it expired`).toBe(true);
          }
          // Everything heals: a running manager catches up with its grant and holds what the server would accept.
          store.mode = 'ok';
          server.answer = { kind: 'ok' };
          await vi.advanceTimersByTimeAsync(30_000);
          if (!manager.isRunning()) await timeToSettle(manager.start(), 4 * SHUTDOWN_TIMEOUT);
          await vi.advanceTimersByTimeAsync(10 * 60_000);
          const held = manager.getTokens()?.refreshToken;
          if (manager.getRefreshStatus().state !== 'reauth-required' && held !== undefined) {
            expect(held).toBe(server.currentOf(held));
          }
          expect(server.reuse).toBe(0);
          expect(server.concurrentPresentations).toBe(0);
        } finally {
          store.mode = 'ok';
          server.answer = { kind: 'ok' };
          await timeToSettle(manager.stop(), 4 * SHUTDOWN_TIMEOUT);
          await timeToSettle(Promise.all(pending), 60_000);
          vi.useRealTimers();
        }
      }),
      { numRuns: Number(process.env.PROPERTY_RUNS ?? 200), seed: process.env.PROPERTY_SEED ? Number(process.env.PROPERTY_SEED) : undefined },
    );
  });
});
