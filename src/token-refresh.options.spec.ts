import { describe, expect, it } from 'vitest';
import { TokenRefreshConfigError } from './common/token-refresh.errors';
import { assertAsyncOptions, validateModuleOptions } from './token-refresh.options';

const client = { refresh: async () => ({ accessToken: 'a', expiresIn: 60 }) };

function optionOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    if (error instanceof TokenRefreshConfigError) return error.option;
    throw error;
  }
  return undefined;
}

describe('validateModuleOptions', () => {
  it('needs exactly one of oauthClient and oauth, naming oauthClient', () => {
    expect(optionOf(() => validateModuleOptions({}, 'default'))).toBe('oauthClient');
    expect(optionOf(() => validateModuleOptions({ oauthClient: client, oauth: { tokenEndpoint: 'https://x', clientId: 'c' } }, 'default'))).toBe(
      'oauthClient',
    );
  });

  it('rejects a non-object, and checks the refresh policy with the registration name', () => {
    expect(optionOf(() => validateModuleOptions(null as never, 'default'))).toBe('options');
    expect(optionOf(() => validateModuleOptions({ oauthClient: client, checkInterval: -1 }, 'crm'))).toBe('checkInterval');
    expect(validateModuleOptions({ oauthClient: client }, 'crm')).toMatchObject({ name: 'crm', checkInterval: 60_000 });
  });
});

describe('assertAsyncOptions', () => {
  it('asks for exactly one of useFactory, useClass and useExisting, naming the method', () => {
    expect(() => assertAsyncOptions({}, 'TokenRefreshModule.forRootAsync')).toThrow(
      'TokenRefreshModule.forRootAsync needs exactly one of useFactory, useClass or useExisting',
    );
    expect(() => assertAsyncOptions({ useFactory: () => ({}), useClass: class {} }, 'X.registerAsync')).toThrow(/got useFactory and useClass/);
    expect(optionOf(() => assertAsyncOptions(undefined, 'X'))).toBe('options');
    expect(() => assertAsyncOptions({ useExisting: 'token' }, 'X')).not.toThrow();
  });
});
