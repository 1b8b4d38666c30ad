import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * Builds, packs and installs the package the way a user gets it, then loads it from a
 * CommonJS and an ESM consumer outside the repository. Peers are symlinked from this repo's
 * node_modules (their real paths resolve their own dependencies), so nothing is downloaded.
 */
const ROOT = resolve(__dirname, '../..');
const TIMEOUT = 120_000;
const run = promisify(execFile);
const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  exports: Record<string, unknown>;
};

interface PackResult {
  filename: string;
  files: Array<{ path: string }>;
}

let work: string;
let consumer: string;
let packed: string[];

async function npm(args: string[], cwd: string): Promise<string> {
  const { stdout } = await run('npm', args, { cwd, maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

/** Runs a consumer script and parses the JSON line it prints; a failure shows the script's stderr. */
async function node(script: string): Promise<Record<string, unknown>> {
  const { stdout } = await run(process.execPath, [script], { cwd: consumer }).catch((error: { stderr?: string }) => {
    throw new Error(`${script} failed:\n${error.stderr ?? String(error)}`);
  });
  return JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, unknown>;
}

/** Every string target of the exports map, conditions included. */
function exportTargets(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (value && typeof value === 'object') return Object.values(value).flatMap(exportTargets);
  return [];
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'token-refresh-package-'));
  await npm(['run', 'build'], ROOT);
  const [pack] = JSON.parse(await npm(['pack', '--json', '--pack-destination', work], ROOT)) as PackResult[];
  packed = pack.files.map((file) => file.path).sort();

  consumer = join(work, 'consumer');
  await mkdir(consumer);
  await writeFile(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
  // Dependencies come from the npm cache; peers (not installed with --legacy-peer-deps) are linked below.
  await npm(
    ['install', '--offline', '--no-audit', '--no-fund', '--legacy-peer-deps', '--no-package-lock', join(work, pack.filename)],
    consumer,
  );
  for (const name of [...Object.keys(manifest.peerDependencies ?? {}), '@types/node', 'typescript']) {
    const target = join(ROOT, 'node_modules', name);
    if (!existsSync(target)) continue;
    const link = join(consumer, 'node_modules', name);
    await mkdir(dirname(link), { recursive: true });
    await symlink(target, link, 'dir');
  }
}, TIMEOUT);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('the published package', () => {
  it('holds compiled JS, declarations, package.json and README, and nothing from src, test, examples or bench', () => {
    expect(packed).toContain('package.json');
    expect(packed).toContain('dist/index.js');
    expect(packed).toContain('dist/index.d.ts');
    expect(packed).toContain('dist/health/index.js');
    expect(packed).toContain('dist/health/index.d.ts');
    if (existsSync(join(ROOT, 'README.md'))) expect(packed).toContain('README.md');
    const unexpected = packed.filter(
      (path) => !/^dist\/.+\.(js|d\.ts)$/.test(path) && !/^(package\.json|(README|LICENSE|CHANGELOG)(\.md)?)$/i.test(path),
    );
    expect(unexpected).toEqual([]);
    expect(packed.filter((path) => /(^|\/)(src|test|examples|bench|dist-examples)\/|\.spec\.|e2e-spec/.test(path))).toEqual([]);
  });

  it('every target of the exports map is in the tarball', () => {
    const missing = exportTargets(manifest.exports)
      .map((target) => target.replace(/^\.\//, ''))
      .filter((target) => !packed.includes(target));
    expect(missing).toEqual([]);
  });

  it('requires at run time only Node built-ins, dependencies and peers; terminus only from /health', async () => {
    const declared = new Set([...Object.keys(manifest.dependencies ?? {}), ...Object.keys(manifest.peerDependencies ?? {})]);
    const builtins = new Set(builtinModules);
    const seen = new Set<string>();
    const undeclared = new Set<string>();
    const terminusOutsideHealth: string[] = [];
    const installed = join(consumer, 'node_modules', manifest.name);
    for (const path of packed.filter((p) => p.endsWith('.js'))) {
      const source = await readFile(join(installed, path), 'utf8');
      for (const [, specifier] of source.matchAll(/(?:require|import)\(["']([^"'.][^"']*)["']\)/g)) {
        const bare = specifier.split('/').slice(0, specifier.startsWith('@') ? 2 : 1).join('/');
        seen.add(bare);
        if (bare === '@nestjs/terminus' && !path.startsWith('dist/health/')) terminusOutsideHealth.push(path);
        if (!bare.startsWith('node:') && !builtins.has(bare) && !declared.has(bare)) undeclared.add(`${bare} (${path})`);
      }
    }
    expect(seen).toContain('@nestjs/common');
    expect([...undeclared]).toEqual([]);
    // Terminus is an optional peer: only the /health entry point may load it.
    expect(seen).toContain('@nestjs/terminus');
    expect(terminusOutsideHealth).toEqual([]);
  });

  it('loads from CommonJS: root and /health entry points, a Nest context boots from it, deep imports are closed', async () => {
    await writeFile(
      join(consumer, 'cjs.cjs'),
      `require('reflect-metadata');
const { Module } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');
const { ScheduleModule } = require('@nestjs/schedule');
const pkg = require('nestjs-token-refresh');
const health = require('nestjs-token-refresh/health');
let deep;
try { require('nestjs-token-refresh/dist/index.js'); deep = 'resolved'; } catch (error) { deep = error.code; }
(async () => {
  class AppModule {}
  Module({ imports: [ScheduleModule.forRoot(), pkg.TokenRefreshModule.forRoot({
    oauth: { tokenEndpoint: 'http://127.0.0.1:9/token', clientId: 'c' } })] })(AppModule);
  const app = await NestFactory.createApplicationContext(AppModule, { logger: false, abortOnError: false });
  const service = app.get(pkg.TokenRefreshService);
  const state = service.getRefreshStatus().state;
  await app.close();
  console.log(JSON.stringify({
    exports: Object.keys(pkg), health: Object.keys(health),
    types: [typeof pkg.TokenRefreshModule, typeof pkg.TokenRefreshService, typeof health.TokenRefreshHealthIndicator, typeof health.TokenRefreshHealthModule],
    refreshed: pkg.TokenRefreshEvents.REFRESHED, healthPath: require.resolve('nestjs-token-refresh/health'),
    state, isService: service instanceof pkg.TokenRefreshService, deep,
  }));
})().catch((error) => { console.error(error); process.exit(1); });
`,
    );
    const result = await node('cjs.cjs');
    expect(result.exports).toEqual(expect.arrayContaining(['TokenRefreshModule', 'TokenRefreshService', 'TokenRefreshEvents']));
    expect(result.health).toEqual(expect.arrayContaining(['TokenRefreshHealthIndicator', 'TokenRefreshHealthModule']));
    expect(result.types).toEqual(['function', 'function', 'function', 'function']);
    expect(result.refreshed).toBe('token-refresh.refreshed');
    expect(result.healthPath).toBe(join(consumer, 'node_modules', manifest.name, 'dist', 'health', 'index.js'));
    expect(result).toMatchObject({ state: 'stopped', isService: true, deep: 'ERR_PACKAGE_PATH_NOT_EXPORTED' });
  });

  it('loads from ESM with named imports, and gives the same classes as require()', async () => {
    await writeFile(
      join(consumer, 'esm.mjs'),
      `import 'reflect-metadata';
import { createRequire } from 'node:module';
import { TokenRefreshModule, TokenRefreshService, TokenRefreshEvents } from 'nestjs-token-refresh';
import { TokenRefreshHealthIndicator, TokenRefreshHealthModule } from 'nestjs-token-refresh/health';
const require = createRequire(import.meta.url);
console.log(JSON.stringify({
  types: [typeof TokenRefreshModule, typeof TokenRefreshService, typeof TokenRefreshHealthIndicator, typeof TokenRefreshHealthModule],
  refreshed: TokenRefreshEvents.REFRESHED,
  sameAsRequire: require('nestjs-token-refresh').TokenRefreshService === TokenRefreshService
    && require('nestjs-token-refresh/health').TokenRefreshHealthIndicator === TokenRefreshHealthIndicator,
  healthUrl: import.meta.resolve('nestjs-token-refresh/health'),
}));
`,
    );
    const result = await node('esm.mjs');
    expect(result.types).toEqual(['function', 'function', 'function', 'function']);
    expect(result.refreshed).toBe('token-refresh.refreshed');
    expect(result.sameAsRequire).toBe(true);
    expect(result.healthUrl).toMatch(/\/node_modules\/nestjs-token-refresh\/dist\/health\/index\.js$/);
  });

  it('type-checks CommonJS and ESM consumers against the shipped declarations', async () => {
    const source = `import { TokenRefreshModule, TokenRefreshService, TokenRefreshEvents, type TokenRefreshModuleOptions } from 'nestjs-token-refresh';
import { TokenRefreshHealthIndicator, TokenRefreshHealthModule } from 'nestjs-token-refresh/health';
const options: TokenRefreshModuleOptions = { oauth: { tokenEndpoint: 'https://idp.example.com/token', clientId: 'c' }, refreshThreshold: 60_000 };
export const modules = [TokenRefreshModule.forRoot(options), TokenRefreshHealthModule];
export const event: 'token-refresh.refreshed' = TokenRefreshEvents.REFRESHED;
export async function check(service: TokenRefreshService, indicator: TokenRefreshHealthIndicator): Promise<string> {
  const result = await indicator.isHealthy('tokens');
  return service.getRefreshStatus().state + result.tokens.status;
}
`;
    await writeFile(join(consumer, 'consumer.cts'), source);
    await writeFile(join(consumer, 'consumer.mts'), source);
    await writeFile(
      join(consumer, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'node20',
          moduleResolution: 'node16',
          target: 'ES2022',
          strict: true,
          noEmit: true,
          types: ['node'],
          // Checks the shipped .d.ts files too (a dangling import there would otherwise become `any`).
          skipLibCheck: false,
        },
        files: ['consumer.cts', 'consumer.mts'],
      }),
    );
    const tsc = join(consumer, 'node_modules', 'typescript', 'bin', 'tsc');
    const output = await run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: consumer }).then(
      ({ stdout }) => stdout,
      (error: { stdout?: string; stderr?: string }) => error.stdout || error.stderr || String(error),
    );
    expect(output.trim()).toBe('');
  });

  it('ships declarations for every JS file', () => {
    const js = packed.filter((path) => path.endsWith('.js'));
    expect(js.filter((path) => !packed.includes(path.replace(/\.js$/, '.d.ts')))).toEqual([]);
  });
});
