import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScriptedServer, sendJson, sendText } from '../support/scripted-server';
import { inReadmeTerms, type Snippet, writeSnippets } from '../support/readme-snippets';
import { FIXTURES_DIR, fixtureNames, isPrepared } from './setup-fixtures.mjs';

/**
 * Installs the packed tarball the way a user does (`npm install`, no --legacy-peer-deps) into a
 * fresh copy of each fixture app (a Nest 11 and a Nest 12 app with the classic Nest tsconfig,
 * "module": "commonjs"), compiles it with that app's tsc, checks every entry point under each
 * moduleResolution Nest apps use, and runs the app against a token endpoint started here.
 * Everything is installed with --offline: `npm test` first runs setup-fixtures.mjs, which puts
 * what these installs need into npm's cache.
 */
const ROOT = resolve(__dirname, '../..');
const APP_SOURCES = join(__dirname, 'app');
const TIMEOUT = 180_000;
const run = promisify(execFile);
const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  exports: Record<string, unknown>;
  typesVersions?: Record<string, Record<string, string[]>>;
};
/** './health', './redis', ...: every entry point but the root and package.json. */
const SUBPATHS = Object.keys(manifest.exports).filter((key) => key !== '.' && key !== './package.json');
const SPECIFIERS = [manifest.name, ...SUBPATHS.map((subpath) => `${manifest.name}/${subpath.slice(2)}`)];

interface PackResult {
  filename: string;
  files: Array<{ path: string }>;
}

let work: string;
let tarball: string;
let packed: string[];

async function npm(args: string[], cwd: string): Promise<{ stdout: string; stderr: string }> {
  return run('npm', [...args, '--no-audit', '--no-fund'], { cwd, maxBuffer: 16 * 1024 * 1024 }).catch(
    (error: { stdout?: string; stderr?: string; message: string }) => {
      throw new Error(`npm ${args.join(' ')} failed in ${cwd}:\n${error.stderr || error.stdout || error.message}`);
    },
  );
}

/** Runs a script with this Node and parses the JSON line it prints last; a failure shows its stderr. */
async function node(args: string[], cwd: string): Promise<Record<string, unknown>> {
  const { stdout } = await run(process.execPath, args, { cwd }).catch((error: { stderr?: string }) => {
    throw new Error(`node ${args.join(' ')} failed:\n${error.stderr ?? String(error)}`);
  });
  return JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, unknown>;
}

/** tsc's diagnostics ('' when it compiled). */
async function tsc(app: string, project: string): Promise<string> {
  const bin = join(app, 'node_modules', 'typescript', 'bin', 'tsc');
  return run(process.execPath, [bin, '-p', project], { cwd: app }).then(
    ({ stdout }) => stdout.trim(),
    (error: { stdout?: string; stderr?: string }) => (error.stdout || error.stderr || String(error)).trim(),
  );
}

function majorOf(app: string, name: string): number {
  const { version } = JSON.parse(readFileSync(join(app, 'node_modules', name, 'package.json'), 'utf8')) as { version: string };
  return Number(version.split('.')[0]);
}

