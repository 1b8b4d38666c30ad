import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { expectTypedError } from '../test/support/expect-error';
import { FakeOAuthClient } from '../test/support/fake-oauth-client';
import { nestApps } from '../test/support/nest-apps';
import { OtelSdk, unregisterOtel } from '../test/support/otel-sdk';
import { getKeyedTokenRefreshToken } from './common/token-refresh.constants';
import { TokenRefreshConfigError } from './common/token-refresh.errors';
import { NO_TELEMETRY, type RefreshAttemptInfo, type RefreshTelemetry } from './core/telemetry';
import { TokenRefreshMetrics, TokenRefreshSpans } from './otel/otel-names';
import { type TokenRefreshModuleRootOptions } from './token-refresh.module-definition';
import { TokenRefreshModule } from './token-refresh.module';
import { type KeyedTokenRefreshService } from './keyed-token-refresh.service';
import { TokenRefreshService } from './token-refresh.service';

const tokens = { accessToken: 'a', refreshToken: 'r', expiresIn: 3600 };

describe('TokenRefreshModule option telemetry', () => {
  const apps = nestApps();
  let sdk: OtelSdk;
  beforeEach(() => {
    sdk = new OtelSdk().register();
  });
  afterEach(async () => {
    await apps.close();
    unregisterOtel();
    await sdk.shutdown();
  });

  async function refreshOnce(options: Partial<TokenRefreshModuleRootOptions>): Promise<void> {
    const app = await apps.compile([TokenRefreshModule.forRoot({ oauthClient: new FakeOAuthClient(), ...options })]);
    const service = app.get(TokenRefreshService);
    await service.start(tokens);
    await service.forceRefresh();
  }

  it('by default reports through OpenTelemetry, single and keyed registrations alike', async () => {
    await refreshOnce({});
    const app = await apps.compile([TokenRefreshModule.forRoot({ name: 'users', keyed: true, oauthClient: new FakeOAuthClient() })]);
    const users = app.get<KeyedTokenRefreshService>(getKeyedTokenRefreshToken('users'));
    await users.set('u1', tokens);
    await users.forceRefresh('u1');

    const collected = await sdk.collect();
    expect(collected.get(TokenRefreshMetrics.REFRESHES)?.points.map((p) => p.attributes['token_refresh.registration'])).toEqual(['default', 'users']);
    expect(collected.get(TokenRefreshMetrics.KEYS)?.points).toMatchObject([{ value: 1 }]);
    expect(sdk.spans().map((span) => span.name)).toEqual([TokenRefreshSpans.REFRESH, TokenRefreshSpans.REFRESH]);
  });

  it('false reports nothing', async () => {
    await refreshOnce({ telemetry: false });
    expect([...(await sdk.collect()).keys()]).toEqual([]);
    expect(sdk.spans()).toEqual([]);
  });

  it('a RefreshTelemetry of the app\'s own replaces OpenTelemetry', async () => {
    const attempts: RefreshAttemptInfo[] = [];
    const own: RefreshTelemetry = { ...NO_TELEMETRY, attempt: (info) => (attempts.push(info), NO_TELEMETRY.attempt(info)) };
    await refreshOnce({ telemetry: own });
    expect(attempts).toMatchObject([{ registration: 'default', trigger: 'forced', grantType: 'refresh_token' }]);
    expect(sdk.spans()).toEqual([]);
  });

  it.each([[true], [{}], [{ attempt: () => undefined }]])('%j fails the bootstrap naming the option', async (telemetry) => {
    await expectTypedError(
      apps.compile([TokenRefreshModule.forRoot({ oauthClient: new FakeOAuthClient(), telemetry: telemetry as never })]),
      TokenRefreshConfigError,
      { option: 'telemetry' },
    );
  });

  it('without @opentelemetry/api installed the default is to report nothing', async () => {
    vi.resetModules();
    vi.doMock('./otel/otel-api', () => ({ loadOpenTelemetryApi: () => null }));
    try {
      const { resolveTelemetry } = await import('./token-refresh.telemetry.js');
      // A fresh module graph: its NO_TELEMETRY is that graph's own.
      const { NO_TELEMETRY: none } = await import('./core/telemetry.js');
      expect(resolveTelemetry(undefined)).toBe(none);
    } finally {
      vi.doUnmock('./otel/otel-api');
      vi.resetModules();
    }
  });
});
