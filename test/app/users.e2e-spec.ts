import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TokenRefreshEvents } from '../../src';
import { EventRecorder, type Stack, startStack } from './stack';

describe('example app: /users, many users\' tokens', () => {
  let stack: Stack;

  beforeEach(async () => {
    // Four-second tokens: each user's is refreshed about every two seconds.
    stack = await startStack({ accessTokenTtl: 4 });
  });
  afterEach(async () => {
    await stack.close();
  });

  it('connects users, calls the API as each across their rotations, lists them, and disconnects one', async () => {
    const refreshed = new EventRecorder(stack.events, TokenRefreshEvents.REFRESHED);
    for (const user of ['ada', 'grace']) await request(stack.server).post(`/users/${user}/connect`).expect(201, { connected: user });
    await refreshed.waitFor(4); // two rotations per user, give or take
    for (const user of ['ada', 'grace']) {
      const res = await request(stack.server).get(`/users/${user}/data`).expect(200);
      expect(res.body).toMatchObject({ message: 'Hello from the protected API' });
    }
    expect(refreshed.seen.map((event) => (event as { key?: string }).key)).toEqual(expect.arrayContaining(['ada', 'grace']));
    const list = await request(stack.server).get('/users').expect(200);
    // Two users, none to reconnect (one may be mid-refresh at this instant).
    expect(list.body.counts.idle + list.body.counts.refreshing).toBe(2);
    expect(list.body).toMatchObject({ counts: { 'reauth-required': 0, backoff: 0 }, reconnect: [] });

    await request(stack.server).delete('/users/grace').expect(200, { disconnected: 'grace' });
    await request(stack.server).get('/users/grace/data').expect(404);
    await request(stack.server).get('/users/nobody/data').expect(404);
    expect(stack.auth.stats).toMatchObject({ invalidGrant: 0, reuseDetected: 0 });
    refreshed.stop();
  });
});
