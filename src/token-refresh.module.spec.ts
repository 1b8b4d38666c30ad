import { Controller, Get, Injectable, Module } from '@nestjs/common';
import { EventEmitterModule } from '@nestjs/event-emitter';
import { ScheduleModule, SchedulerRegistry } from '@nestjs/schedule';
import { Test } from '@nestjs/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeOAuthClient } from '../test/support/fake-oauth-client';
import { nestApps } from '../test/support/nest-apps';
import { InMemoryTokenStore } from './core/in-memory-token.store';
import { type OAuthClient } from './common/interfaces/oauth-client.interface';
import { type TokenRefreshModuleOptions } from './token-refresh.options';
import { OAUTH_CLIENT, TokenRefreshEvents, TOKEN_STORE, getOAuthClientToken } from './common/token-refresh.constants';
import { InjectOAuthClient, InjectTokenRefresh, InjectTokenStore } from './token-refresh.decorators';
import { TokenRefreshConfigError } from './common/token-refresh.errors';
import { TokenRefreshModule } from './token-refresh.module';
import { TokenRefreshService } from './token-refresh.service';
import { EventEmitter2 } from '@nestjs/event-emitter';

const tokens = { accessToken: 'a', refreshToken: 'r', expiresIn: 3600 };

@Injectable()
class Consumer {
  constructor(
    readonly byClass: TokenRefreshService,
    @InjectTokenRefresh() readonly byDecorator: TokenRefreshService,
    @InjectTokenRefresh('crm') readonly crm: TokenRefreshService,
  ) {}
}

@Injectable()
class OptionsFactory {
  createTokenRefreshOptions(): TokenRefreshModuleOptions {
    return { oauthClient: new FakeOAuthClient() };
  }
}

/** A client class Nest builds itself, to prove class-typed options get DI. */
@Injectable()
class ClassClient extends FakeOAuthClient {}

