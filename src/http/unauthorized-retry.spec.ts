import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { deferred } from '../../test/support/fake-oauth-client';
import { decideOnUnauthorized, isReplayableBody, RefreshPerRejectedToken } from './unauthorized-retry';

describe('decideOnUnauthorized', () => {
  const base = { status: 401, replayable: true, tokenSent: 'old', tokenNow: 'old' };

  it.each([
    [{ status: 200 }, 'return'],
    [{ status: 403 }, 'return'],
    [{ status: undefined }, 'return'],
    [{ replayable: false }, 'return'],
    [{}, 'refresh'],
    [{ tokenNow: undefined }, 'refresh'],
    [{ tokenNow: 'new' }, 'replay'],
  ] as const)('%o -> %s', (override, expected) => {
    expect(decideOnUnauthorized({ ...base, ...override })).toBe(expected);
  });
});

describe('isReplayableBody', () => {
  it.each([
    [undefined, true],
    ['{"a":1}', true],
    [Buffer.from('x'), true],
    [new URLSearchParams('a=1'), true],
    [new FormData(), true],
    [new Blob(['x']), true],
    [Readable.from(['x']), false],
    [new ReadableStream(), false],
  ])('%o -> %s', (data, expected) => {
    expect(isReplayableBody(data)).toBe(expected);
  });
});

describe('RefreshPerRejectedToken', () => {
  it('shares one refresh among every rejection of the same token, even after it settled', async () => {
    let calls = 0;
    const gate = deferred<void>();
    const refresher = new RefreshPerRejectedToken(() => {
      calls++;
      return gate.promise;
    });
    const waiting = Array.from({ length: 50 }, () => refresher.refreshFor('old'));
    gate.resolve();
    expect(await Promise.all(waiting)).toEqual(Array(50).fill(true));
    expect(await refresher.refreshFor('old')).toBe(true);
    expect(calls).toBe(1);
  });

  it('a failed refresh resolves false for all of them and is not retried for that token', async () => {
    let calls = 0;
    const refresher = new RefreshPerRejectedToken(async () => {
      calls++;
      throw new Error('invalid_grant');
    });
    expect(await Promise.all([refresher.refreshFor('old'), refresher.refreshFor('old')])).toEqual([false, false]);
    expect(await refresher.refreshFor('old')).toBe(false);
    expect(calls).toBe(1);
  });

  it('a refresh that throws synchronously still resolves false', async () => {
    const refresher = new RefreshPerRejectedToken(() => {
      throw new Error('sync');
    });
    expect(await refresher.refreshFor('old')).toBe(false);
  });

  it('a newly rejected token gets a refresh of its own', async () => {
    let calls = 0;
    const refresher = new RefreshPerRejectedToken(async () => {
      calls++;
    });
    await refresher.refreshFor('first');
    await refresher.refreshFor('second');
    expect(calls).toBe(2);
  });

  it('the token a refresh produced is not refreshed on a 401 until the server has accepted it once', async () => {
    let calls = 0;
    const refresher = new RefreshPerRejectedToken(async () => `produced-${++calls}`);
    expect(await refresher.refreshFor('scheduled')).toBe(true);
    expect(await Promise.all([refresher.refreshFor('produced-1'), refresher.refreshFor('produced-1')])).toEqual([false, false]);
    expect(calls).toBe(1);
    // The next token from the schedule gets a refresh of its own.
    expect(await refresher.refreshFor('scheduled-2')).toBe(true);
    expect(calls).toBe(2);
    // Once accepted, a later 401 for it (revoked meanwhile) may refresh again.
    refresher.accepted('produced-2');
    expect(await refresher.refreshFor('produced-2')).toBe(true);
    expect(calls).toBe(3);
  });
});
