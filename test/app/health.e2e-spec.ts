import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OAuthProtocolError, TokenRefreshEvents } from '../../src';
import { containsAnySecret, EventRecorder, secretsOf, type Stack, startStack } from './stack';

describe('example app: /token/status and /health', () => {
  let stack: Stack;
  beforeEach(async () => {
    stack = await startStack({ accessTokenTtl: 300 });
  });
  afterEach(async () => {
    await stack.close();
  });

  it('/token/status reports the registration without a token value', async () => {
    const res = await request(stack.server).get('/token/status').expect(200);
    expect(res.body).toMatchObject({ name: 'default', isRunning: true, state: 'idle', consecutiveFailures: 0, lastError: null });
    expect(res.body.timeUntilExpiry).toBeGreaterThan(0);
    expect(containsAnySecret(res.text, secretsOf(stack))).toBe(false);
  });

  it('/health is 200 with the indicator up while a valid token is held', async () => {
    const res = await request(stack.server).get('/health').expect(200);
    expect(res.body.status).toBe('ok');
    expect(res.body.details['token-refresh']).toMatchObject({ status: 'up', state: 'idle', consecutiveFailures: 0 });
    expect(res.body.details['token-refresh'].expiresIn).toBeGreaterThan(0);
    expect(containsAnySecret(res.text, secretsOf(stack))).toBe(false);
  });

  it('/health turns 503 once the grant is revoked and the next refresh finds out', async () => {
    await request(stack.server).get('/health').expect(200);
    const reauth = new EventRecorder(stack.events, TokenRefreshEvents.REAUTH_REQUIRED);
    await stack.auth.revokeGrant(stack.issued.grantId);

    const refresh = await stack.service.forceRefresh().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refresh).toBeInstanceOf(OAuthProtocolError);
    expect(refresh).toMatchObject({ code: 'oauth_error', error: 'invalid_grant' });
    expect(refresh).toBeInstanceOf(OAuthProtocolError);
    await reauth.waitFor(1);

    const res = await request(stack.server).get('/health').expect(503);
    expect(res.body.status).toBe('error');
    expect(res.body.error['token-refresh']).toMatchObject({
      status: 'down',
      state: 'reauth-required',
      reason: 'reauth-required',
      lastError: 'oauth_error',
      oauthError: 'invalid_grant',
    });
    expect(containsAnySecret(res.text, secretsOf(stack))).toBe(false);
  });

  it('after revocation /demo gets the API 401 back without asking the server for another refresh', async () => {
    await stack.auth.revokeGrant(stack.issued.grantId);
    await stack.service.forceRefresh().catch(() => undefined);
    const refreshRequests = stack.auth.stats.refreshRequests;

    const res = await request(stack.server).get('/demo').expect(502);
    expect(res.body).toMatchObject({ upstreamStatus: 401 });
    expect(stack.auth.stats.refreshRequests).toBe(refreshRequests);
    expect(containsAnySecret(res.text, secretsOf(stack))).toBe(false);
  });
});
