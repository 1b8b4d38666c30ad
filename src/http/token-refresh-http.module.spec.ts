import { type HttpService } from '@nestjs/axios';
import { Inject, Injectable, Module } from '@nestjs/common';
import { AxiosError, type AxiosAdapter, type AxiosResponse } from 'axios';
import { Agent as HttpsAgent } from 'node:https';
import { firstValueFrom } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { deferred, FakeOAuthClient } from '../../test/support/fake-oauth-client';
import { nestApps } from '../../test/support/nest-apps';
import { TokenRefreshConfigError } from '../common/token-refresh.errors';
import { TokenRefreshModule } from '../token-refresh.module';
import { TokenRefreshService } from '../token-refresh.service';
import { getTokenRefreshToken } from '../common/token-refresh.constants';
import { InjectTokenRefreshHttp, getTokenRefreshHttpToken } from './token-refresh-http.constants';
import { TokenRefreshHttpModule } from './token-refresh-http.module';
import { type TokenRefreshHttpModuleOptions, type TokenRefreshHttpOptionsFactory } from './token-refresh-http.module-definition';
import { type TokenRefreshHttpConfig } from './token-refresh-http.options';

const BASE = 'https://api.example.com';
const tokens = { accessToken: 'a', refreshToken: 'r', expiresIn: 3600 };

/**
 * Answers 401 to any Authorization in `rejected`, 200 otherwise, and records what it got.
 * With `holdRejections: n`, no 401 is sent before n requests have earned one: a real storm.
 */
function fakeNetwork(
  rejected: Set<string>,
  holdRejections = 0,
): { adapter: AxiosAdapter; authorizations: (string | undefined)[] } {
  const authorizations: (string | undefined)[] = [];
  const storm = deferred<void>();
  let rejections = 0;
  if (holdRejections === 0) storm.resolve();
  const adapter: AxiosAdapter = async (config) => {
    const authorization = config.headers.get('Authorization') as string | undefined;
    authorizations.push(authorization);
    const status = authorization !== undefined && rejected.has(authorization) ? 401 : 200;
    if (status === 401) {
      if (++rejections === holdRejections) storm.resolve();
      await storm.promise;
    }
    const response: AxiosResponse = { status, statusText: '', data: 'ok', headers: {}, config, request: {} };
    if (status === 401) throw new AxiosError('Request failed with status code 401', 'ERR_BAD_REQUEST', config, {}, response);
    return response;
  };
  return { adapter, authorizations };
}

@Injectable()
class Consumer {
  constructor(
    @InjectTokenRefreshHttp() readonly api: HttpService,
    @InjectTokenRefreshHttp('crm') readonly crm: HttpService,
  ) {}
}

