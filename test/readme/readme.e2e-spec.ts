import { execFile } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { TokenRefreshAttributes, TokenRefreshMetrics, TokenRefreshSpans } from '../../src/otel';
import { inReadmeTerms, README, readmeSnippets, type Snippet, writeSnippets } from '../support/readme-snippets';

/**
 * The README's ```ts blocks compile against the source, with this repo's strict settings
 * (test/support/readme-snippets.ts says how a block is marked). The package test compiles the
 * same files again in a fresh Nest 11 and Nest 12 app against the published package.
 */
const ROOT = resolve(__dirname, '../..');
const run = promisify(execFile);
let dir: string;
let compiled: Snippet[];

beforeAll(async () => {
  // Inside the repo, so `@nestjs/*` resolve from its node_modules and `nestjs-token-refresh` through tsconfig paths.
  dir = join(ROOT, 'node_modules', '.cache', `readme-snippets-${process.pid}`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  compiled = await writeSnippets(dir);
  await writeFile(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      extends: join(ROOT, 'tsconfig.json'),
      compilerOptions: { noEmit: true },
      include: ['**/*.ts'],
    }),
  );
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('README snippets', () => {
  it('the Quickstart, health and HTTP examples are whole files, compiled here', () => {
    expect(compiled.map((snippet) => snippet.file)).toEqual(
      expect.arrayContaining(['src/app.module.ts', 'src/auth.controller.ts', 'src/crm.client.ts', 'src/health.module.ts', 'src/crm-api.module.ts']),
    );
  });

  it('every ```ts block that is not marked fragment compiles', async () => {
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const output = await run(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json')], { cwd: dir }).then(
      ({ stdout }) => stdout,
      (error: { stdout?: string; stderr?: string }) => error.stdout || error.stderr || String(error),
    );
    expect(inReadmeTerms(output.trim(), compiled)).toBe('');
  }, 60_000);

  it('no example hands the service a made-up lifetime (expiresIn comes from the server, or the JWT)', () => {
    const literal = readmeSnippets().filter((snippet) => /expiresIn:\s*\d/.test(snippet.source));
    expect(literal.map((snippet) => `README.md:${snippet.line}`)).toEqual([]);
  });

  it('the Observability section names every metric, span and attribute the code reports', () => {
    const readme = readFileSync(README, 'utf8');
    const section = readme.slice(readme.indexOf('## Observability'), readme.indexOf('\n## ', readme.indexOf('## Observability') + 1));
    const names = [...Object.values(TokenRefreshMetrics), ...Object.values(TokenRefreshSpans)];
    expect(names.filter((name) => !section.includes(`\`${name}\``))).toEqual([]);
    // The attributes table lists them without their common prefix, one row each.
    const attributes = Object.values(TokenRefreshAttributes).map((name) => name.replace(/^token_refresh\./, ''));
    expect(attributes.filter((name) => !section.includes(`| \`${name}\` |`))).toEqual([]);
  });
});
