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
 * fails) never turns into a storm of refreshes. A different rejected token starts a new attempt,
 * except the token a refresh produced while no request carrying it has been answered with
 * anything but 401 (`accepted`): then refreshing did not help (wrong audience or scope, say),
 * and refreshing again would only flood the identity provider. So against an API that refuses
 * every token, a token the service gets by its schedule costs at most one refresh, however
 * many requests, sequential or parallel, the API refuses.
 */
export class RefreshPerRejectedToken {
  #last: { token: string; done: Promise<boolean> } | undefined;
  /** The token the last refresh produced, until the server accepts it once. */
  #unproven: string | undefined;

  /** `refresh` resolves with the token it produced, when it knows it. */
  constructor(private readonly refresh: () => Promise<string | undefined | void>) {}

  /**
   * Resolves true when the refresh for `rejectedToken` succeeded; false, without refreshing,
   * when `rejectedToken` is the one the last refresh produced and the server never accepted.
   * Never rejects.
   */
  refreshFor(rejectedToken: string): Promise<boolean> {
    if (rejectedToken === this.#unproven) return Promise.resolve(false);
    if (this.#last?.token !== rejectedToken) {
      this.#last = {
        token: rejectedToken,
        // Promise.resolve().then: a refresh that throws synchronously still settles here.
        done: Promise.resolve()
          .then(() => this.refresh())
          .then(
            (produced) => {
              this.#unproven = produced || undefined;
              return true;
            },
            () => false,
          ),
      };
    }
    return this.#last.done;
  }

  /** A request carrying `token` got an answer other than 401: a later 401 for it may refresh. */
  accepted(token: string): void {
    if (token === this.#unproven) this.#unproven = undefined;
  }
}
