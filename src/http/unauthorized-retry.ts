/**
 * What to do with a response to an authenticated request:
 * - `return`: hand it to the caller (not a 401, or a body that cannot be sent twice);
 * - `replay`: the token was rotated while the request was out, so the 401 is stale: send again;
 * - `refresh`: the token the server rejected is still ours: refresh, then send again.
 * Replays happen at most once per request: the caller of this never asks about a replay.
 */
export type UnauthorizedAction = 'return' | 'replay' | 'refresh';

export interface UnauthorizedContext {
  /** HTTP status of the response; undefined when there was none (network error, abort). */
  status: number | undefined;
  /** Whether the request body can be sent a second time. */
  replayable: boolean;
  /** The access token the request carried. */
  tokenSent: string;
  /** The access token held now (peekAccessToken), undefined when none is valid. */
  tokenNow: string | undefined;
}

export function decideOnUnauthorized(context: UnauthorizedContext): UnauthorizedAction {
  if (context.status !== 401 || !context.replayable) return 'return';
  if (context.tokenNow !== undefined && context.tokenNow !== context.tokenSent) return 'replay';
  return 'refresh';
}

/** Streams are consumed by the first attempt; strings, buffers, forms and blobs can be sent again. */
export function isReplayableBody(data: unknown): boolean {
  if (data === null || typeof data !== 'object') return true;
  const candidate = data as { pipe?: unknown; getReader?: unknown };
  return typeof candidate.pipe !== 'function' && typeof candidate.getReader !== 'function';
}

/**
 * One refresh per rejected token. Every 401 that carried the same token waits on the same
 * attempt, including those that arrive after it settled, so a storm of 401s (or a refresh that
 * fails) never turns into a storm of refreshes. A different rejected token starts a new attempt.
 */
export class RefreshPerRejectedToken {
  #last: { token: string; done: Promise<boolean> } | undefined;

  constructor(private readonly refresh: () => Promise<void>) {}

  /** Resolves true when the refresh for `rejectedToken` succeeded. Never rejects. */
  refreshFor(rejectedToken: string): Promise<boolean> {
    if (this.#last?.token !== rejectedToken) {
      this.#last = {
        token: rejectedToken,
        // Promise.resolve().then: a refresh that throws synchronously still settles here.
        done: Promise.resolve()
          .then(() => this.refresh())
          .then(
            () => true,
            () => false,
          ),
      };
    }
    return this.#last.done;
  }
}
