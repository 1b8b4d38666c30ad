import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { type AddressInfo } from 'net';
import { createAppModule } from './app.module';

async function main(): Promise<void> {
  const app = await NestFactory.create(
    createAppModule({ tokenEndpoint: process.env.TOKEN_ENDPOINT!, apiBaseUrl: process.env.API_BASE_URL! }),
    { logger: ['error', 'warn'] },
  );
  app.enableShutdownHooks();
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  // The test reads this line to find the app.
  console.log(JSON.stringify({ listening: port }));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
