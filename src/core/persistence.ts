import { type TokenPair, type ResolvedTokens } from '../common/interfaces/token-pair.interface';
import { TokenStoreConflictError, TokenStoreError, TokenStoreUnreadableError } from '../common/token-refresh.errors';
import { Messages } from '../common/token-refresh.messages';
import { type Credential, type CredentialWork } from './credential';
import { DeadlineExceededError, withTimeout } from './deadline';
import { type EngineContext } from './engine-context';
import { saveRetryDelay } from './failure-policy';
import { MinHeap } from './min-heap';
import { computeRefreshAt, timerDelay } from './refresh-schedule';
import { resolveTokens, toStoredTokens } from './tokens';

export interface LoadedPair {
  /** As the store gave it: what it states about its order (version, issuedAt) counts. */
  given: TokenPair;
  resolved: ResolvedTokens;
}

/**
 * The store, seen from the engine: every call bounded by storeTimeout; saves of one key run one
 * after another, newest last; a pair that failed to save is kept and retried with backoff; a
 * record the store cannot read counts as absent (reported once); a save the store refused
 * because it holds a newer pair is reported and not retried.
 */
export class Persistence {
  /** Keys whose latest pair failed to save, by when the next attempt is due. */
  #retriesHeap: MinHeap<'storeIndex', CredentialWork> | undefined;

  /** Made on first use: most registrations never fail a save. */
  get #retries(): MinHeap<'storeIndex', CredentialWork> {
    return (this.#retriesHeap ??= new MinHeap<'storeIndex', CredentialWork>(retryFirst, 'storeIndex'));
  }

  constructor(
    private readonly context: EngineContext,
    private readonly hooks: {
      isRunning(): boolean;
      /** The latest pair of `c` is saved (or the store holds a newer one): nothing is pending for it. */
      onSettled(c: Credential): Promise<void>;
    },
  ) {}

