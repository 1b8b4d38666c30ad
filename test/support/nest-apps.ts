import { type INestApplication } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { Test } from '@nestjs/testing';

/**
 * Builds and inits a Nest app with ScheduleModule.forRoot() (which TokenRefreshModule needs)
 * plus the given imports and providers; `close()` closes every app built since the last call.
 */
export function nestApps(): {
  compile(imports: unknown[], providers?: unknown[]): Promise<INestApplication>;
  close(): Promise<void>;
  closeLast(): Promise<void>;
} {
  const closers: Array<() => Promise<unknown>> = [];
  return {
    async compile(imports, providers = []) {
      const moduleRef = await Test.createTestingModule({
        imports: [ScheduleModule.forRoot(), ...(imports as never[])],
        providers: providers as never[],
      }).compile();
      const app = moduleRef.createNestApplication({ logger: false });
      closers.push(() => app.close());
      await app.init();
      return app;
    },
    async close() {
      while (closers.length) await closers.pop()!();
    },
    async closeLast() {
      await closers.pop()?.();
    },
  };
}
