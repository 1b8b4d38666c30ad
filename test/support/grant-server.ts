import { type OAuthClient, type RefreshRequestOptions, type TokenResponse } from '../../src/common/interfaces/oauth-client.interface';
import { type TokenPair } from '../../src/common/interfaces/token-pair.interface';
import { OAuthProtocolError, TokenEndpointHttpError } from '../../src/common/token-refresh.errors';

/** How the next request is answered. */
export type Answer =
  | { kind: 'ok' }
  /** Rotates, then answers after `ms`, whatever the caller's abort signal says. */
  | { kind: 'slow'; ms: number }
  /** Waits `ms` before acting; an abort meanwhile cancels it (nothing rotated). */
  | { kind: 'abortable'; ms: number }
  /** 503 without acting. */
  | { kind: 'unavailable' }
  /** invalid_client without acting: permanent, though the grant is fine. */
  | { kind: 'rejected' };

interface Grant {
  current: string;
  spent: Set<string>;
  revoked: boolean;
}

/**
 * An authorization server in memory, for property tests: every login is a grant of its own
 * with refresh token rotation and reuse detection (a spent refresh token presented again
 * revokes that grant). It records what a correct client must never do: present a spent
 * token (`reuse`), or present one that is already in flight (`concurrentPresentations`).
 * Token lifetimes are measured on the monotonic clock, so a test can tell whether a token
 * handed out was really still valid.
 */
export class GrantServer implements OAuthClient {
  readonly presented: string[] = [];
  reuse = 0;
  concurrentPresentations = 0;
  /** Refresh tokens exchanged for new ones. */
  rotations = 0;
  /** Requests being served now, and the most at once. */
  inFlight = 0;
  maxInFlight = 0;
  /** How the next request is answered: one answer for all, or one per refresh token presented. */
  answer: Answer | ((refreshToken: string) => Answer) = { kind: 'ok' };
  readonly #grants = new Map<string, Grant>();
  readonly #grantOf = new Map<string, string>();
  readonly #inFlight = new Set<string>();
  /** Monotonic instant each access token stops being valid. */
  readonly #expiresAt = new Map<string, number>();
  #issued = 0;

  constructor(readonly lifetimeSeconds: number) {}

  /** A new grant (an authorization code flow), and its first tokens. */
  login(): TokenPair {
    const family = `g${this.#grants.size + 1}`;
    const first = this.#issue(family);
    this.#grants.set(family, { current: first.refreshToken!, spent: new Set(), revoked: false });
    return first;
  }

  /** The refresh token the grant that `refreshToken` belongs to would accept now. */
  currentOf(refreshToken: string): string | undefined {
    const family = this.#grantOf.get(refreshToken);
    return family === undefined ? undefined : this.#grants.get(family)?.current;
  }

  /** Revokes the grant `refreshToken` belongs to, as a user disconnecting the app at the provider does. */
  revokeGrant(refreshToken: string): void {
    const family = this.#grantOf.get(refreshToken);
    if (family !== undefined) this.#grants.get(family)!.revoked = true;
  }

  isRevoked(refreshToken: string): boolean {
    const family = this.#grantOf.get(refreshToken);
    return family !== undefined && this.#grants.get(family)!.revoked;
  }

  /** Whether `accessToken` is still valid now (monotonic clock). */
  isValid(accessToken: string): boolean {
    const until = this.#expiresAt.get(accessToken);
    return until !== undefined && performance.now() < until;
  }

  async refresh(refreshToken: string, options: RefreshRequestOptions): Promise<TokenResponse> {
    this.presented.push(refreshToken);
    if (this.#inFlight.has(refreshToken)) this.concurrentPresentations++;
    this.#inFlight.add(refreshToken);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      const answer = typeof this.answer === 'function' ? this.answer(refreshToken) : this.answer;
      return await this.#answer(refreshToken, answer, options.signal);
    } finally {
      this.inFlight--;
      this.#inFlight.delete(refreshToken);
    }
  }

  async #answer(refreshToken: string, answer: Answer, signal: AbortSignal): Promise<TokenResponse> {
    if (answer.kind === 'unavailable') throw new TokenEndpointHttpError(503);
    if (answer.kind === 'rejected') throw new OAuthProtocolError({ error: 'invalid_client', status: 401 });
    if (answer.kind === 'abortable') {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(resolve, answer.ms);
        signal.addEventListener('abort', () => {
          clearTimeout(timer);
          reject(signal.reason);
        });
      });
    }
    const rotated = this.#rotate(refreshToken);
    if (answer.kind === 'slow') await new Promise((resolve) => setTimeout(resolve, answer.ms));
    return rotated;
  }

  #rotate(refreshToken: string): TokenPair {
    const family = this.#grantOf.get(refreshToken);
    const grant = family === undefined ? undefined : this.#grants.get(family);
    if (!grant || grant.revoked) throw new OAuthProtocolError({ error: 'invalid_grant', status: 400 });
    if (refreshToken !== grant.current) {
      if (grant.spent.has(refreshToken)) {
        this.reuse++;
        grant.revoked = true;
      }
      throw new OAuthProtocolError({ error: 'invalid_grant', status: 400 });
    }
    grant.spent.add(refreshToken);
    this.rotations++;
    const next = this.#issue(family!);
    grant.current = next.refreshToken!;
    return next;
  }

  #issue(family: string): TokenPair {
    const n = ++this.#issued;
    const pair = { accessToken: `at-${n}`, refreshToken: `rt-${n}`, expiresIn: this.lifetimeSeconds };
    this.#grantOf.set(pair.refreshToken, family);
    this.#expiresAt.set(pair.accessToken, performance.now() + this.lifetimeSeconds * 1000);
    return pair;
  }
}