  /**
   * The store's pair for `c`, checked. A record the store cannot read, or a pair we cannot use,
   * counts as absent so the next save replaces it: one corrupt record must not stop refreshing
   * for good. Any other failure throws TokenStoreError.
   */
  async load(c: Credential): Promise<LoadedPair | undefined> {
    const { store, settings } = this.context.deps;
    let given: TokenPair | null | undefined;
    try {
      given = await withTimeout(Promise.resolve().then(() => store.load(c.key)), settings.storeTimeout);
    } catch (thrown) {
      if (thrown instanceof TokenStoreUnreadableError) return this.#unreadable(c, thrown);
      const error = new TokenStoreError('load', this.#detail(thrown));
      this.context.storeFailed(c, 'load', error, false);
      throw error;
    }
    if (given === null || given === undefined) {
      if (c.busy) c.busy.unreadableReported = false;
      return undefined;
    }
    let resolved: ResolvedTokens;
    try {
      resolved = resolveTokens(given, Date.now());
    } catch (thrown) {
      return this.#unreadable(c, new TokenStoreUnreadableError((thrown as { field?: string }).field ?? 'tokens'));
    }
    if (c.busy) c.busy.unreadableReported = false;
    return { given, resolved };
  }

  /**
   * Saves before the new tokens replace the old in memory. A failure does not stop them
   * serving (the old refresh token may already be spent); they are kept and saved later.
   */
  persist(c: Credential, tokens: ResolvedTokens): Promise<void> {
    c.work().latestToSave = tokens;
    return this.#chain(c, tokens);
  }

  /** Tries again to save what failed to save. */
  retry(c: Credential): Promise<void> {
    const work = c.busy;
    const pending = work?.unsaved;
    if (!pending || pending !== work.latestToSave) return Promise.resolve();
    return this.#chain(c, pending);
  }

  /**
   * The last chance, at stop: waits for a save in progress, and tries once more to save a pair
   * that failed to save. Scheduled retries are dropped (the engine no longer runs them).
   */
  flush(c: Credential): Promise<void> {
    const work = c.busy;
    if (!work) return Promise.resolve();
    this.#retriesHeap?.remove(work);
    if (work.unsaved) return this.retry(c);
    return work.saveChain ?? Promise.resolve();
  }

  /** The next retry due, if any (epoch ms). */
  nextRetryAt(): number | undefined {
    return this.#retriesHeap?.peek()?.saveRetryAt;
  }

  /** Runs the retries that are due, and re-arms the store timer for the next one. */
  runDueRetries(): void {
    const now = Date.now();
    for (let next = this.#retries.peek(); next && next.saveRetryAt <= now; next = this.#retries.peek()) {
      this.#retries.remove(next);
      void this.retry(next.credential);
    }
    this.#arm();
  }

  /** Stops retrying (the engine is stopping); what is unsaved stays so, until `retry` or a new save. */
  forget(c: Credential): void {
    if (c.busy) this.#retriesHeap?.remove(c.busy);
  }

  clearTimer(): void {
    this.context.deps.timers.clear('store');
  }

  #chain(c: Credential, tokens: ResolvedTokens): Promise<void> {
    const work = c.work();
    const chain = (work.saveChain ?? Promise.resolve()).then(() => this.#save(c, tokens));
    work.saveChain = chain;
    // Dropped once idle, so an idle credential holds no promise.
    void chain.then(() => {
      if (work.saveChain === chain) work.saveChain = undefined;
    });
    return chain;
  }

  async #save(c: Credential, tokens: ResolvedTokens): Promise<void> {
    const work = c.work();
    // A newer pair was queued after this one: saving this would overwrite it.
    if (tokens !== work.latestToSave) return;
    const { store, settings, logger } = this.context.deps;
    try {
      // A keyed store may index when each key is due; a single registration's store has no use for it.
      const refreshAt = this.context.deps.keyed ? computeRefreshAt(tokens, settings.refreshThreshold) : undefined;
      await withTimeout(Promise.resolve().then(() => store.save(c.key, toStoredTokens(tokens, refreshAt))), settings.storeTimeout);
      if (work.unsaved) logger.log(Messages.storeRecovered(this.context.label(c)));
      await this.#settled(c);
    } catch (thrown) {
      if (tokens !== work.latestToSave) return;
      if (thrown instanceof TokenStoreConflictError) {
        // The store holds a newer pair: saving ours again cannot win, and holding a lock for it would stall every replica.
        await this.#settled(c);
        logger.error(Messages.storeConflict(this.context.label(c)));
        this.context.storeFailed(c, 'save', thrown, false);
        return;
      }
      work.unsaved = tokens;
      work.storeFailures++;
      const error = new TokenStoreError('save', this.#detail(thrown));
      logger.error(Messages.storeFailed(this.context.label(c), 'save'));
      const willRetry = this.hooks.isRunning();
      this.context.storeFailed(c, 'save', error, willRetry);
      if (willRetry) {
        work.saveRetryAt = Date.now() + saveRetryDelay(work.storeFailures, settings.retry, this.context.deps.random);
        this.#retries.upsert(work);
        this.#arm();
      }
    }
  }

  async #settled(c: Credential): Promise<void> {
    const work = c.work();
    work.unsaved = undefined;
    work.storeFailures = 0;
    this.#retriesHeap?.remove(work);
    await this.hooks.onSettled(c);
  }

  #arm(): void {
    const at = this.nextRetryAt();
    if (at === undefined || !this.hooks.isRunning()) {
      this.clearTimer();
      return;
    }
    this.context.deps.timers.setTimeout('store', () => this.runDueRetries(), timerDelay(at, Date.now()));
  }

  #unreadable(c: Credential, error: TokenStoreUnreadableError): undefined {
    const work = c.work();
    if (!work.unreadableReported) {
      work.unreadableReported = true;
      this.context.deps.logger.error(Messages.storeUnreadable(this.context.label(c), error.reason));
      this.context.storeFailed(c, 'load', error, false);
    }
    return undefined;
  }

  #detail(thrown: unknown): string | undefined {
    return thrown instanceof DeadlineExceededError ? `timed out after ${this.context.deps.settings.storeTimeout} ms` : undefined;
  }
}

function retryFirst(a: CredentialWork, b: CredentialWork): boolean {
  return a.saveRetryAt < b.saveRetryAt;
}
