import { describe, expect, it } from 'vitest';
import { isAllowedOrigin, originOf, resolveRequestUrl } from './request-origin';

const BASE = 'https://api.example.com/v1';
const ORIGIN = 'https://api.example.com';

describe('resolveRequestUrl (axios buildFullPath)', () => {
  it.each([
    [BASE, '/users', undefined, 'https://api.example.com/v1/users'],
    [`${BASE}/`, 'users', undefined, 'https://api.example.com/v1/users'],
    [`${BASE}//`, '//users', false, 'https://api.example.com/v1/users'],
    [BASE, undefined, undefined, BASE],
    [BASE, '', undefined, BASE],
    [BASE, 'https://evil.example.net/x', undefined, 'https://evil.example.net/x'],
    [BASE, 'HTTPS://evil.example.net/x', undefined, 'HTTPS://evil.example.net/x'],
    [BASE, '//evil.example.net/x', undefined, '//evil.example.net/x'],
    [BASE, 'https://evil.example.net/x', false, 'https://api.example.com/v1/https://evil.example.net/x'],
    [undefined, '/users', undefined, '/users'],
  ])('%s + %s (allowAbsoluteUrls %s) -> %s', (base, url, allow, expected) => {
    expect(resolveRequestUrl(base, url, allow)).toBe(expected);
  });

  it('a non-string url resolves to nothing (so it is never ours)', () => {
    expect(resolveRequestUrl(BASE, new URL(ORIGIN) as unknown as string, undefined)).toBeUndefined();
  });
});

describe('originOf', () => {
  it.each([
    ['https://API.example.com:443/x?y#z', ORIGIN],
    ['http://127.0.0.1:80/', 'http://127.0.0.1'],
    ['https://api.example.com@evil.example.net/', 'https://evil.example.net'],
    ['//evil.example.net/x', undefined],
    ['/relative', undefined],
    ['ftp://api.example.com/', undefined],
    ['javascript:alert(1)', undefined],
    [undefined, undefined],
  ])('%s -> %s', (url, expected) => {
    expect(originOf(url)).toBe(expected);
  });
});

describe('isAllowedOrigin', () => {
  it.each([
    [{ baseURL: BASE, url: '/users' }, true],
    [{ baseURL: BASE, url: 'https://api.example.com/other' }, true],
    [{ baseURL: BASE, url: 'https://api.example.com:8443/users' }, false],
    [{ baseURL: BASE, url: 'http://api.example.com/users' }, false],
    [{ baseURL: BASE, url: 'https://sub.api.example.com/users' }, false],
    [{ baseURL: BASE, url: '//evil.example.net/users' }, false],
    [{ baseURL: 'https://evil.example.net', url: '/users' }, false],
    [{ baseURL: BASE, url: 'https://evil.example.net/x', allowAbsoluteUrls: false }, true],
    [{ url: '/users' }, false],
  ])('%o -> %s', (request, expected) => {
    expect(isAllowedOrigin(ORIGIN, request)).toBe(expected);
  });
});
