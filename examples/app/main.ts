import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { type AddressInfo } from 'node:net';
import { startAuthorizationServer } from '../auth-server/authorization-server';
import { createAppModule } from './app.module';
import { HOST, readExampleEnv } from './config';
import { startMetrics } from './metrics';
import { startProtectedApi } from './protected-api';

/**
 * `npm start`: an authorization server with short-lived tokens, a protected API that accepts
 * only its tokens, and a Nest app that keeps a token valid, calls the API with it, and serves
 * its metrics to Prometheus on /metrics.
 * Ctrl-C shuts the three down in order.
 */
async function main(): Promise<void> {
  const logger = new Logger('Example');
  const env = readExampleEnv(process.env);
  const closers: Array<() => Promise<void>> = [];
  const closeServers = async (): Promise<void> => {
    while (closers.length) await closers.pop()!().catch(() => undefined);
  };

  try {
    // First, as an app's telemetry setup file runs first: instrumentation that takes its meters at load would keep no-ops.
    const metrics = startMetrics();
    closers.push(() => metrics.shutdown());
    const auth = await startAuthorizationServer({ port: env.authPort, accessTokenTtl: env.tokenTtl });
    closers.push(() => auth.close());
    const api = await startProtectedApi({ port: env.apiPort, verify: (token) => auth.verifyAccessToken(token) });
    closers.push(() => api.close());

    // Stands in for a login: a real app gets its first tokens from an authorization code flow.
    const issued = await auth.issueTokens('basic');
    const client = auth.clients.basic;

    const app = await NestFactory.create(
      createAppModule({
        oauth: { tokenEndpoint: auth.tokenEndpoint, clientId: client.clientId, clientSecret: client.clientSecret },
        initialTokens: issued,
        apiBaseUrl: api.url,
        connectUser: () => auth.issueTokens('basic'),
        metrics,
        onShutdown: async () => {
          await closeServers();
          logger.log('authorization server and protected API closed; bye');
        },
      }),
      { abortOnError: false },
    );
    // useProcessExit: exit 0 once every hook has run, instead of re-raising the signal.
    app.enableShutdownHooks(['SIGINT', 'SIGTERM'], { useProcessExit: true });
    await app.listen(env.port, HOST);
    const { port } = app.getHttpServer().address() as AddressInfo;
    const url = `http://${HOST}:${port}`;

    logger.log(`authorization server  ${auth.issuer}  (access tokens live ${env.tokenTtl} s)`);
    logger.log(`protected API         ${api.url}/data`);
    logger.log(`app                   ${url}`);
    logger.log(`try: curl ${url}/token/status  |  curl ${url}/health  |  curl ${url}/demo  |  curl ${url}/metrics   (Ctrl-C to stop)`);
    logger.log(`many users: curl -X POST ${url}/users/ada/connect  |  curl ${url}/users/ada/data  |  curl ${url}/users`);
  } catch (error) {
    await closeServers();
    throw error;
  }
}

main().catch((error: unknown) => {
  new Logger('Example').error(`could not start: ${(error as Error)?.message ?? String(error)}`);
  process.exitCode = 1;
});
