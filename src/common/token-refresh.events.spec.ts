import { describe, expect, it } from 'vitest';
import { TokenRefreshEvents } from './token-refresh.constants';
import { OAuthProtocolError, TokenStoreError } from './token-refresh.errors';
import * as events from './token-refresh.events';

const pascal = (kebab: string): string => kebab.replace(/(^|-)([a-z])/g, (_m, _dash: string, letter: string) => letter.toUpperCase());

describe('event payloads', () => {
  it.each(Object.values(TokenRefreshEvents))('%s has a payload class named after it', (event) => {
    const className = `TokenRefresh${pascal(event.replace(/^token-refresh\./, ''))}Event`;
    expect(events).toHaveProperty(className);
    expect(Object.getPrototypeOf((events as Record<string, unknown>)[className])).toBe(events.TokenRefreshEvent);
  });

  it('are built from named fields, and carry the key only for a keyed registration', () => {
    const at = new Date();
    const refreshed = new events.TokenRefreshRefreshedEvent({ name: 'crm', at, expiresAt: at, refreshAt: at, source: 'refresh', durationMs: 12 });
    expect(refreshed).toEqual({ name: 'crm', at, expiresAt: at, refreshAt: at, source: 'refresh', durationMs: 12 });
    expect(refreshed).not.toHaveProperty('key');
    const keyed = new events.TokenRefreshStoppedEvent({ name: 'users', at, key: 'user-42' });
    expect(keyed).toMatchObject({ name: 'users', key: 'user-42' });
  });

  it('summarise an error by code and message, with the server error for an OAuth error', () => {
    expect(events.summarizeError(new TokenStoreError('save'))).toEqual({ code: 'store_failed', message: 'token store save failed', permanent: false });
    expect(events.summarizeError(new OAuthProtocolError({ error: 'invalid_grant', status: 400 }))).toMatchObject({
      code: 'oauth_error',
      oauthError: 'invalid_grant',
      permanent: true,
    });
  });
});
