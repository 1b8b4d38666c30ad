import { describe, expect, it } from 'vitest';
import { TokenRefreshConfigError } from './common/token-refresh.errors';
import { assertAsyncOptions, validateModuleOptions } from './token-refresh.options';
import { expectTypedError } from '../test/support/expect-error';

const client = { refresh: async () => ({ accessToken: 'a', expiresIn: 60 }) };

describe('validateModuleOptions', () => {
  it('needs exactly one of oauthClient and oauth, naming oauthClient', () => {
    expectTypedError(() => validateModuleOptions({}, 'default'), TokenRefreshConfigError, { option: 'oauthClient' });
    expectTypedError(
      () => validateModuleOptions({ oauthClient: client, oauth: { tokenEndpoint: 'https://x', clientId: 'c' } }, 'default'),
      TokenRefreshConfigError,
      { option: 'oauthClient' },
    );
  });

  it('rejects a non-object, and checks the refresh policy with the registration name', () => {
    expectTypedError(() => validateModuleOptions(null as never, 'default'), TokenRefreshConfigError, { option: 'options' });
    expectTypedError(() => validateModuleOptions({ oauthClient: client, checkInterval: -1 }, 'crm'), TokenRefreshConfigError, { option: 'checkInterval' });
    expect(validateModuleOptions({ oauthClient: client }, 'crm')).toMatchObject({ name: 'crm', checkInterval: 60_000 });
  });
});

describe('assertAsyncOptions', () => {
  it('asks for exactly one of useFactory, useClass and useExisting, naming the method', () => {
    expect(() => assertAsyncOptions({}, 'TokenRefreshModule.forRootAsync')).toThrow(
      'TokenRefreshModule.forRootAsync needs exactly one of useFactory, useClass or useExisting',
    );
    expect(() => assertAsyncOptions({ useFactory: () => ({}), useClass: class {} }, 'X.registerAsync')).toThrow(/got useFactory and useClass/);
    expectTypedError(() => assertAsyncOptions(undefined, 'X'), TokenRefreshConfigError, { option: 'options' });
    expect(() => assertAsyncOptions({ useExisting: 'token' }, 'X')).not.toThrow();
  });
});
