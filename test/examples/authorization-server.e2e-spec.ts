import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  startAuthorizationServer,
  type AuthorizationServer,
  type ClientKey,
  type RefreshEvent,
} from '../../examples/auth-server/authorization-server';

interface TokenResponse {
  status: number;
  body: {
    access_token?: string;
    refresh_token?: string;
    expires_in?: number;
    token_type?: string;
    scope?: string;
    error?: string;
  };
}

const ACCESS_TOKEN_TTL = 7;

/** Plain RFC 6749 §6 refresh request, authenticating the way the client is registered (§2.3.1). */
async function refresh(
  server: AuthorizationServer,
  clientKey: ClientKey,
  refreshToken: string,
  overrides: { clientSecret?: string } = {},
): Promise<TokenResponse> {
  const client = server.clients[clientKey];
  const secret = overrides.clientSecret ?? client.clientSecret ?? '';
  const headers: Record<string, string> = {
    'content-type': 'application/x-www-form-urlencoded',
    accept: 'application/json',
  };
  const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken });

  switch (client.authMethod) {
    case 'client_secret_basic': {
      const credentials = `${encodeURIComponent(client.clientId)}:${encodeURIComponent(secret)}`;
      headers.authorization = `Basic ${Buffer.from(credentials).toString('base64')}`;
      break;
    }
    case 'client_secret_post':
      form.set('client_id', client.clientId);
      form.set('client_secret', secret);
      break;
    case 'none':
      form.set('client_id', client.clientId);
      break;
  }

  const res = await fetch(server.tokenEndpoint, { method: 'POST', headers, body: form.toString() });
  return { status: res.status, body: (await res.json()) as TokenResponse['body'] };
}

function expectSuccess(res: TokenResponse): asserts res is TokenResponse & {
  body: { access_token: string; refresh_token: string; expires_in: number };
} {
  expect(res.status, `unexpected error ${String(res.body.error)}`).toBe(200);
  expect(typeof res.body.access_token).toBe('string');
  expect(typeof res.body.refresh_token).toBe('string');
  expect(typeof res.body.expires_in).toBe('number');
}

