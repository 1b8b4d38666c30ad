'use strict';
/*
 * One replica for the cluster tests: a Nest application context with TokenRefreshModule on
 * one registration (built-in `oauth` client, RedisTokenStore + RedisRefreshLock on one shared
 * connection). Driven by its parent over IPC; reports the module's events back. Plain CommonJS
 * so it runs without a TypeScript loader: it requires the code the test compiled beforehand.
 */
require('reflect-metadata');
const path = require('node:path');
const { NestFactory } = require('@nestjs/core');
const { ScheduleModule } = require('@nestjs/schedule');
const { EventEmitterModule, EventEmitter2 } = require('@nestjs/event-emitter');
const { HttpService } = require('@nestjs/axios');

const config = JSON.parse(process.env.CLUSTER_WORKER_CONFIG);
const { TokenRefreshModule, TokenRefreshService } = require(path.join(config.dist, 'index.js'));
const { RedisTokenStore, RedisRefreshLock, createRedisConnection } = require(path.join(config.dist, 'redis', 'index.js'));

function send(message) {
  if (process.connected) process.send(message);
}

process.on('unhandledRejection', (error) => {
  send({ type: 'crash', message: String(error && error.stack ? error.stack : error) });
  process.exit(1);
});

async function main() {
  // One connection per replica, shared by the store and the lock (it logs its own outages).
  const redis = createRedisConnection(config.redisUrl);
  const store = new RedisTokenStore(redis, { keyPrefix: config.keyPrefix });
  const lock = new RedisRefreshLock(redis, { keyPrefix: config.keyPrefix, lease: config.lease, resyncDelay: config.resyncDelay });

  class ReplicaModule {}
  const app = await NestFactory.createApplicationContext(
    {
      module: ReplicaModule,
      imports: [
        ScheduleModule.forRoot(),
        EventEmitterModule.forRoot(),
        TokenRefreshModule.forRoot({
          oauth: {
            tokenEndpoint: config.tokenEndpoint,
            clientId: config.clientId,
            clientSecret: config.clientSecret,
            timeout: config.oauthTimeout,
          },
          tokenStore: store,
          lock,
          refreshThreshold: 60_000,
          checkInterval: config.checkInterval,
          lockWaitTimeout: config.lockWaitTimeout,
          retry: { initialDelay: 200, maxDelay: 1_000 },
        }),
      ],
    },
    { logger: ['log', 'warn', 'error'] },
  );
  const service = app.get(TokenRefreshService);

  app.get(EventEmitter2).onAny((event, payload) => {
    send({ type: 'event', event, payload: JSON.parse(JSON.stringify(payload)) });
  });

  // Test hooks on the HTTP client the built-in OAuth client uses: pause one refresh right
  // before its request is sent, or right after its response arrived, until the parent says go.
  let armed;
  let resume;
  const pause = (at) => {
    armed = undefined;
    send({ type: 'paused', at });
    return new Promise((resolve) => {
      resume = resolve;
    });
  };
  const http = app.get(HttpService, { strict: false });
  http.axiosRef.interceptors.request.use(async (request) => {
    if (armed === 'before-request') await pause('before-request');
    return request;
  });
  http.axiosRef.interceptors.response.use(async (response) => {
    if (armed === 'after-response') await pause('after-response');
    return response;
  });

  process.on('message', (message) => {
    void handle(message).catch((error) => send({ type: 'crash', message: String(error && error.stack) }));
  });

  async function handle(message) {
    switch (message.type) {
      case 'start':
        await service.start();
        return send({ type: 'started' });
      case 'arm':
        armed = message.at;
        return send({ type: 'armed' });
      case 'disarm':
        armed = undefined;
        return send({ type: 'disarmed' });
      case 'continue':
        resume?.();
        resume = undefined;
        return;
      case 'status': {
        // Test-only: the parent checks the token with the authorization server. Never logged.
        const tokens = service.getTokens();
        return send({
          type: 'status',
          id: message.id,
          state: service.getRefreshStatus().state,
          accessToken: tokens && tokens.accessToken,
          refreshToken: tokens && tokens.refreshToken,
          expiresAt: tokens && tokens.expiresAt.getTime(),
        });
      }
      case 'stop':
        await app.close();
        await redis.quit().catch(() => redis.disconnect());
        send({ type: 'stopped' });
        return process.disconnect();
      default:
        return undefined;
    }
  }

  send({ type: 'booted', pid: process.pid });
}

main().catch((error) => {
  send({ type: 'crash', message: String(error && error.stack ? error.stack : error) });
  process.exit(1);
});
