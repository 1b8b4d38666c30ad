import { describe, expect, it } from 'vitest';
import { OAuthProtocolError } from '../common/token-refresh.errors';
import { toRefreshError } from './error-classification';

describe('toRefreshError', () => {
  it('passes our own errors through', () => {
    const error = new OAuthProtocolError({ error: 'invalid_grant', status: 400 });
    expect(toRefreshError(error)).toBe(error);
  });

  it('scrubs held secrets from a foreign message, raw and encoded', () => {
    const rt = '1//0gAbC+dEf/ghI= x';
    const body = new URLSearchParams({ refresh_token: rt }).toString();
    const message = `raw ${rt}; url ${encodeURIComponent(rt)}; form ${body}; json ${JSON.stringify({ rt })}`;
    const error = toRefreshError(new TypeError(message), [rt]);
    expect(error).toMatchObject({ code: 'unknown_error', permanent: false });
    expect(error.message).toBe(
      'TypeError: raw [redacted]; url [redacted]; form refresh_token=[redacted]; json {"rt":"[redacted]"}',
    );
  });

  it('keeps only name and message, never the foreign object', () => {
    const foreign = Object.assign(new Error('boom'), { config: { headers: { Authorization: 'Bearer SECRET' } } });
    const error = toRefreshError(foreign);
    expect(error.cause).toBeUndefined();
    expect(JSON.stringify(error)).not.toContain('SECRET');
  });
});
