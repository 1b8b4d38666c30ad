#!/usr/bin/env node
/*
 * Setup step of `npm test` (the `pretest` script): the only part of the package test that talks
 * to the npm registry. It fills npm's cache with what the test later installs with --offline:
 * every package locked in each fixture app (test/package/fixtures/<name>/package-lock.json),
 * and the registry documents (packuments) that `npm install <tarball>` reads to resolve this
 * package's dependencies and peers against the app's own dependencies. A stamp per fixture (a
 * hash of all those inputs) makes a second run a no-op; `--force` ignores the stamps.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const FIXTURES_DIR = join(ROOT, 'test', 'package', 'fixtures');
/** Under node_modules: ignored by git, and a fresh `npm ci` starts it over. */
export const STAMP_DIR = join(ROOT, 'node_modules', '.cache', 'nestjs-token-refresh-fixtures');

/** The fixture apps: every folder under fixtures/ with a lockfile. */
export function fixtureNames() {
  return readdirSync(FIXTURES_DIR).filter((name) => existsSync(join(FIXTURES_DIR, name, 'package-lock.json'))).sort();
}

function specs(dependencies = {}) {
  return Object.entries(dependencies).map(([name, range]) => `${name}@${range}`);
}

/**
 * `name@range` of every package whose packument `npm install <tarball>` reads in that app: this
 * package's dependencies and peers (with its ranges), and the app's direct dependencies (with
 * the app's), which npm re-resolves when it checks peers. Found by running the install offline
 * on an empty cache; a missing one fails it with ERESOLVE or ENOTCACHED.
 */
export function packumentSpecs(name) {
  const own = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  const app = JSON.parse(readFileSync(join(FIXTURES_DIR, name, 'package.json'), 'utf8'));
  return [...specs(own.dependencies), ...specs(own.peerDependencies), ...specs(app.dependencies), ...specs(app.devDependencies)];
}

export function stampOf(name) {
  return createHash('sha256')
    .update(readFileSync(join(FIXTURES_DIR, name, 'package-lock.json')))
    .update(JSON.stringify(packumentSpecs(name)))
    .digest('hex');
}

export function stampPath(name) {
  return join(STAMP_DIR, `${name}.stamp`);
}

export function isPrepared(name) {
  return existsSync(stampPath(name)) && readFileSync(stampPath(name), 'utf8') === stampOf(name);
}

function npm(args, cwd) {
  execFileSync('npm', [...args, '--no-audit', '--no-fund'], { cwd, stdio: ['ignore', 'ignore', 'inherit'] });
}

function prepare(name) {
  const scratch = join(STAMP_DIR, name);
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(scratch, { recursive: true });
  for (const file of ['package.json', 'package-lock.json']) cpSync(join(FIXTURES_DIR, name, file), join(scratch, file));
  // npm ci stores every locked tarball in npm's cache; the installed tree itself is not kept.
  npm(['ci', '--ignore-scripts', '--prefer-offline', '--loglevel=error'], scratch);
  rmSync(scratch, { recursive: true, force: true });
  // `npm ci` fetches tarballs only; the install of the tarball also reads packuments.
  npm(['cache', 'add', ...packumentSpecs(name), '--loglevel=error'], ROOT);
  writeFileSync(stampPath(name), stampOf(name));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const force = process.argv.includes('--force');
  mkdirSync(STAMP_DIR, { recursive: true });
  for (const name of fixtureNames()) {
    if (!force && isPrepared(name)) continue;
    const started = Date.now();
    prepare(name);
    console.log(`package-test fixture ${name}: dependencies cached in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
}
