import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createTestManager } from '../../test/support/manager';
import { ReuseDetectingServer } from '../../test/support/reuse-detecting-server';
import { type RefreshLock } from '../common/interfaces/refresh-lock.interface';
import { type TokenPair } from '../common/interfaces/token-pair.interface';
import { type StoredTokens, type TokenStore } from '../common/interfaces/token-store.interface';
import { InMemoryTokenStore } from './in-memory-token.store';

/*
 * A store that misbehaves at random (throws, hangs, answers slowly, answers after its deadline,
 * returns garbage) under a token endpoint that revokes the grant when a refresh token is
 * presented twice. Whatever the store does: no refresh token is ever presented twice, no
 * rotation is lost, no expired token is handed out, and stop() ends in bounded time.
 * CHAOS_RUNS=1000 npm test -- store-chaos runs more cases.
 */

type Fault = 'ok' | 'throw' | 'hang' | 'slow' | 'late' | 'garbage';
const FAULTS: readonly Fault[] = ['ok', 'ok', 'ok', 'throw', 'hang', 'slow', 'late', 'garbage'];

const T0 = Date.UTC(2026, 0, 1);
const STORE_TIMEOUT = 2_000;
const SHUTDOWN_TIMEOUT = 3_000;
const LIFETIME_S = 180;

class ChaosStore implements TokenStore {
  readonly inner = new InMemoryTokenStore();
  healed = false;
  #calls = 0;
  constructor(private readonly faults: readonly Fault[]) {}

  load(): Promise<TokenPair | null | undefined> {
    return this.#run(() => this.inner.load(), true);
  }

  save(tokens: StoredTokens): Promise<void> {
    return this.#run(() => this.inner.save(tokens), false);
  }

  #run<T>(operation: () => Promise<T>, isLoad: boolean): Promise<T> {
    const fault = this.healed ? 'ok' : this.faults[this.#calls++ % this.faults.length];
    switch (fault) {
      case 'throw':
        return Promise.reject(new Error('connection reset by peer'));
      case 'hang':
        return new Promise<T>(() => undefined);
      case 'slow':
        return delay(STORE_TIMEOUT / 2).then(operation);
      case 'late':
        // Does the work, but answers after the manager stopped waiting.
        return delay(STORE_TIMEOUT * 2).then(operation);
      case 'garbage':
        return isLoad ? Promise.resolve({ accessToken: 42 } as unknown as T) : operation();
      default:
        return operation();
    }
  }
}

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Moves the fake clock until `promise` settles; returns how much fake time that took, or Infinity past `maxMs`. */
async function timeToSettle(promise: Promise<unknown>, maxMs: number): Promise<number> {
  let settled = false;
  void promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  const began = performance.now();
  while (!settled && performance.now() - began <= maxMs) await vi.advanceTimersByTimeAsync(100);
  return settled ? performance.now() - began : Infinity;
}

/** Other replicas may exist: the manager re-reads the store under the lock, so loads are in the way. */
const distributedLock: RefreshLock = { distributed: true, acquire: async () => ({ release: async () => undefined }) };

type Step = { kind: 'wait'; ms: number } | { kind: 'force' } | { kind: 'read' };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 1_000, max: 90_000 }).map((ms) => ({ kind: 'wait' as const, ms })) },
  { weight: 1, arbitrary: fc.constant({ kind: 'force' as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'read' as const }) },
);

describe('TokenRefreshManager with a store that fails at random', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('never reuses a refresh token, never loses a rotation, never hands out an expired token, and stops in bounded time', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom(...FAULTS), { minLength: 1, maxLength: 12 }),
        fc.array(stepArb, { minLength: 5, maxLength: 40 }),
        fc.boolean(),
        async (faults, steps, distributed) => {
          vi.useFakeTimers();
          vi.setSystemTime(T0);
          const server = new ReuseDetectingServer('rt-0', LIFETIME_S);
          const issuedAt = new Map<string, number>([['at-0', T0]]);
          server.shape = (reply) => {
            issuedAt.set(reply.accessToken!, Date.now());
            return reply;
          };
          const store = new ChaosStore(faults);
          const { manager } = createTestManager({
            client: server,
            store,
            lock: distributed ? distributedLock : undefined,
            options: { storeTimeout: STORE_TIMEOUT, shutdownTimeout: SHUTDOWN_TIMEOUT, refreshThreshold: 60_000, checkInterval: 10_000 },
          });
          const handedOut: Array<{ token: string; at: number }> = [];
          try {
            await timeToSettle(manager.start({ accessToken: 'at-0', refreshToken: 'rt-0', expiresIn: LIFETIME_S }), 4 * STORE_TIMEOUT);
            for (const step of steps) {
              if (step.kind === 'wait') await vi.advanceTimersByTimeAsync(step.ms);
              else if (step.kind === 'force') void manager.forceRefresh().catch(() => undefined);
              else {
                void manager.getAccessToken().then(
                  (token) => handedOut.push({ token, at: Date.now() }),
                  () => undefined,
                );
              }
              await vi.advanceTimersByTimeAsync(0);
            }
            await vi.advanceTimersByTimeAsync(STORE_TIMEOUT * 3);

            store.healed = true;
            // shutdownTimeout plus its grace (at most as much again), to the 100 ms step of timeToSettle.
            expect(await timeToSettle(manager.stop(), 4 * SHUTDOWN_TIMEOUT)).toBeLessThanOrEqual(2 * SHUTDOWN_TIMEOUT + 100);

            expect(server.reuse).toBe(0);
            expect(server.revoked).toBe(false);
            // The rotation the server made last is held, and (the store healed) saved.
            expect(manager.getTokens()?.refreshToken).toBe(server.current);
            expect((await store.inner.load())?.refreshToken).toBe(server.current);
            for (const { token, at } of handedOut) {
              expect(at, `${token} handed out after it expired`).toBeLessThan(issuedAt.get(token)! + LIFETIME_S * 1000);
            }
          } finally {
            store.healed = true;
            await timeToSettle(manager.stop(), 4 * SHUTDOWN_TIMEOUT);
            vi.useRealTimers();
          }
        },
      ),
      { numRuns: Number(process.env.CHAOS_RUNS ?? 40) },
    );
  });
});
