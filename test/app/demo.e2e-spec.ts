import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TokenRefreshEvents } from '../../src';
import { EventRecorder, type Stack, startStack } from './stack';

describe('example app: /demo across token rotations', () => {
  let stack: Stack;
  const accepted = new Set<string>();

  beforeEach(async () => {
    accepted.clear();
    // Four-second tokens: a refresh about every two seconds.
    stack = await startStack({
      accessTokenTtl: 4,
      verify: async (token, auth) => {
        const valid = await auth.verifyAccessToken(token);
        if (valid) accepted.add(token);
        return valid;
      },
    });
  });
  afterEach(async () => {
    await stack.close();
  });

  it('keeps answering with a fresh token after each rotation, never needing a 401', async () => {
    const refreshed = new EventRecorder(stack.events, TokenRefreshEvents.REFRESHED);
    const rotations = 3;
    await request(stack.server).get('/demo').expect(200);
    for (let i = 0; i < rotations; i++) {
      // Each call waits for a refresh after the previous call, so each uses a newer token.
      await refreshed.waitFor(refreshed.seen.length + 1);
      const res = await request(stack.server).get('/demo').expect(200);
      expect(res.body.upstream).toMatchObject({ status: 200, data: { message: 'Hello from the protected API' } });
    }
    expect(accepted.size).toBe(rotations + 1);
    expect(stack.api!.stats).toEqual({ served: rotations + 1, rejected: 0 });
    expect(stack.auth.stats).toMatchObject({ invalidGrant: 0, reuseDetected: 0 });
    refreshed.stop();
  });
});
