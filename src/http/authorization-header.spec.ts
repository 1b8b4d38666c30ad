import { describe, expect, it } from 'vitest';
import { authorizationHeader, stripAuthorization } from './authorization-header';

describe('authorizationHeader', () => {
  it('joins the token type and the token', () => {
    expect(authorizationHeader('Bearer', 'at-1')).toBe('Bearer at-1');
    expect(authorizationHeader('DPoP', 'at-1')).toBe('DPoP at-1');
  });

  it('defaults to Bearer when the type is missing or empty', () => {
    expect(authorizationHeader(undefined, 'at-1')).toBe('Bearer at-1');
    expect(authorizationHeader('', 'at-1')).toBe('Bearer at-1');
  });
});

describe('stripAuthorization', () => {
  it('removes every spelling and keeps the other headers', () => {
    const headers: Record<string, unknown> = { Authorization: 'a', authorization: 'b', AUTHORIZATION: 'c', Accept: 'x' };
    stripAuthorization(headers);
    expect(headers).toEqual({ Accept: 'x' });
  });

  it('accepts no headers at all', () => {
    expect(() => stripAuthorization(undefined)).not.toThrow();
  });
});
