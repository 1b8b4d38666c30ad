import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createKeyedTestManager, createTestManager } from '../../test/support/manager';
import { type OAuthClient, type RefreshRequestOptions, type TokenResponse } from '../common/interfaces/oauth-client.interface';
import { OAuthProtocolError, TokenEndpointHttpError } from '../common/token-refresh.errors';

/** A client_credentials endpoint: a new token on every request, never a refresh token. */
class ClientCredentialsEndpoint implements OAuthClient {
  readonly requests: Array<string | undefined> = [];
  fail: Error | undefined;
  async refresh(): Promise<TokenResponse> {
    throw new Error('a client_credentials client is never asked to refresh');
  }
  async requestToken(options: RefreshRequestOptions): Promise<TokenResponse> {
    this.requests.push(options.key);
    if (this.fail) throw this.fail;
    return { accessToken: `cc-${this.requests.length}`, tokenType: 'Bearer', expiresIn: 600 };
  }
}

describe('a client that obtains tokens from scratch (client_credentials)', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(Date.UTC(2026, 0, 1));
  });
  afterEach(() => vi.useRealTimers());

  it('start() with no tokens and an empty store obtains the first token, then renews ahead of expiry', async () => {
    const client = new ClientCredentialsEndpoint();
    const { manager } = createTestManager({ client });
    await manager.start();
    expect(await manager.getAccessToken()).toBe('cc-1');
    await vi.advanceTimersByTimeAsync(5 * 60_000);
    expect(await manager.getAccessToken()).toBe('cc-2');
    expect(client.requests).toHaveLength(2);
    await manager.stop();
  });

  it('a failed first request rejects start() with its error; the service keeps trying and serves once it works', async () => {
    const client = new ClientCredentialsEndpoint();
    client.fail = new TokenEndpointHttpError(503);
    const { manager } = createTestManager({ client });
    await expect(manager.start()).rejects.toMatchObject({ code: 'token_expired', lastErrorCode: 'http_error' });
    expect(manager.getRefreshStatus()).toMatchObject({ isRunning: true, state: 'backoff' });
    client.fail = undefined;
    await vi.advanceTimersByTimeAsync(2_000);
    expect(await manager.getAccessToken()).toBe('cc-2');
    await manager.stop();
  });

  it('a permanent error (invalid_client) parks the registration', async () => {
    const client = new ClientCredentialsEndpoint();
    client.fail = new OAuthProtocolError({ error: 'invalid_client', status: 401 });
    const { manager } = createTestManager({ client });
    await expect(manager.start()).rejects.toMatchObject({ code: 'reauth_required' });
    await vi.advanceTimersByTimeAsync(60 * 60_000);
    expect(client.requests).toHaveLength(1);
    await manager.stop();
  });

  it('a keyed registration obtains a key\'s first token when the key is used (one client per tenant)', async () => {
    const client = new ClientCredentialsEndpoint();
    const { manager } = createKeyedTestManager({ client });
    await manager.start();
    const tokens = await Promise.all([manager.getAccessToken('tenant-a'), manager.getAccessToken('tenant-a'), manager.getAccessToken('tenant-b')]);
    expect(tokens).toEqual(['cc-1', 'cc-1', 'cc-2']);
    expect(client.requests).toEqual(['tenant-a', 'tenant-b']);
    await manager.stop();
  });
});
