import { Logger, type OnApplicationShutdown } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Redis } from 'ioredis';
import { Redacted } from '../core/redaction';
import { type RefreshLock, type RefreshLockHandle, type RefreshLockRequest } from '../common/interfaces/refresh-lock.interface';
import { RefreshAbortedError, RefreshLockError } from '../common/token-refresh.errors';
import { Messages } from '../common/token-refresh.messages';
import { redisErrorCode } from './redis-connection';
import { RedisConnectionHandle } from './redis-connection-handle';
import { RELEASE_IF_OWNER, RENEW_IF_OWNER } from './redis-scripts';
import {
  type RedisRefreshLockOptions,
  type RedisUrlOptions,
  type ResolvedLockOptions,
  resolveLockOptions,
} from './redis.options';

/**
 * The refresh lock shared by all replicas: `SET key <random owner> NX PX <lease>`. A single
 * registration has one (`<prefix>:lock`); a keyed registration one per key
 * (`<prefix>:lock:<escaped key>`), so refreshes of different keys never wait for each other.
 *
 * - Only the owner releases it (compare-and-delete in Lua), so a holder whose lease ran out
 *   cannot delete the lock a successor took.
 * - While held, the lease is renewed (compare-and-pexpire) every renewInterval. If a renewal
 *   finds the lock gone, or none has succeeded for a whole lease, the handle's `lost` signal
 *   aborts: the manager then sends no request under it (a request already sent is not cut:
 *   that could not un-spend the refresh token, only lose this replica's copy of the rotation).
 * - A holder that dies stops renewing: its lock expires after at most one lease.
 * - acquire() polls with jittered delays until waitMs, then resolves null. It never throws an
 *   ioredis error: with Redis unreachable it throws RefreshLockError at once (the manager
 *   backs off and keeps serving its valid token), so no refresh ever runs without the lock.
 * - After its connection comes back from a loss it grants nothing for resyncDelay, so every
 *   replica can first write back the newest tokens it holds (see RedisTokenStore).
 */
export class RedisRefreshLock extends Redacted implements RefreshLock, OnApplicationShutdown {
  readonly distributed = true;
  readonly keyPrefix: string;
  readonly #connection: RedisConnectionHandle<ResolvedLockOptions>;
  readonly #ops: LockOps;
  readonly #held = new Set<RedisLockHandle>();
  #closed = false;

  constructor(redis: Redis, options: RedisRefreshLockOptions);
  constructor(options: RedisRefreshLockOptions & RedisUrlOptions);
  constructor(
    redisOrOptions: Redis | (RedisRefreshLockOptions & RedisUrlOptions),
    maybeOptions?: RedisRefreshLockOptions,
  ) {
    super();
    this.#connection = RedisConnectionHandle.open(redisOrOptions, maybeOptions, {
      path: 'lock',
      className: RedisRefreshLock.name,
      kind: 'refresh lock',
      resolveOptions: resolveLockOptions,
    });
    this.keyPrefix = this.#connection.options.keyPrefix;
    this.#ops = lockOps(this.#connection);
  }

  get lease(): number {
    return this.#connection.options.lease;
  }

  async acquire({ waitMs, signal, key }: RefreshLockRequest): Promise<RefreshLockHandle | null> {
    const options = this.#connection.options;
    const deadline = Date.now() + (Number.isFinite(waitMs) ? Math.max(0, waitMs) : 0);
    const owner = randomBytes(16).toString('base64url');
    const name = this.#connection.keys.lockOf(key);
    for (;;) {
      if (signal.aborted) throw new RefreshAbortedError();
      if (this.#closed) throw new RefreshLockError('refresh lock is closed');
      if (!this.#resyncing()) {
        const sentAt = Date.now();
        if (await this.#trySet(name, owner)) return this.#track(new RedisLockHandle(this.#ops, name, owner, sentAt, options));
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) return null;
      const jittered = options.retryDelay * (0.5 + Math.random());
      await sleep(Math.min(remaining, jittered), undefined, { signal }).catch(() => undefined);
    }
  }

  /** Releases any lease still held (owner-checked) and closes an owned connection. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled([...this.#held].map((handle) => handle.release()));
    await this.#connection.close();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.close();
  }

  /** True while the connection is back from a loss for less than resyncDelay. */
  #resyncing(): boolean {
    const since = this.#connection.msSinceRecovery();
    return since !== undefined && since < this.#connection.options.resyncDelay;
  }

  /** One SET NX. Redis down or too slow: RefreshLockError, at once. */
  async #trySet(name: string, owner: string): Promise<boolean> {
    const { options } = this.#connection;
    try {
      const reply = await this.#connection.run(
        (redis) => redis.set(name, owner, 'PX', options.lease, 'NX'),
        (late) => {
          // Granted after we gave up: nobody will renew or release it, so give it back now.
          if (late === 'OK') void this.#ops.release(name, owner).catch(() => undefined);
        },
      );
      return reply === 'OK';
    } catch (error) {
      throw new RefreshLockError(`refresh lock unavailable: Redis unreachable (${redisErrorCode(error)})`);
    }
  }

  #track(handle: RedisLockHandle): RedisLockHandle {
    this.#held.add(handle);
    handle.onDone(() => this.#held.delete(handle));
    return handle;
  }

  /** What util.inspect and JSON show: never the client, which may hold a password. */
  protected redactedSummary(): Record<string, unknown> {
    return { keyPrefix: this.keyPrefix, lease: this.lease, connected: this.#connection.connected, held: this.#held.size };
  }
}

