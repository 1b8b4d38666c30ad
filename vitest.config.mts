import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);
const nestAxios = JSON.parse(readFileSync(new URL('./node_modules/@nestjs/axios/package.json', import.meta.url), 'utf8')) as {
  type?: string;
};

export default defineConfig({
  resolve: {
    // @nestjs/axios 4 (Nest 11) is CommonJS and require()s axios's CommonJS build, as a CommonJS
    // app does; specs that import axios get that same copy (one AxiosError class). On Nest 12
    // both sides load the ESM build, which is what an ESM import resolves to anyway.
    alias: nestAxios.type === 'module' ? [] : [{ find: /^axios$/, replacement: require.resolve('axios') }],
  },
  test: {
    include: ['src/**/*.spec.ts', 'test/**/*.e2e-spec.ts'],
    setupFiles: ['reflect-metadata'],
    // Vitest's default is one worker per core less one: a single worker on a 2-core machine. Most
    // suites wait on servers, timers and child processes, so two halve the wall time there.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
