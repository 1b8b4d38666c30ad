#!/usr/bin/env node
/*
 * A second install of this repo with another set of dev dependencies, e.g. the Nest 11 set:
 * .ci/<variant>/devDependencies.json replaces those entries of package.json, and
 * .ci/<variant>/package-lock.json locks the result.
 *
 *   node .ci/variant.mjs <variant> <dir>    copy the repo (tracked and unignored files) to <dir>
 *                                           with the variant's package.json and lockfile
 *   node .ci/variant.mjs <variant> --lock   regenerate .ci/<variant>/package-lock.json (after a
 *                                           change to package.json or to the variant's versions)
 *
 * `npm ci` in <dir> then fails if the lockfile no longer matches, which says to run --lock.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const [variant, target] = process.argv.slice(2);
if (!variant || !target) {
  console.error('usage: node .ci/variant.mjs <variant> <dir> | --lock');
  process.exit(2);
}
const variantDir = join(ROOT, '.ci', variant);

function manifest() {
  const base = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  const overrides = JSON.parse(readFileSync(join(variantDir, 'devDependencies.json'), 'utf8'));
  const unknown = Object.keys(overrides).filter((name) => !(name in base.devDependencies));
  if (unknown.length) throw new Error(`.ci/${variant}/devDependencies.json names packages package.json does not: ${unknown.join(', ')}`);
  return `${JSON.stringify({ ...base, devDependencies: { ...base.devDependencies, ...overrides } }, null, 2)}\n`;
}

if (target === '--lock') {
  const scratch = mkdtempSync(join(tmpdir(), `variant-${variant}-`));
  writeFileSync(join(scratch, 'package.json'), manifest());
  // Starting from the main lockfile keeps every other package at the version main tests.
  cpSync(join(ROOT, 'package-lock.json'), join(scratch, 'package-lock.json'));
  execFileSync('npm', ['install', '--package-lock-only', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: scratch, stdio: 'inherit' });
  cpSync(join(scratch, 'package-lock.json'), join(variantDir, 'package-lock.json'));
  rmSync(scratch, { recursive: true, force: true });
} else {
  rmSync(target, { recursive: true, force: true });
  mkdirSync(target, { recursive: true });
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' })
    .split('\0')
    .filter(Boolean);
  for (const file of files) {
    try {
      cpSync(join(ROOT, file), join(target, file));
    } catch (error) {
      // A tracked file deleted in the work tree is simply not part of the copy.
      if (error.code !== 'ENOENT') throw error;
    }
  }
  writeFileSync(join(target, 'package.json'), manifest());
  cpSync(join(variantDir, 'package-lock.json'), join(target, 'package-lock.json'));
}
