import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { TokenRefreshEvents } from '../../src';
import { EventRecorder, gate, type Stack, startStack } from './stack';

const STORM = 50;

describe('example app: a 401 storm', () => {
  let stack: Stack | undefined;
  /** While set, the API refuses every token (as with a wrong audience). */
  let refusing = false;
  afterEach(async () => {
    await stack?.close();
    stack = undefined;
    refusing = false;
  });

  /** The example app against an API that checks tokens as usual until `refusing` is set. */
  function startRefusableStack(): Promise<Stack> {
    return startStack({ accessTokenTtl: 300, verify: async (token, auth) => !refusing && auth.verifyAccessToken(token) });
  }

  /** After one successful /demo, the API refuses every token; returns the refresh count to compare with. */
  async function refuseEveryTokenFromNowOn(app: Stack): Promise<number> {
    await request(app.server).get('/demo').expect(200);
    refusing = true;
    return app.auth.stats.refreshRequests;
  }

  it(`${STORM} parallel /demo calls rejected with the same token cause exactly one refresh`, async () => {
    // The API rejects one token (as if revoked server side). It holds every rejection until all
    // STORM requests carrying it have arrived, so the 401s really are concurrent, and holds half
    // of them until the refresh has finished: those stale 401s must be replayed, not refreshed.
    const rejected: { token?: string } = {};
    let arrived = 0;
    const allArrived = gate(10_000);
    const refreshDone = gate(10_000);
    stack = await startStack({
      accessTokenTtl: 300,
      verify: async (token, auth) => {
        if (token !== rejected.token) return auth.verifyAccessToken(token);
        const index = ++arrived;
        if (index === STORM) allArrived.open();
        await allArrived.promise;
        if (index > STORM / 2) await refreshDone.promise;
        return false;
      },
    });
    await request(stack.server).get('/demo').expect(200);
    rejected.token = stack.service.peekAccessToken();
    const refreshed = new EventRecorder(stack.events, TokenRefreshEvents.REFRESHED);
    void refreshed.waitFor(1).then(refreshDone.open, refreshDone.open);
    const refreshRequests = stack.auth.stats.refreshRequests;

    const server = stack.server;
    const responses = await Promise.all(Array.from({ length: STORM }, () => request(server).get('/demo')));

    expect(arrived).toBe(STORM);
    expect(responses.map((r) => r.status)).toEqual(Array(STORM).fill(200));
    expect(refreshed.seen).toHaveLength(1);
    expect(stack.auth.stats.refreshRequests - refreshRequests).toBe(1);
    expect(stack.auth.stats.reuseDetected).toBe(0);
    expect(stack.api!.stats).toEqual({ served: 1 + STORM, rejected: STORM });
    expect(stack.service.peekAccessToken() !== rejected.token).toBe(true);
    refreshed.stop();
  });

  it('a second 401 (the new token is refused too) goes back to the caller after one refresh', async () => {
    stack = await startRefusableStack();
    const refreshRequests = await refuseEveryTokenFromNowOn(stack);

    const res = await request(stack.server).get('/demo').expect(502);
    expect(res.body).toMatchObject({ upstreamStatus: 401 });
    expect(stack.auth.stats.refreshRequests - refreshRequests).toBe(1);
    expect(stack.api!.stats.rejected).toBe(2);
  });

  // The bound: one 401-triggered refresh per token the service holds by its own schedule. The
  // token that refresh produced is refused too, so later 401s carrying it are not refreshed.
  it('an API that refuses every token (wrong audience) costs one refresh, not one per request', async () => {
    stack = await startRefusableStack();
    const refreshRequests = await refuseEveryTokenFromNowOn(stack);

    for (let i = 0; i < 20; i++) {
      const res = await request(stack.server).get('/demo').expect(502);
      expect(res.body).toMatchObject({ upstreamStatus: 401 });
    }
    expect(stack.auth.stats.refreshRequests - refreshRequests).toBe(1);
    expect(stack.api!.stats.rejected).toBe(21);
  });
});
