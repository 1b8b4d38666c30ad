import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';

/**
 * The README's TypeScript examples as files, for tests that compile them (test/readme and the
 * package test's fixture apps), so a snippet cannot rot:
 * - every block fenced as ```ts is compiled;
 * - a block fenced as ```ts fragment is not (a few lines lifted out of a larger file);
 * - a block whose first line is a comment naming a file, `// src/crm.client.ts`, is written under
 *   that path, so the blocks of one example can import each other (`./crm.client`); any other
 *   block becomes `readme-line-<N>.ts`. Each file is a module, so names never clash across blocks.
 */
export interface Snippet {
  /** Path the snippet is written to, relative to the folder given to writeSnippets. */
  file: string;
  /** 1-based README line of the snippet's first line of code. */
  line: number;
  source: string;
  fragment: boolean;
}

export const README = resolve(__dirname, '../../README.md');

/** Every ```ts block of the README, fragments included (marked). */
export function readmeSnippets(readme = README): Snippet[] {
  const lines = readFileSync(readme, 'utf8').split('\n');
  const snippets: Snippet[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(ts|typescript)\b\s*(.*)$/.exec(lines[i]);
    if (!open) continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && !/^```\s*$/.test(lines[end])) end++;
    const body = lines.slice(start, end);
    const named = /^\/\/ ([\w./-]+\.ts)\s*$/.exec(body[0] ?? '');
    snippets.push({
      file: named ? named[1] : `readme-line-${start + 1}.ts`,
      line: start + 1,
      source: body.join('\n'),
      fragment: open[2].split(/\s+/).includes('fragment'),
    });
    i = end;
  }
  return snippets;
}

/** Writes the compiled (non-fragment) snippets under dir; returns them. */
export async function writeSnippets(dir: string, snippets = readmeSnippets()): Promise<Snippet[]> {
  const compiled = snippets.filter((snippet) => !snippet.fragment);
  for (const snippet of compiled) {
    const path = join(dir, snippet.file);
    await mkdir(dirname(path), { recursive: true });
    // `export {}` keeps a block without imports a module, so its names stay its own.
    await writeFile(path, `${snippet.source}\nexport {};\n`);
  }
  return compiled;
}

/** Rewrites tsc's `path/to/file.ts(line,col)` locations as `README.md:<line>` so a failure points at the README. */
export function inReadmeTerms(diagnostics: string, snippets: Snippet[]): string {
  return diagnostics.replace(/([\w./-]+\.ts)\((\d+),(\d+)\)/g, (match, path: string, line: string, column: string) => {
    const snippet = snippets.find((candidate) => path.endsWith(candidate.file));
    return snippet ? `README.md:${snippet.line + Number(line) - 1}:${column} (${snippet.file})` : match;
  });
}
