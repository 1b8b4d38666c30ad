import { Injectable } from '@nestjs/common';
import { EventEmitter2, EventEmitterModule } from '@nestjs/event-emitter';
import { afterEach, describe, expect, it } from 'vitest';
import { GrantServer } from '../test/support/grant-server';
import { IndexedKeyedStore } from '../test/support/indexed-keyed-store';
import { nestApps } from '../test/support/nest-apps';
import { getKeyedTokenRefreshToken, TOKEN_STORE, TokenRefreshEvents } from './common/token-refresh.constants';
import { type TokenRefreshEvent } from './common/token-refresh.events';
import { TokenRefreshConfigError } from './common/token-refresh.errors';
import { InMemoryKeyedTokenStore } from './core/keyed-token.stores';
import { KeyedTokenRefreshService } from './keyed-token-refresh.service';
import { InjectKeyedTokenRefresh } from './token-refresh.decorators';
import { TokenRefreshModule } from './token-refresh.module';
import { TokenRefreshService } from './token-refresh.service';

@Injectable()
class Connections {
  constructor(
    readonly byClass: KeyedTokenRefreshService,
    @InjectKeyedTokenRefresh() readonly byDecorator: KeyedTokenRefreshService,
    @InjectKeyedTokenRefresh('tenants') readonly tenants: KeyedTokenRefreshService,
  ) {}
}

describe('TokenRefreshModule with keyed: true', () => {
  const apps = nestApps();
  afterEach(() => apps.close());

  it('registers a KeyedTokenRefreshService, injectable by class, by decorator and by token, beside a single one', async () => {
    const server = new GrantServer(3600);
    const app = await apps.compile(
      [
        TokenRefreshModule.forRoot({ keyed: true, oauthClient: server }),
        TokenRefreshModule.forRoot({ name: 'tenants', keyed: true, oauthClient: server }),
        TokenRefreshModule.forRoot({ name: 'single', oauthClient: server }),
      ],
      [Connections],
    );
    const connections = app.get(Connections);
    expect(connections.byClass).toBeInstanceOf(KeyedTokenRefreshService);
    expect(connections.byDecorator).toBe(connections.byClass);
    expect(connections.tenants).not.toBe(connections.byClass);
    expect(app.get(getKeyedTokenRefreshToken('tenants'))).toBe(connections.tenants);
    expect(app.get(TOKEN_STORE)).toBeInstanceOf(InMemoryKeyedTokenStore);
    expect(() => app.get(TokenRefreshService)).toThrow();
    // Running from bootstrap: a key set now is held and served.
    expect(connections.byClass.isRunning()).toBe(true);
    await connections.byClass.set('user-1', server.login());
    expect(await connections.byClass.getAccessToken('user-1')).toBe('at-1');
  });

  it('forRootAsync takes keyed beside useFactory, and events name the key', async () => {
    const server = new GrantServer(3600);
    const store = new IndexedKeyedStore();
    const app = await apps.compile([
      EventEmitterModule.forRoot(),
      TokenRefreshModule.forRootAsync({ name: 'users', keyed: true, useFactory: () => ({ oauthClient: server, tokenStore: store }) }),
    ]);
    const users = app.get<KeyedTokenRefreshService>(getKeyedTokenRefreshToken('users'));
    const refreshed: TokenRefreshEvent[] = [];
    app.get(EventEmitter2).on(TokenRefreshEvents.REFRESHED, (event: TokenRefreshEvent) => refreshed.push(event));
    await users.set('user-7', server.login());
    await users.forceRefresh('user-7');
    expect(refreshed).toMatchObject([{ name: 'users', key: 'user-7' }]);
    expect(store.records.get('user-7')?.refreshToken).toBe('rt-2');
  });

  it('refuses a single-credential store for a keyed registration, naming tokenStore', async () => {
    const single = { load: async () => null, save: async () => undefined };
    const error = await apps.compile([TokenRefreshModule.forRoot({ keyed: true, oauthClient: new GrantServer(60), tokenStore: single })]).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(TokenRefreshConfigError);
    expect(error).toMatchObject({ option: 'tokenStore', message: expect.stringContaining('delete()') });
  });

  it('app.close() stops it: refreshes in flight land and are saved, the stopped event goes out', async () => {
    const server = new GrantServer(3600);
    const store = new IndexedKeyedStore();
    const app = await apps.compile([EventEmitterModule.forRoot(), TokenRefreshModule.forRoot({ keyed: true, oauthClient: server, tokenStore: store })]);
    const service = app.get(KeyedTokenRefreshService);
    const stopped: unknown[] = [];
    app.get(EventEmitter2).on(TokenRefreshEvents.STOPPED, (event) => stopped.push(event));
    await service.set('a', server.login());
    server.answer = { kind: 'slow', ms: 50 };
    const refreshing = service.forceRefresh('a');
    await apps.close();
    await refreshing;
    expect(service.isRunning()).toBe(false);
    expect(stopped).toHaveLength(1);
    expect(store.records.get('a')?.refreshToken).toBe('rt-2');
  });
});
