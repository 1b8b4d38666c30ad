import { type OAuthClient, type RefreshRequestOptions, type TokenResponse } from '../../src/common/interfaces/oauth-client.interface';
import { OAuthProtocolError } from '../../src/common/token-refresh.errors';

/** What the server does with one valid presentation, after it has rotated (the server has acted). */
export type ReplyShaper = (reply: TokenResponse, call: number, options: RefreshRequestOptions) => TokenResponse | Promise<TokenResponse>;

/**
 * An authorization server in memory with refresh token rotation and reuse detection, as Auth0,
 * Okta or oidc-provider run it: each refresh token works once; presenting a spent one revokes
 * the whole grant (every later request gets invalid_grant). It records every presentation, so a
 * test can assert no refresh token was ever used twice and no rotation was lost.
 */
export class ReuseDetectingServer implements OAuthClient {
  readonly presented: string[] = [];
  /** Refresh tokens that have been used once. */
  readonly spent = new Set<string>();
  /** Presentations of a spent refresh token. */
  reuse = 0;
  revoked = false;
  /** Rotations the server performed (each issued a new refresh token). */
  rotations = 0;
  current: string;
  /** Runs after the server rotated: delays, odd bodies, a lost answer (throw) are shaped here. */
  shape: ReplyShaper = (reply) => reply;
  /** Requests being served now, and the most at once. */
  inFlight = 0;
  maxInFlight = 0;

  constructor(
    initialRefreshToken = 'rt-0',
    readonly lifetimeSeconds = 3600,
  ) {
    this.current = initialRefreshToken;
  }

  get calls(): number {
    return this.presented.length;
  }

  async refresh(refreshToken: string, options: RefreshRequestOptions): Promise<TokenResponse> {
    this.presented.push(refreshToken);
    if (this.revoked) throw new OAuthProtocolError({ error: 'invalid_grant', status: 400, errorDescription: 'grant revoked' });
    if (refreshToken !== this.current) {
      if (this.spent.has(refreshToken)) {
        this.reuse++;
        this.revoked = true;
      }
      throw new OAuthProtocolError({ error: 'invalid_grant', status: 400, errorDescription: 'unknown or spent refresh token' });
    }
    this.spent.add(refreshToken);
    const n = ++this.rotations;
    this.current = `rt-${n}`;
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      return await this.shape({ accessToken: `at-${n}`, refreshToken: this.current, expiresIn: this.lifetimeSeconds }, this.calls, options);
    } finally {
      this.inFlight--;
    }
  }
}
