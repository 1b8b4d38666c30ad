import { type INestApplication } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { Test } from '@nestjs/testing';
import { type Server } from 'node:http';
import {
  startAuthorizationServer,
  type AuthorizationServer,
  type IssuedTokens,
} from '../../examples/auth-server/authorization-server';
import { createAppModule } from '../../examples/app/app.module';
import { type ExampleMetrics, startMetrics } from '../../examples/app/metrics';
import { type ProtectedApi, startProtectedApi } from '../../examples/app/protected-api';
import { TokenRefreshService } from '../../src';

export interface StackOptions {
  /** Access token lifetime in seconds; refreshes happen at half of it. */
  accessTokenTtl: number;
  /** Replaces the protected API's token check (default: the authorization server's verifyAccessToken). */
  verify?: (token: string, auth: AuthorizationServer) => Promise<boolean>;
  /** Point the app at this API instead of starting the example's protected API. */
  apiBaseUrl?: string;
  /** Register the metrics SDK first and serve GET /metrics, as `npm start` does. */
  metrics?: boolean;
}

/** The example app wired as `npm start` wires it, every server on a free 127.0.0.1 port. */
export interface Stack {
  app: INestApplication;
  server: Server;
  auth: AuthorizationServer;
  /** Undefined when StackOptions.apiBaseUrl was given. */
  api: ProtectedApi | undefined;
  issued: IssuedTokens;
  /** When StackOptions.metrics was given. */
  metrics: ExampleMetrics | undefined;
  service: TokenRefreshService;
  events: EventEmitter2;
  close(): Promise<void>;
}

export async function startStack(options: StackOptions): Promise<Stack> {
  const closers: Array<() => Promise<unknown>> = [];
  const close = async (): Promise<void> => {
    while (closers.length) await closers.pop()!();
  };
  try {
    const metrics = options.metrics ? startMetrics() : undefined;
    if (metrics) closers.push(() => metrics.shutdown());
    const auth = await startAuthorizationServer({ accessTokenTtl: options.accessTokenTtl });
    closers.push(() => auth.close());
    let api: ProtectedApi | undefined;
    if (options.apiBaseUrl === undefined) {
      const verify = options.verify ?? ((token: string) => auth.verifyAccessToken(token));
      api = await startProtectedApi({ verify: (token) => verify(token, auth) });
      closers.push(() => api!.close());
    }
    const issued = await auth.issueTokens('basic');
    const client = auth.clients.basic;
    const moduleRef = await Test.createTestingModule({
      imports: [
        createAppModule({
          oauth: { tokenEndpoint: auth.tokenEndpoint, clientId: client.clientId, clientSecret: client.clientSecret },
          initialTokens: issued,
          apiBaseUrl: options.apiBaseUrl ?? api!.url,
          connectUser: () => auth.issueTokens('basic'),
          metrics,
        }),
      ],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    closers.push(() => app.close());
    // Listening (not just init): supertest then reuses this port for parallel requests.
    await app.listen(0, '127.0.0.1');
    return {
      app,
      server: app.getHttpServer() as Server,
      auth,
      api,
      issued,
      metrics,
      service: app.get(TokenRefreshService),
      events: app.get(EventEmitter2),
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** Collects the payloads of one event from the moment it is created. */
export class EventRecorder<T = unknown> {
  readonly seen: T[] = [];
  #waiters: Array<() => void> = [];
  readonly #listener = (payload: T): void => {
    this.seen.push(payload);
    for (const wake of this.#waiters.splice(0)) wake();
  };

  constructor(
    private readonly emitter: EventEmitter2,
    readonly event: string,
  ) {
    emitter.on(event, this.#listener);
  }

  /** Resolves once `count` events have been seen in total; fails the test after `timeoutMs`. */
  async waitFor(count: number, timeoutMs = 10_000): Promise<T[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.seen.length < count) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${count} "${this.event}" events (saw ${this.seen.length})`);
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
    }
    return this.seen;
  }

  stop(): void {
    this.emitter.off(this.event, this.#listener);
  }
}

/** A promise the test settles, optionally resolved anyway after `timeoutMs` so a broken test fails instead of hanging. */
export function gate(timeoutMs?: number): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  if (timeoutMs !== undefined) {
    const timer = setTimeout(open, timeoutMs);
    void promise.then(() => clearTimeout(timer));
  }
  return { promise, open };
}

/** Secrets that must never show up in a response body. */
export function secretsOf(stack: Stack): string[] {
  const current = stack.service.getTokens();
  return [
    stack.issued.accessToken,
    stack.issued.refreshToken,
    stack.auth.clients.basic.clientSecret!,
    current?.accessToken,
    current?.refreshToken,
  ].filter((value): value is string => typeof value === 'string' && value.length > 0);
}

/** Boolean, so a failure never prints the secret it found. */
export function containsAnySecret(text: string, secrets: string[]): boolean {
  return secrets.some((secret) => text.includes(secret));
}
