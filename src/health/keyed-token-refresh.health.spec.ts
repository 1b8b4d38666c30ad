import { TerminusModule } from '@nestjs/terminus';
import { afterEach, describe, expect, it } from 'vitest';
import { GrantServer } from '../../test/support/grant-server';
import { nestApps } from '../../test/support/nest-apps';
import { getKeyedTokenRefreshToken } from '../common/token-refresh.constants';
import { type KeyedTokenRefreshService } from '../keyed-token-refresh.service';
import { TokenRefreshModule } from '../token-refresh.module';
import { TokenRefreshHealthModule } from './token-refresh-health.module';
import { TokenRefreshHealthIndicator } from './token-refresh.health';

describe('TokenRefreshHealthIndicator on a keyed registration', () => {
  const apps = nestApps();
  afterEach(() => apps.close());

  it('reports counts per state, never keys, and goes degraded and down on the thresholds the app sets', async () => {
    const server = new GrantServer(3600);
    const app = await apps.compile([
      TerminusModule.forRoot({ logger: false }),
      TokenRefreshHealthModule,
      TokenRefreshModule.forRoot({ name: 'users', keyed: true, oauthClient: server }),
    ]);
    const users = app.get<KeyedTokenRefreshService>(getKeyedTokenRefreshToken('users'));
    const indicator = app.get(TokenRefreshHealthIndicator);
    const logins = Array.from({ length: 10 }, () => server.login());
    for (const [i, login] of logins.entries()) await users.set(`secret-user-${i}`, login);

    const healthy = await indicator.isHealthy('users', { name: 'users' });
    expect(healthy).toEqual({ users: { status: 'up', name: 'users', keyed: true, running: true, keys: 10, states: expect.objectContaining({ idle: 10 }), failing: 0 } });

    // Two users revoked access: 20 % failing.
    for (const i of [3, 7]) {
      server.revokeGrant(logins[i].refreshToken!);
      await users.forceRefresh(`secret-user-${i}`).catch(() => undefined);
    }
    const twoDead = await indicator.isHealthy('users', { name: 'users', keyed: { degraded: 0.1, down: 0.5 } });
    expect(JSON.stringify(twoDead)).not.toContain('secret-user');
    expect(twoDead.users).toMatchObject({ keys: 10, failing: 0.2, reason: 'keys-failing' });
    expect(['degraded', 'up']).toContain(twoDead.users.status); // terminus 11 reports up with degraded: true
    const down = await indicator.isHealthy('users', { name: 'users', keyed: { down: 0.2 } });
    expect(down.users).toMatchObject({ status: 'down', reason: 'keys-failing' });
  });
});
