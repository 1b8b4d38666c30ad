import { type OAuthClient, type RefreshRequestOptions } from '../../src/common/interfaces/oauth-client.interface';
import { type TokenPair } from '../../src/common/interfaces/token-pair.interface';

export type RefreshHandler = (refreshToken: string, call: number, options: RefreshRequestOptions) => Promise<TokenPair> | TokenPair;

/**
 * A token endpoint in memory: counts calls, remembers which refresh tokens were presented,
 * and by default rotates (`at-N`, `rt-N`, one hour).
 */
export class FakeOAuthClient implements OAuthClient {
  readonly presented: string[] = [];
  handler: RefreshHandler;

  constructor(handler?: RefreshHandler) {
    this.handler = handler ?? ((_rt, call) => ({ accessToken: `at-${call}`, refreshToken: `rt-${call}`, expiresIn: 3600 }));
  }

  get calls(): number {
    return this.presented.length;
  }

  async refresh(refreshToken: string, options: RefreshRequestOptions): Promise<TokenPair> {
    this.presented.push(refreshToken);
    return this.handler(refreshToken, this.presented.length, options);
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