describe('in-process OAuth2 authorization server (oidc-provider)', () => {
  let server: AuthorizationServer;

  beforeAll(async () => {
    server = await startAuthorizationServer({ accessTokenTtl: ACCESS_TOKEN_TTL });
  });

  afterAll(async () => {
    await server?.close();
  });

  beforeEach(() => {
    server.resetStats();
  });

  it('listens on 127.0.0.1 with a random port and exposes issuer, token endpoint and three clients', () => {
    expect(server.port).toBeGreaterThan(0);
    expect(server.issuer).toBe(`http://127.0.0.1:${server.port}`);
    expect(server.tokenEndpoint).toBe(`${server.issuer}/token`);
    expect(server.clients.basic).toMatchObject({ authMethod: 'client_secret_basic', clientSecret: expect.any(String) });
    expect(server.clients.post).toMatchObject({ authMethod: 'client_secret_post', clientSecret: expect.any(String) });
    expect(server.clients.none.authMethod).toBe('none');
    expect(server.clients.none.clientSecret).toBeUndefined();
    expect(new Set(Object.values(server.clients).map((c) => c.clientId)).size).toBe(3);
  });

  describe.each(['basic', 'post', 'none'] as const)('client %s', (clientKey) => {
    it('refreshes with grant_type=refresh_token and rotates the refresh token every time', async () => {
      const issued = await server.issueTokens(clientKey);
      expect(issued.tokenType).toBe('Bearer');
      expect(issued.expiresIn).toBe(ACCESS_TOKEN_TTL);
      expect(await server.verifyAccessToken(issued.accessToken)).toBe(true);

      const seenRefreshTokens = new Set([issued.refreshToken]);
      const seenAccessTokens = new Set([issued.accessToken]);
      let current = issued.refreshToken;

      for (let i = 0; i < 3; i++) {
        const res = await refresh(server, clientKey, current);
        expectSuccess(res);
        expect(res.body.token_type).toBe('Bearer');
        expect(res.body.refresh_token).not.toBe(current);
        expect(seenRefreshTokens.has(res.body.refresh_token)).toBe(false);
        expect(seenAccessTokens.has(res.body.access_token)).toBe(false);
        expect(await server.verifyAccessToken(res.body.access_token)).toBe(true);
        seenRefreshTokens.add(res.body.refresh_token);
        seenAccessTokens.add(res.body.access_token);
        current = res.body.refresh_token;
      }

      expect(seenRefreshTokens.size).toBe(4);
      expect(server.stats).toEqual({ refreshRequests: 3, refreshSuccesses: 3, invalidGrant: 0, reuseDetected: 0 });
    });

    it('treats reuse of a consumed refresh token as replay: invalid_grant and the whole grant is revoked', async () => {
      const issued = await server.issueTokens(clientKey);
      const first = await refresh(server, clientKey, issued.refreshToken);
      expectSuccess(first);
      const second = await refresh(server, clientKey, first.body.refresh_token);
      expectSuccess(second);

      // first.body.refresh_token was consumed by the second refresh: presenting it again is reuse.
      const replay = await refresh(server, clientKey, first.body.refresh_token);
      expect(replay.status).toBe(400);
      expect(replay.body.error).toBe('invalid_grant');

      // ...and the grant is gone: the newest refresh token and access token no longer work.
      const newest = await refresh(server, clientKey, second.body.refresh_token);
      expect(newest.status).toBe(400);
      expect(newest.body.error).toBe('invalid_grant');
      expect(await server.verifyAccessToken(second.body.access_token)).toBe(false);

      expect(server.stats).toEqual({ refreshRequests: 4, refreshSuccesses: 2, invalidGrant: 2, reuseDetected: 1 });
    });
  });

  it('counts the original (issued) refresh token presented twice as reuse', async () => {
    const issued = await server.issueTokens('basic');
    expectSuccess(await refresh(server, 'basic', issued.refreshToken));

    const replay = await refresh(server, 'basic', issued.refreshToken);
    expect(replay.body.error).toBe('invalid_grant');
    expect(server.stats.reuseDetected).toBe(1);
  });

  it('detects two concurrent requests presenting the same refresh token: one wins, one is reuse, grant revoked', async () => {
    // Whichever check catches it (oidc-provider's consumed flag, or the server's synchronous
    // check-and-mark in rotateRefreshToken when the requests truly interleave), the outcome must be the same.
    const issued = await server.issueTokens('post');
    const results = await Promise.all([
      refresh(server, 'post', issued.refreshToken),
      refresh(server, 'post', issued.refreshToken),
    ]);

    const winners = results.filter((r) => r.status === 200);
    const losers = results.filter((r) => r.status !== 200);
    expect(winners).toHaveLength(1);
    expect(losers).toHaveLength(1);
    expect(losers[0].body.error).toBe('invalid_grant');
    expect(server.stats.reuseDetected).toBe(1);

    const winner = winners[0];
    expectSuccess(winner);
    const afterRace = await refresh(server, 'post', winner.body.refresh_token);
    expect(afterRace.body.error).toBe('invalid_grant');
    expect(await server.verifyAccessToken(winner.body.access_token)).toBe(false);
  });

  it('revokeGrant() makes the next refresh fail with invalid_grant and kills the access token', async () => {
    const issued = await server.issueTokens('basic');
    const rotated = await refresh(server, 'basic', issued.refreshToken);
    expectSuccess(rotated);
    expect(await server.verifyAccessToken(rotated.body.access_token)).toBe(true);

    await server.revokeGrant(issued.grantId);

    const res = await refresh(server, 'basic', rotated.body.refresh_token);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_grant');
    expect(await server.verifyAccessToken(rotated.body.access_token)).toBe(false);
    expect(server.stats).toEqual({ refreshRequests: 2, refreshSuccesses: 1, invalidGrant: 1, reuseDetected: 0 });
  });

  it('revoking one grant leaves other grants of the same client working', async () => {
    const a = await server.issueTokens('none');
    const b = await server.issueTokens('none');
    expect(a.grantId).not.toBe(b.grantId);

    await server.revokeGrant(a.grantId);

    expect((await refresh(server, 'none', a.refreshToken)).body.error).toBe('invalid_grant');
    expectSuccess(await refresh(server, 'none', b.refreshToken));
  });

  it('verifyAccessToken() is true for a fresh access token and false for garbage', async () => {
    const issued = await server.issueTokens('basic');
    expect(await server.verifyAccessToken(issued.accessToken)).toBe(true);
    expect(await server.verifyAccessToken('not-a-real-token')).toBe(false);
    expect(await server.verifyAccessToken('')).toBe(false);
    // A refresh token is not an access token.
    expect(await server.verifyAccessToken(issued.refreshToken)).toBe(false);
  });

  it('returns expires_in equal to the configured accessTokenTtl on refresh', async () => {
    const issued = await server.issueTokens('post');
    const res = await refresh(server, 'post', issued.refreshToken);
    expectSuccess(res);
    expect(res.body.expires_in).toBeGreaterThanOrEqual(ACCESS_TOKEN_TTL - 1);
    expect(res.body.expires_in).toBeLessThanOrEqual(ACCESS_TOKEN_TTL);
  });

  it('rejects a refresh token presented by a different client (client mismatch, not reuse)', async () => {
    const issued = await server.issueTokens('basic');
    const res = await refresh(server, 'post', issued.refreshToken);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_grant');
    expect(server.stats).toEqual({ refreshRequests: 1, refreshSuccesses: 0, invalidGrant: 1, reuseDetected: 0 });
    // The rightful client can still use it.
    expectSuccess(await refresh(server, 'basic', issued.refreshToken));
  });

  it('rejects bad client credentials with invalid_client (counted as a refresh request, not invalid_grant)', async () => {
    const issued = await server.issueTokens('basic');
    const res = await refresh(server, 'basic', issued.refreshToken, { clientSecret: 'wrong-secret' });
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_client');
    expect(server.stats).toEqual({ refreshRequests: 1, refreshSuccesses: 0, invalidGrant: 0, reuseDetected: 0 });
  });

  it('onRefresh() reports each refresh without token values, and unsubscribes', async () => {
    const events: RefreshEvent[] = [];
    const unsubscribe = server.onRefresh((event) => events.push(event));

    const issued = await server.issueTokens('none');
    const ok = await refresh(server, 'none', issued.refreshToken);
    expectSuccess(ok);
    await refresh(server, 'none', issued.refreshToken);

    expect(events).toEqual([
      expect.objectContaining({ outcome: 'success', status: 200, clientId: server.clients.none.clientId, grantId: issued.grantId, reuseDetected: false }),
      expect.objectContaining({ outcome: 'invalid_grant', status: 400, error: 'invalid_grant', grantId: issued.grantId, reuseDetected: true }),
    ]);
    const serialized = JSON.stringify(events);
    expect(serialized).not.toContain(issued.refreshToken);
    expect(serialized).not.toContain(ok.body.refresh_token);

    unsubscribe();
    await refresh(server, 'none', 'unknown-token');
    expect(events).toHaveLength(2);
    expect(server.stats.refreshRequests).toBe(3);
  });
});