describe('TokenRefreshHttpModule', () => {
  const apps = nestApps();
  afterEach(() => apps.close());
  const compile = apps.compile;

  it('each registration gets its own HttpService that sends its own token', async () => {
    const network = fakeNetwork(new Set());
    const app = await compile(
      [
        TokenRefreshModule.forRoot({ oauthClient: new FakeOAuthClient() }),
        TokenRefreshModule.forRoot({ name: 'crm', oauthClient: new FakeOAuthClient() }),
        TokenRefreshHttpModule.register({ baseURL: BASE, adapter: network.adapter }),
        TokenRefreshHttpModule.register({ name: 'crm', baseURL: 'https://crm.example.com', adapter: network.adapter }),
      ],
      [Consumer],
    );
    await app.get(TokenRefreshService).start(tokens);
    await app.get<TokenRefreshService>(getTokenRefreshToken('crm')).start({ ...tokens, accessToken: 'crm-a', tokenType: 'bearer' });
    const consumer = app.get(Consumer);
    expect(consumer.api).not.toBe(consumer.crm);
    expect(app.get(getTokenRefreshHttpToken())).toBe(consumer.api);
    await firstValueFrom(consumer.api.get('/x'));
    await firstValueFrom(consumer.crm.get('/y'));
    await firstValueFrom(consumer.crm.get(`${BASE}/z`));
    expect(network.authorizations).toEqual(['Bearer a', 'Bearer crm-a', undefined]);
  });

  it('a 401 storm through the real service makes one refresh request; each request is replayed once', async () => {
    const network = fakeNetwork(new Set(['Bearer a']), 20);
    const client = new FakeOAuthClient();
    const app = await compile([
      TokenRefreshModule.forRoot({ oauthClient: client }),
      TokenRefreshHttpModule.register({ baseURL: BASE, adapter: network.adapter }),
    ]);
    await app.get(TokenRefreshService).start(tokens);
    const api = app.get<HttpService>(getTokenRefreshHttpToken());
    const responses = await Promise.all(Array.from({ length: 20 }, () => firstValueFrom(api.get('/x'))));
    expect(responses.every((r) => r.status === 200)).toBe(true);
    expect(client.calls).toBe(1);
    expect(network.authorizations.filter((a) => a === 'Bearer a')).toHaveLength(20);
    expect(network.authorizations.filter((a) => a === 'Bearer at-1')).toHaveLength(20);
  });

  describe('registerAsync', () => {
    /** Provides the API's URL and the adapter the config should use, as a config module would. */
    function configModule(network: { adapter: AxiosAdapter }, baseURL = BASE) {
      @Injectable()
      class HttpOptions implements TokenRefreshHttpOptionsFactory {
        static instances = 0;
        constructor(@Inject('API_URL') private readonly url: string) {
          HttpOptions.instances++;
        }
        createTokenRefreshHttpOptions(): TokenRefreshHttpConfig {
          return { baseURL: this.url, adapter: network.adapter };
        }
      }
      @Module({ providers: [{ provide: 'API_URL', useValue: baseURL }, HttpOptions], exports: ['API_URL', HttpOptions] })
      class ConfigModule {}
      return { ConfigModule, HttpOptions };
    }

    /** Starts the default registration and sends one request through the default HttpService. */
    async function authorizationsSent(imports: unknown[], network: ReturnType<typeof fakeNetwork>) {
      const app = await compile([TokenRefreshModule.forRoot({ oauthClient: new FakeOAuthClient() }), ...imports]);
      await app.get(TokenRefreshService).start(tokens);
      await firstValueFrom(app.get<HttpService>(getTokenRefreshHttpToken()).get('/x'));
      return network.authorizations;
    }

    it('useFactory: the config comes from a factory with injected providers', async () => {
      const network = fakeNetwork(new Set());
      const { ConfigModule } = configModule(network);
      const module = TokenRefreshHttpModule.registerAsync({
        imports: [ConfigModule],
        inject: ['API_URL'],
        useFactory: async (baseURL: string) => ({ baseURL, adapter: network.adapter }),
      });
      expect(await authorizationsSent([module], network)).toEqual(['Bearer a']);
    });

    it('useClass: the module builds the options factory with its imports', async () => {
      const network = fakeNetwork(new Set());
      const { ConfigModule, HttpOptions } = configModule(network);
      const module = TokenRefreshHttpModule.registerAsync({ imports: [ConfigModule], useClass: HttpOptions });
      expect(await authorizationsSent([module], network)).toEqual(['Bearer a']);
      // One built by ConfigModule, one by the HTTP module for itself.
      expect(HttpOptions.instances).toBe(2);
    });

    it('useExisting: the options factory an imported module exports is used, not rebuilt', async () => {
      const network = fakeNetwork(new Set());
      const { ConfigModule, HttpOptions } = configModule(network);
      const module = TokenRefreshHttpModule.registerAsync({ imports: [ConfigModule], useExisting: HttpOptions });
      expect(await authorizationsSent([module], network)).toEqual(['Bearer a']);
      expect(HttpOptions.instances).toBe(1);
    });

    it('the config a factory returns is checked like the one given to register', async () => {
      const error = await compile([
        TokenRefreshModule.forRoot({ oauthClient: new FakeOAuthClient() }),
        TokenRefreshHttpModule.registerAsync({ useFactory: () => ({ baseURL: 'http://api.example.com' }) }),
      ]).then(
        () => undefined,
        (thrown: unknown) => thrown,
      );
      expect(error).toBeInstanceOf(TokenRefreshConfigError);
      expect((error as TokenRefreshConfigError).option).toBe('baseURL');
    });

    it('name beside the factory picks the registration whose token is sent, and fails the bootstrap when none has it', async () => {
      const network = fakeNetwork(new Set());
      const app = await compile(
        [
          TokenRefreshModule.forRoot({ oauthClient: new FakeOAuthClient() }),
          TokenRefreshModule.forRoot({ name: 'crm', oauthClient: new FakeOAuthClient() }),
          TokenRefreshHttpModule.registerAsync({ useFactory: () => ({ baseURL: BASE, adapter: network.adapter }) }),
          TokenRefreshHttpModule.registerAsync({
            name: 'crm',
            useFactory: () => ({ baseURL: 'https://crm.example.com', adapter: network.adapter }),
          }),
        ],
        [Consumer],
      );
      await app.get(TokenRefreshService).start(tokens);
      await app.get<TokenRefreshService>(getTokenRefreshToken('crm')).start({ ...tokens, accessToken: 'crm-a' });
      const consumer = app.get(Consumer);
      await firstValueFrom(consumer.crm.get('/y'));
      await firstValueFrom(consumer.api.get('/x'));
      expect(network.authorizations).toEqual(['Bearer crm-a', 'Bearer a']);

      const error = await compile([
        TokenRefreshModule.forRoot({ oauthClient: new FakeOAuthClient() }),
        TokenRefreshHttpModule.registerAsync({ name: 'missing', useFactory: () => ({ baseURL: BASE }) }),
      ]).then(
        () => undefined,
        (thrown: unknown) => thrown,
      );
      expect(error).toBeInstanceOf(TokenRefreshConfigError);
      expect((error as TokenRefreshConfigError).option).toBe('name');
    });
  });

  describe('isGlobal', () => {
    @Injectable()
    class FeatureService {
      constructor(@InjectTokenRefreshHttp() readonly api: HttpService) {}
    }
    /** Does not import TokenRefreshHttpModule. */
    @Module({ providers: [FeatureService] })
    class FeatureModule {}

    it.each([
      ['register', () => TokenRefreshHttpModule.register({ baseURL: BASE, isGlobal: true })],
      ['registerAsync', () => TokenRefreshHttpModule.registerAsync({ isGlobal: true, useFactory: () => ({ baseURL: BASE }) })],
    ])('%s: a module that does not import it can inject the HttpService', async (_, module) => {
      const app = await compile([TokenRefreshModule.forRoot({ oauthClient: new FakeOAuthClient() }), module(), FeatureModule]);
      expect(app.get(FeatureService).api).toBe(app.get(getTokenRefreshHttpToken()));
    });

    it('without it, such a module cannot', async () => {
      const error = await compile([
        TokenRefreshModule.forRoot({ oauthClient: new FakeOAuthClient() }),
        TokenRefreshHttpModule.register({ baseURL: BASE }),
        FeatureModule,
      ]).then(
        () => undefined,
        (thrown: unknown) => thrown,
      );
      expect((error as Error).message).toContain(getTokenRefreshHttpToken());
    });

    it.each([
      ['register', () => TokenRefreshHttpModule.register({ baseURL: BASE, global: true } as TokenRefreshHttpModuleOptions)],
      ['a factory', () => TokenRefreshHttpModule.registerAsync({ useFactory: () => ({ baseURL: BASE, global: true }) })],
    ])("@nestjs/axios' global given to %s fails the bootstrap, naming isGlobal", async (_, module) => {
      const error = await compile([TokenRefreshModule.forRoot({ oauthClient: new FakeOAuthClient() }), module()]).then(
        () => undefined,
        (thrown: unknown) => thrown,
      );
      expect(error).toBeInstanceOf(TokenRefreshConfigError);
      expect((error as TokenRefreshConfigError).option).toBe('global');
      expect((error as Error).message).toContain('isGlobal');
    });

    it("@nestjs/axios' global beside the factory is refused at once", () => {
      const options = { global: true, useFactory: () => ({ baseURL: BASE }) };
      expect(() => TokenRefreshHttpModule.registerAsync(options)).toThrow(TokenRefreshConfigError);
    });
  });

  it('fails the bootstrap when no TokenRefreshModule registration has the name', async () => {
    const error = await compile([
      TokenRefreshModule.forRoot({ oauthClient: new FakeOAuthClient() }),
      TokenRefreshHttpModule.register({ name: 'missing', baseURL: BASE }),
    ]).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(TokenRefreshConfigError);
    expect((error as Error).message).toBe(
      `TokenRefreshHttpModule: no TokenRefreshModule registration named "missing"; import TokenRefreshModule.forRoot({ name: 'missing', ... })`,
    );
  });

  it.each([
    [{ baseURL: '' }, 'baseURL'],
    [{ baseURL: 'not a url' }, 'baseURL'],
    [{ baseURL: 'http://api.example.com' }, 'baseURL'],
    [{ baseURL: 'https://user:pass@api.example.com' }, 'baseURL'],
    [{ baseURL: BASE, headers: { authorization: 'Bearer mine' } }, 'headers'],
    [{ baseURL: BASE, headers: { common: { Authorization: 'Bearer mine' } } }, 'headers'],
    [{ baseURL: BASE, auth: { username: 'u', password: 'p' } }, 'auth'],
    [{ baseURL: BASE, httpsAgent: new (class ProxyAgent extends HttpsAgent {})() }, 'httpsAgent'],
    [{ baseURL: BASE, httpAgent: new HttpsAgent() }, 'httpAgent'],
    [{ baseURL: BASE, httpAgent: { keepAlive: true } }, 'httpAgent'],
    [{ baseURL: BASE, httpsAgent: null }, 'httpsAgent'],
  ])('rejects options that could leak the token (%o)', async (options, option) => {
    const error = await compile([
      TokenRefreshModule.forRoot({ oauthClient: new FakeOAuthClient() }),
      TokenRefreshHttpModule.register(options as TokenRefreshHttpModuleOptions),
    ]).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(TokenRefreshConfigError);
    expect((error as TokenRefreshConfigError).option).toBe(option);
    expect((error as Error).message).not.toContain('pass');
    expect((error as Error).message).not.toContain('mine');
  });

  it('allows plain http on a loopback host', async () => {
    const app = await compile([
      TokenRefreshModule.forRoot({ oauthClient: new FakeOAuthClient() }),
      TokenRefreshHttpModule.register({ baseURL: 'http://127.0.0.1:9/api' }),
    ]);
    expect(app.get(getTokenRefreshHttpToken())).toBeDefined();
  });
});