describe('TokenRefreshModule', () => {
  const apps = nestApps();
  const closers: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    while (closers.length) await closers.pop()!();
    await apps.close();
  });
  const compile = apps.compile;

  it('forRoot registers a service injectable by class, by decorator and by token', async () => {
    const app = await compile([TokenRefreshModule.forRoot({ oauthClient: new FakeOAuthClient() })]);
    const service = app.get(TokenRefreshService);
    expect(service).toBeInstanceOf(TokenRefreshService);
    expect(app.get(OAUTH_CLIENT)).toBeInstanceOf(FakeOAuthClient);
    expect(app.get(TOKEN_STORE)).toBeInstanceOf(InMemoryTokenStore);
  });

  it('InjectOAuthClient and InjectTokenStore inject the named registration\'s own client and store', async () => {
    const crmClient = new FakeOAuthClient();
    const crmStore = new InMemoryTokenStore();
    @Injectable()
    class Collaborators {
      constructor(
        @InjectOAuthClient('crm') readonly client: OAuthClient,
        @InjectTokenStore('crm') readonly store: InMemoryTokenStore,
        @InjectOAuthClient() readonly defaultClient: OAuthClient,
      ) {}
    }
    const main = new FakeOAuthClient();
    const app = await compile(
      [TokenRefreshModule.forRoot({ oauthClient: main }), TokenRefreshModule.forRoot({ name: 'crm', oauthClient: crmClient, tokenStore: crmStore })],
      [Collaborators],
    );
    const collaborators = app.get(Collaborators);
    expect(collaborators.client).toBe(crmClient);
    expect(collaborators.store).toBe(crmStore);
    expect(collaborators.defaultClient).toBe(main);
  });

  it('two named registrations stay independent', async () => {
    const main = new FakeOAuthClient();
    const crm = new FakeOAuthClient((_rt, call) => ({ accessToken: `crm-${call}`, refreshToken: `crm-rt-${call}`, expiresIn: 600 }));
    const app = await compile(
      [TokenRefreshModule.forRoot({ oauthClient: main }), TokenRefreshModule.forRoot({ name: 'crm', oauthClient: crm, isGlobal: true })],
      [Consumer],
    );
    const consumer = app.get(Consumer);
    expect(consumer.byClass).toBe(consumer.byDecorator);
    expect(consumer.crm).not.toBe(consumer.byClass);
    expect(consumer.crm.name).toBe('crm');
    await consumer.byClass.start(tokens);
    await consumer.crm.start({ ...tokens, refreshToken: 'crm-r' });
    await consumer.crm.forceRefresh();
    expect(crm.presented).toEqual(['crm-r']);
    expect(main.calls).toBe(0);
    expect(await consumer.crm.getAccessToken()).toBe('crm-1');
    expect(await consumer.byClass.getAccessToken()).toBe('a');
    const registry = app.get(SchedulerRegistry);
    expect(registry.getIntervals().sort()).toEqual(['token-refresh:crm:check', 'token-refresh:default:check']);
    // The exact refresh instant is armed too, per registration.
    expect(registry.getTimeouts().sort()).toEqual(['token-refresh:crm:refresh', 'token-refresh:default:refresh']);
    expect(app.get(getOAuthClientToken('crm'))).toBe(crm);
  });

  it('isGlobal: true in forRoot makes a named registration visible to a module that does not import it', async () => {
    @Injectable()
    class Billing {
      constructor(@InjectTokenRefresh('billing') readonly refresh: TokenRefreshService) {}
    }
    @Module({ providers: [Billing], exports: [Billing] })
    class BillingModule {}
    const app = await compile([
      TokenRefreshModule.forRoot({ name: 'billing', oauthClient: new FakeOAuthClient(), isGlobal: true }),
      BillingModule,
    ]);
    expect(app.get(Billing).refresh.name).toBe('billing');
  });

  it('without isGlobal a module that does not import the registration cannot inject it', async () => {
    @Injectable()
    class Billing {
      constructor(@InjectTokenRefresh('billing') readonly refresh: TokenRefreshService) {}
    }
    @Module({ providers: [Billing] })
    class BillingModule {}
    const error = await Test.createTestingModule({
      imports: [ScheduleModule.forRoot(), TokenRefreshModule.forRoot({ name: 'billing', oauthClient: new FakeOAuthClient() }), BillingModule],
    })
      .compile()
      .then(() => undefined, (thrown: unknown) => thrown);
    expect(String(error)).toMatch(/can't resolve dependencies of the Billing/i);
  });

  it('forRootAsync compiles with useFactory, useClass and useExisting', async () => {
    @Module({ providers: [OptionsFactory], exports: [OptionsFactory] })
    class OptionsModule {}
    for (const form of [
      { useFactory: () => ({ oauthClient: new FakeOAuthClient() }) },
      { imports: [OptionsModule], useExisting: OptionsFactory },
      { useClass: OptionsFactory },
    ]) {
      const app = await compile([TokenRefreshModule.forRootAsync(form)]);
      const service = app.get(TokenRefreshService);
      await service.start(tokens);
      expect(await service.getAccessToken()).toBe('a');
    }
  });

  it('isGlobal: true in forRootAsync makes the registration visible to every module', async () => {
    @Controller()
    class ReportsController {
      constructor(@InjectTokenRefresh('reports') readonly refresh: TokenRefreshService) {}
      @Get() get(): string {
        return this.refresh.name;
      }
    }
    @Module({ controllers: [ReportsController] })
    class ReportsModule {}
    const app = await compile([
      TokenRefreshModule.forRootAsync({ name: 'reports', isGlobal: true, useFactory: () => ({ oauthClient: new FakeOAuthClient() }) }),
      ReportsModule,
    ]);
    expect(app.get(ReportsController).refresh.name).toBe('reports');
  });

  it('builds class-typed clients and stores through DI', async () => {
    const app = await compile([TokenRefreshModule.forRoot({ oauthClient: ClassClient, tokenStore: InMemoryTokenStore })]);
    expect(app.get<OAuthClient>(OAUTH_CLIENT)).toBeInstanceOf(ClassClient);
  });

  it('overrideProvider replaces the OAuth client in tests', async () => {
    const fake = new FakeOAuthClient();
    const moduleRef = await Test.createTestingModule({
      imports: [ScheduleModule.forRoot(), TokenRefreshModule.forRoot({ oauth: { tokenEndpoint: 'http://127.0.0.1:1/token', clientId: 'c' } })],
    })
      .overrideProvider(OAUTH_CLIENT)
      .useValue(fake)
      .compile();
    closers.push(() => moduleRef.close());
    const service = moduleRef.get(TokenRefreshService);
    await service.start(tokens);
    await service.forceRefresh();
    expect(fake.presented).toEqual(['r']);
  });

  it.each([
    [{ checkInterval: -5 }, 'checkInterval'],
    [{ checkInterval: Number.NaN }, 'checkInterval'],
    [{ refreshThreshold: 30_000 }, 'refreshThreshold'],
    [{ retry: { initialDelay: 0 } }, 'retry.initialDelay'],
    [{ oauthClient: undefined }, 'oauthClient'],
    [{ oauthClient: {} }, 'oauthClient'],
    [{ tokenStore: { load: () => null } }, 'tokenStore'],
    [{ oauth: { tokenEndpoint: 'http://idp.example.com/token', clientId: 'c' }, oauthClient: undefined }, 'oauth.tokenEndpoint'],
  ])('rejects bad options at bootstrap, naming the option (%o)', async (bad, option) => {
    const options = { oauthClient: new FakeOAuthClient(), ...bad } as TokenRefreshModuleOptions;
    const error = await Test.createTestingModule({ imports: [ScheduleModule.forRoot(), TokenRefreshModule.forRoot(options)] })
      .compile()
      .then(() => undefined, (thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(TokenRefreshConfigError);
    expect((error as TokenRefreshConfigError).option).toBe(option);
    expect((error as Error).message).toContain(option);
  });

  it('without ScheduleModule.forRoot() bootstrap fails with a message that says what to import', async () => {
    const error = await Test.createTestingModule({ imports: [TokenRefreshModule.forRoot({ oauthClient: new FakeOAuthClient() })] })
      .compile()
      .then(() => undefined, (thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(TokenRefreshConfigError);
    expect((error as Error).message).toContain('ScheduleModule.forRoot()');
  });

  it('autoStart starts from the store at bootstrap; app.close() stops it and emits stopped first', async () => {
    const store = new InMemoryTokenStore({ accessToken: 'stored', refreshToken: 'r', tokenType: 'Bearer', expiresAt: new Date(Date.now() + 3600_000) });
    const app = await compile([
      EventEmitterModule.forRoot(),
      TokenRefreshModule.forRoot({ oauthClient: new FakeOAuthClient(), tokenStore: store, autoStart: true }),
    ]);
    const seen: string[] = [];
    const emitter = app.get(EventEmitter2);
    emitter.on(TokenRefreshEvents.STOPPED, () => seen.push('stopped'));
    const service = app.get(TokenRefreshService);
    expect(service.isRunning()).toBe(true);
    expect(await service.getAccessToken()).toBe('stored');
    const registry = app.get(SchedulerRegistry);
    await apps.closeLast();
    expect(seen).toEqual(['stopped']);
    expect(service.isRunning()).toBe(false);
    expect(registry.getIntervals()).toEqual([]);
    expect(registry.getTimeouts()).toEqual([]);
  });

  it('autoStart with an empty store leaves the service stopped, ready for start(tokens)', async () => {
    const app = await compile([TokenRefreshModule.forRoot({ oauthClient: new FakeOAuthClient(), autoStart: true })]);
    const service = app.get(TokenRefreshService);
    expect(service.isRunning()).toBe(false);
    await service.start(tokens);
    expect(service.isRunning()).toBe(true);
  });
});
