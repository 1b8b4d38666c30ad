import { type OAuthClient, type RefreshRequestOptions } from '../../src/common/interfaces/oauth-client.interface';
import { type TokenPair } from '../../src/common/interfaces/token-pair.interface';

export type RefreshHandler = (refreshToken: string, call: number, options: RefreshRequestOptions) => Promise<TokenPair> | TokenPair;

/**
 * A token endpoint in memory: counts calls, remembers which refresh tokens were presented,
 * and by default rotates (`at-N`, `rt-N`, one hour). hold() makes answers wait for release().
 */
export class FakeOAuthClient implements OAuthClient {
  readonly presented: string[] = [];
  handler: RefreshHandler;
  #held: ReturnType<typeof deferred<void>> | undefined;

  constructor(handler?: RefreshHandler) {
    this.handler = handler ?? ((_rt, call) => ({ accessToken: `at-${call}`, refreshToken: `rt-${call}`, expiresIn: 3600 }));
  }

  get calls(): number {
    return this.presented.length;
  }

  /** From now on, requests wait (already counted and recorded) until release(). */
  hold(): void {
    this.#held ??= deferred<void>();
  }

  /** Lets the held requests be answered, and stops holding. */
  release(): void {
    this.#held?.resolve();
    this.#held = undefined;
  }

  async refresh(refreshToken: string, options: RefreshRequestOptions): Promise<TokenPair> {
    this.presented.push(refreshToken);
    const call = this.presented.length;
    if (this.#held) await this.#held.promise;
    return this.handler(refreshToken, call, options);
  }
}

/** A promise whose settling the test controls. */
export function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (error: unknown) => void } {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Records events as [name, payload] pairs. */
export class RecordingEvents {
  readonly emitted: Array<[string, object]> = [];
  emit(event: string, payload: object): void {
    this.emitted.push([event, payload]);
  }
  named(event: string): object[] {
    return this.emitted.filter(([name]) => name === event).map(([, payload]) => payload);
  }
}

export const silentLogger = { log: () => undefined, warn: () => undefined, error: () => undefined };