interface LockOps {
  renew(name: string, owner: string): Promise<number>;
  release(name: string, owner: string): Promise<number>;
  logger: Logger;
  label: string;
}

/** The owner-checked scripts on a lock key. */
function lockOps(connection: RedisConnectionHandle<ResolvedLockOptions>): LockOps {
  const run = (script: string, name: string, args: string[]): Promise<number> =>
    connection.run(async (redis) => (await redis.eval(script, 1, name, ...args)) as number);
  return {
    renew: (name, owner) => run(RENEW_IF_OWNER, name, [owner, String(connection.options.lease)]),
    release: (name, owner) => run(RELEASE_IF_OWNER, name, [owner]),
    logger: new Logger(RedisRefreshLock.name),
    label: connection.label,
  };
}

/** One holding of the lock: renews it until released, and says when it is lost. */
class RedisLockHandle implements RefreshLockHandle {
  readonly #ops: LockOps;
  readonly #name: string;
  readonly #owner: string;
  readonly #lease: number;
  readonly #lost = new AbortController();
  readonly #timer: NodeJS.Timeout;
  /** When the last confirmed lease began (the send time of its command, to be safe). */
  #confirmedAt: number;
  #renewing = false;
  #released: Promise<void> | undefined;
  #onDone: (() => void) | undefined;

  constructor(ops: LockOps, name: string, owner: string, acquiredAt: number, options: ResolvedLockOptions) {
    this.#ops = ops;
    this.#name = name;
    this.#owner = owner;
    this.#lease = options.lease;
    this.#confirmedAt = acquiredAt;
    // unref: a held lock must not keep a process alive that is otherwise done.
    this.#timer = setInterval(() => void this.#renew(), options.renewInterval).unref();
  }

  get lost(): AbortSignal {
    return this.#lost.signal;
  }

  onDone(callback: () => void): void {
    this.#onDone = callback;
  }

  release(): Promise<void> {
    this.#released ??= this.#release();
    return this.#released;
  }

  async #release(): Promise<void> {
    this.#stop();
    try {
      await this.#ops.release(this.#name, this.#owner);
    } catch (error) {
      throw new RefreshLockError(`refresh lock release failed (${redisErrorCode(error)}); its lease will expire`);
    }
  }

  async #renew(): Promise<void> {
    if (this.#renewing || this.#released || this.#lost.signal.aborted) return;
    this.#renewing = true;
    const sentAt = Date.now();
    try {
      if ((await this.#ops.renew(this.#name, this.#owner)) === 1) {
        this.#confirmedAt = sentAt;
      } else {
        this.#markLost('the lock is gone or has another owner');
      }
    } catch (error) {
      if (Date.now() - this.#confirmedAt >= this.#lease) {
        this.#markLost(`no renewal succeeded for a whole lease (${redisErrorCode(error)})`);
      }
    } finally {
      this.#renewing = false;
    }
  }

  #markLost(reason: string): void {
    if (this.#released) return;
    this.#ops.logger.warn(Messages.redisLockLost(this.#ops.label, reason));
    this.#stop();
    this.#lost.abort(new RefreshLockError(`refresh lock lost: ${reason}`));
  }

  #stop(): void {
    clearInterval(this.#timer);
    this.#onDone?.();
    this.#onDone = undefined;
  }
}