describe('authorization server with rotateRefreshToken: false', () => {
  it('returns the same refresh token, never flags reuse, and close() drops keep-alive sockets promptly', async () => {
    const server = await startAuthorizationServer({ rotateRefreshToken: false, accessTokenTtl: 30 });
    try {
      const issued = await server.issueTokens('basic');
      for (let i = 0; i < 2; i++) {
        const res = await refresh(server, 'basic', issued.refreshToken);
        expectSuccess(res);
        expect(res.body.refresh_token).toBe(issued.refreshToken);
        expect(res.body.expires_in).toBeGreaterThanOrEqual(29);
        expect(res.body.expires_in).toBeLessThanOrEqual(30);
      }
      expect(server.stats).toEqual({ refreshRequests: 2, refreshSuccesses: 2, invalidGrant: 0, reuseDetected: 0 });
    } finally {
      // fetch keeps the connection alive; close() must not wait for the keep-alive timeout.
      const started = Date.now();
      await server.close();
      expect(Date.now() - started).toBeLessThan(2_000);
    }
    await expect(refresh(server, 'basic', 'anything')).rejects.toThrow();
    await expect(server.close()).resolves.toBeUndefined();
  });

  it('rejects non-positive TTLs', async () => {
    await expect(startAuthorizationServer({ accessTokenTtl: 0 })).rejects.toThrow(RangeError);
    await expect(startAuthorizationServer({ refreshTokenTtl: 1.5 })).rejects.toThrow(RangeError);
  });
});