function fixtureManifest(fixture: string): { dependencies: Record<string, string> } {
  return JSON.parse(readFileSync(join(FIXTURES_DIR, fixture, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
}

/** Every string target of the exports map, conditions included. */
function exportTargets(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (value && typeof value === 'object') return Object.values(value).flatMap(exportTargets);
  return [];
}

beforeAll(async () => {
  const missing = fixtureNames().filter((name) => !isPrepared(name));
  if (missing.length) {
    throw new Error(`package-test fixtures not set up (${missing.join(', ')}): run \`node test/package/setup-fixtures.mjs\` (npm test runs it first)`);
  }
  work = await mkdtemp(join(tmpdir(), 'token-refresh-package-'));
  await npm(['run', 'build'], ROOT);
  const [pack] = JSON.parse((await npm(['pack', '--json', '--pack-destination', work], ROOT)).stdout) as PackResult[];
  packed = pack.files.map((file) => file.path).sort();
  tarball = join(work, pack.filename);
}, TIMEOUT);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('the published package', () => {
  it('holds compiled JS, declarations, package.json and README, and nothing from src, test, examples or bench', () => {
    expect(packed).toContain('package.json');
    expect(packed).toContain('dist/index.js');
    expect(packed).toContain('dist/index.d.ts');
    expect(packed).toContain('README.md');
    const unexpected = packed.filter(
      (path) => !/^dist\/.+\.(js|d\.ts)$/.test(path) && !/^(package\.json|(README|LICENSE|CHANGELOG)(\.md)?)$/i.test(path),
    );
    expect(unexpected).toEqual([]);
    expect(packed.filter((path) => /(^|\/)(src|test|examples|bench|dist-examples)\/|\.spec\.|e2e-spec/.test(path))).toEqual([]);
  });

  it('every target of the exports map and of typesVersions is in the tarball', () => {
    const typesTargets = Object.values(manifest.typesVersions ?? {}).flatMap((map) => Object.values(map).flat());
    const missing = [...exportTargets(manifest.exports), ...typesTargets]
      .map((target) => target.replace(/^\.\//, ''))
      .filter((target) => !packed.includes(target));
    expect(missing).toEqual([]);
  });

  it('every subpath entry point has a typesVersions fallback to its own declarations (for moduleResolution node10)', () => {
    // TypeScript's node10 resolution ignores "exports"; typesVersions is what it reads instead.
    const fallback = manifest.typesVersions?.['*'] ?? {};
    const expected = Object.fromEntries(
      SUBPATHS.map((subpath) => [subpath.slice(2), [(manifest.exports[subpath] as { types: string }).types]]),
    );
    expect(fallback).toEqual(expected);
  });

  it('ships declarations for every JS file', () => {
    const js = packed.filter((path) => path.endsWith('.js'));
    expect(js.filter((path) => !packed.includes(path.replace(/\.js$/, '.d.ts')))).toEqual([]);
  });

  it('the fixture apps import every entry point (so the resolution checks below cover them all)', async () => {
    const source = await readFile(join(APP_SOURCES, 'entry-points.ts'), 'utf8');
    expect(SPECIFIERS.filter((specifier) => !source.includes(`from '${specifier}'`))).toEqual([]);
  });
});

describe.each(fixtureNames())('installed into a fresh app: %s', (fixture) => {
  let app: string;
  let installOutput: string;
  let snippets: Snippet[];

  beforeAll(async () => {
    app = join(work, fixture);
    await mkdir(join(app, 'src'), { recursive: true });
    for (const file of await readdir(join(FIXTURES_DIR, fixture))) await cp(join(FIXTURES_DIR, fixture, file), join(app, file));
    await cp(APP_SOURCES, join(app, 'src'), { recursive: true });
    // The README's examples, pasted into the app as a user would.
    snippets = await writeSnippets(join(app, 'src', 'readme'));
    // The app as `nest new` leaves it, then the user's one command.
    await npm(['ci', '--offline'], app);
    const install = await npm(['install', '--offline', tarball], app);
    installOutput = `${install.stdout}\n${install.stderr}`;
  }, TIMEOUT);

  it('npm install adds it with no peer dependency warning, and npm ls finds nothing missing or invalid', async () => {
    // Node 20 also prints EBADENGINE for a dependency of Nest 12 (file-type wants Node 22): not ours, and harmless.
    expect(installOutput.split('\n').filter((line) => /peer|ERESOLVE|conflict/i.test(line))).toEqual([]);
    const appManifest = JSON.parse(await readFile(join(app, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    expect(appManifest.dependencies[manifest.name]).toMatch(/\.tgz$/);
    await expect(npm(['ls', '--all'], app)).resolves.toBeDefined();
  });

  it('compiles, with the README\'s examples, under the app\'s own tsc and classic Nest tsconfig ("module": "commonjs")', async () => {
    expect(inReadmeTerms(await tsc(app, 'tsconfig.json'), snippets)).toBe('');
  }, TIMEOUT);

  // node16 with "module": "node16" only where Nest is CommonJS (11): Nest 12's ESM-only packages
  // need "module": "node20" there, which resolves exactly as nodenext does.
  const nestIsCommonJs = /^\D*11\./.test(fixtureManifest(fixture).dependencies['@nestjs/common']);
  it.each([
    ['node10', 'commonjs', ['entry-points.ts']],
    ...(nestIsCommonJs ? [['node16', 'node16', ['entry-points.cts', 'entry-points.mts']] as const] : []),
    ['nodenext', 'nodenext', ['entry-points.cts', 'entry-points.mts']],
    ['bundler', 'preserve', ['entry-points.ts']],
  ] as const)('types of every entry point resolve under moduleResolution %s', async (moduleResolution, module, files) => {
    const dir = join(app, `resolution-${moduleResolution}`);
    await mkdir(dir, { recursive: true });
    const source = await readFile(join(APP_SOURCES, 'entry-points.ts'), 'utf8');
    for (const file of files) await writeFile(join(dir, file), source);
    const compilerOptions: Record<string, unknown> = {
      module,
      moduleResolution,
      target: 'ES2022',
      strict: true,
      noEmit: true,
      experimentalDecorators: true,
      types: ['node'],
      // Checks the shipped .d.ts files too (an import there that does not resolve would otherwise become `any`).
      skipLibCheck: false,
    };
    // TypeScript 6 deprecates node10 but still resolves with it, as classic Nest tsconfigs do.
    if (moduleResolution === 'node10' && majorOf(app, 'typescript') >= 6) compilerOptions.ignoreDeprecations = '6.0';
    await writeFile(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, files }));
    expect(await tsc(app, join(dir, 'tsconfig.json'))).toBe('');
  }, TIMEOUT);

  it('at run time every entry point loads through require() and import, as the same classes; deep imports are closed', async () => {
    await writeFile(
      join(app, 'load.mjs'),
      `import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const specifiers = ${JSON.stringify(SPECIFIERS)};
const loaded = {};
for (const specifier of specifiers) {
  const required = require(specifier);
  const imported = await import(specifier);
  loaded[specifier] = {
    keys: Object.keys(required).sort(),
    same: Object.keys(required).every((key) => imported[key] === required[key]),
    path: require.resolve(specifier),
  };
}
let deep;
try { require('${manifest.name}/dist/index.js'); deep = 'resolved'; } catch (error) { deep = error.code; }
console.log(JSON.stringify({ loaded, deep }));
`,
    );
    const { loaded, deep } = (await node(['load.mjs'], app)) as {
      loaded: Record<string, { keys: string[]; same: boolean; path: string }>;
      deep: string;
    };
    expect(Object.keys(loaded)).toEqual(SPECIFIERS);
    for (const [specifier, entry] of Object.entries(loaded)) {
      expect(entry.keys.length, specifier).toBeGreaterThan(0);
      expect(entry.same, specifier).toBe(true);
      expect(entry.path).toContain(join('node_modules', manifest.name, 'dist'));
    }
    expect(loaded[manifest.name].keys).toEqual(expect.arrayContaining(['TokenRefreshModule', 'TokenRefreshService', 'TokenRefreshEvents']));
    expect(loaded[`${manifest.name}/health`].keys).toEqual(expect.arrayContaining(['TokenRefreshHealthIndicator', 'TokenRefreshHealthModule']));
    expect(loaded[`${manifest.name}/otel`].keys).toEqual(expect.arrayContaining(['OpenTelemetryRefreshTelemetry', 'TokenRefreshMetrics']));
    expect(deep).toBe('ERR_PACKAGE_PATH_NOT_EXPORTED');
  });

  it('requires at run time only Node built-ins, dependencies and peers; terminus only from /health; @opentelemetry/api only through its guarded loader', async () => {
    const declared = new Set([...Object.keys(manifest.dependencies ?? {}), ...Object.keys(manifest.peerDependencies ?? {})]);
    const builtins = new Set(builtinModules);
    const seen = new Set<string>();
    const undeclared = new Set<string>();
    const terminusOutsideHealth: string[] = [];
    const otelApiRequiredBy: string[] = [];
    const installed = join(app, 'node_modules', manifest.name);
    for (const path of packed.filter((p) => p.endsWith('.js'))) {
      const source = await readFile(join(installed, path), 'utf8');
      for (const [, specifier] of source.matchAll(/(?:require|import)\(["']([^"'.][^"']*)["']\)/g)) {
        const bare = specifier.split('/').slice(0, specifier.startsWith('@') ? 2 : 1).join('/');
        seen.add(bare);
        if (bare === '@nestjs/terminus' && !path.startsWith('dist/health/')) terminusOutsideHealth.push(path);
        if (bare === '@opentelemetry/api') otelApiRequiredBy.push(path);
        if (!bare.startsWith('node:') && !builtins.has(bare) && !declared.has(bare)) undeclared.add(`${bare} (${path})`);
      }
    }
    expect(seen).toContain('@nestjs/common');
    expect([...undeclared]).toEqual([]);
    // Terminus is an optional peer: only the /health entry point may load it.
    expect(seen).toContain('@nestjs/terminus');
    expect(terminusOutsideHealth).toEqual([]);
    // An optional peer the root entry point uses when installed: one require, inside a try.
    expect(otelApiRequiredBy).toEqual(['dist/otel/otel-api.js']);
  });

  it('runs: a refresh, the health indicator through up, degraded and down, and the authenticated HttpService', async () => {
    const server = await ScriptedServer.start();
    let mode: 'ok' | 'unavailable' | 'invalid_grant' = 'ok';
    let issued = 0;
    let current = { accessToken: 'first-access-token', refreshToken: 'first-refresh-token' };
    const apiAuthorizations: string[] = [];
    server.behave((req, res, recorded) => {
      if (recorded.url === '/token') {
        if (mode === 'unavailable') return sendText(res, 503, 'down for maintenance');
        if (mode === 'invalid_grant' || recorded.form.refresh_token !== current.refreshToken) {
          return sendJson(res, 400, { error: 'invalid_grant' });
        }
        issued++;
        current = { accessToken: `access-token-${issued}`, refreshToken: `refresh-token-${issued}` };
        return sendJson(res, 200, {
          access_token: current.accessToken,
          refresh_token: current.refreshToken,
          token_type: 'Bearer',
          expires_in: 3600,
        });
      }
      apiAuthorizations.push(req.headers.authorization ?? '');
      if (req.headers.authorization !== `Bearer ${current.accessToken}`) return sendJson(res, 401, { error: 'invalid_token' });
      return sendJson(res, 200, { data: 'from the protected API' });
    });
    const process = await startApp(app, { TOKEN_ENDPOINT: server.tokenEndpoint, API_BASE_URL: `${server.origin}/api` });
    const call = async (method: 'GET' | 'POST', path: string, body?: unknown) => {
      const response = await fetch(`${process.url}${path}`, {
        method,
        headers: body ? { 'content-type': 'application/json' } : {},
        body: body ? JSON.stringify(body) : undefined,
      });
      const text = await response.text();
      return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
    };
    try {
      // Login callback: the first pair, then a refresh that rotates it.
      expect((await call('POST', '/login', { ...current, expiresIn: 3600 })).status).toBe(204);
      expect((await call('POST', '/refresh')).body).toEqual({ ok: true });
      const grants = server.requests.filter((request) => request.url === '/token').map((request) => request.form);
      expect(grants).toEqual([expect.objectContaining({ grant_type: 'refresh_token', refresh_token: 'first-refresh-token' })]);
      expect((await call('GET', '/status')).body).toMatchObject({ state: 'idle', consecutiveFailures: 0, isRunning: true });

      // The authenticated HttpService sends the refreshed token.
      expect(await call('GET', '/call')).toEqual({ status: 200, body: { data: 'from the protected API' } });
      expect(apiAuthorizations).toEqual(['Bearer access-token-1']);

      const up = await call('GET', '/health');
      expect(up).toMatchObject({ status: 200, body: { status: 'ok', details: { 'token-refresh': { status: 'up' } } } });

      // Refreshing fails while the token is valid: degraded where terminus has it (12), up with degraded: true on 11.
      mode = 'unavailable';
      expect((await call('POST', '/refresh')).body).toEqual({ ok: false, code: 'http_error' });
      const degraded = await call('GET', '/health');
      expect(degraded.status).toBe(200);
      if (majorOf(app, '@nestjs/terminus') >= 12) {
        expect(degraded.body).toMatchObject({ status: 'degraded', details: { 'token-refresh': { status: 'degraded', reason: 'refresh-failing' } } });
      } else {
        expect(degraded.body).toMatchObject({
          status: 'ok',
          details: { 'token-refresh': { status: 'up', degraded: true, reason: 'refresh-failing' } },
        });
      }

      mode = 'invalid_grant';
      expect((await call('POST', '/refresh')).body).toEqual({ ok: false, code: 'oauth_error', oauthError: 'invalid_grant' });
      const down = await call('GET', '/health');
      expect(down).toMatchObject({
        status: 503,
        body: { status: 'error', error: { 'token-refresh': { status: 'down', reason: 'reauth-required', lastError: 'oauth_error', oauthError: 'invalid_grant' } } },
      });
    } finally {
      const { output, exit } = await process.stop();
      await server.close();
      expect(exit).toEqual(expect.objectContaining({ signal: 'SIGTERM' }));
      // Whatever the app logged (refresh failures included), no token and no secret.
      expect(output).not.toMatch(/access-token|refresh-token|fixture-secret/);
    }
  }, TIMEOUT);

  it('without @opentelemetry/api (an optional peer) the root entry point runs a registration, and /otel says what is missing', async () => {
    const api = join(app, 'node_modules', '@opentelemetry', 'api');
    await rename(api, `${api}.hidden`);
    try {
      await writeFile(
        join(app, 'no-otel.js'),
        `require('reflect-metadata');
const { Module } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');
const { ScheduleModule } = require('@nestjs/schedule');
const { TokenRefreshModule, TokenRefreshService } = require('${manifest.name}');
const { OpenTelemetryRefreshTelemetry } = require('${manifest.name}/otel');
async function main() {
  let otel;
  try { new OpenTelemetryRefreshTelemetry(); otel = 'built'; } catch (error) { otel = error.name + ' ' + error.option; }
  const oauthClient = { refresh: async () => ({ accessToken: 'second', refreshToken: 'r2', expiresIn: 3600 }) };
  class AppModule {}
  Module({ imports: [ScheduleModule.forRoot(), TokenRefreshModule.forRoot({ oauthClient })] })(AppModule);
  const app = await NestFactory.createApplicationContext(AppModule, { logger: false });
  const service = app.get(TokenRefreshService);
  await service.start({ accessToken: 'first', refreshToken: 'r1', expiresIn: 3600 });
  await service.forceRefresh();
  const token = await service.getAccessToken();
  await app.close();
  console.log(JSON.stringify({ otel, token }));
}
main().catch((error) => { console.error(error); process.exit(1); });
`,
      );
      expect(await node(['no-otel.js'], app)).toEqual({ otel: 'TokenRefreshConfigError telemetry', token: 'second' });
    } finally {
      await rename(`${api}.hidden`, api);
    }
  }, TIMEOUT);
});

/** Starts the compiled fixture app and waits for the line that gives its port. */
async function startApp(
  cwd: string,
  env: Record<string, string>,
): Promise<{ url: string; stop: () => Promise<{ output: string; exit: { code: number | null; signal: string | null } }> }> {
  const child: ChildProcess = spawn(process.execPath, ['dist/main.js'], { cwd, env: { ...process.env, ...env } });
  let output = '';
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /\{"listening":(\d+)\}/.exec(output);
      if (match) resolve(Number(match[1]));
    });
    void exited.then((exit) => reject(new Error(`the fixture app exited (${JSON.stringify(exit)}) before listening:\n${output}`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    stop: async () => {
      child.kill('SIGTERM');
      const exit = await exited;
      return { output, exit };
    },
  };
}
