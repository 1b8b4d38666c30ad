/**
 * `npm run bench`: runs every measurement in turn (never two at once, so none disturbs another's
 * timing), prints one table, and writes the same figures to bench/results.json.
 * `npm run bench -- hotPath` runs only the sections named (keys below) and writes nothing.
 * Progress goes to stderr; the machine line and the table go to stdout.
 */
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { runCluster } from './cluster.bench';
import { runConcurrency } from './concurrency.bench';
import { runHotPath } from './hot-path.bench';
import { runKeyed } from './keyed.bench';
import { runMemory } from './memory.bench';
import { runOutage } from './outage.bench';
import { runRedisKeyed } from './redis-keyed.bench';
import { renderTable, type Row, summarize } from './report';
import { machineInfo, type SectionResult } from './support';
import { runTimeliness } from './timeliness.bench';

const SECTIONS: ReadonlyArray<{ key: string; title: string; run: () => Promise<SectionResult> }> = [
  { key: 'hotPath', title: '1 Hot path', run: runHotPath },
  { key: 'concurrency', title: '2 Concurrency at expiry', run: runConcurrency },
  { key: 'timeliness', title: '3 Timeliness', run: runTimeliness },
  { key: 'outage', title: '4 Dead grant and outage', run: runOutage },
  { key: 'memory', title: '5 Memory', run: runMemory },
  { key: 'cluster', title: '6 Cluster', run: runCluster },
  { key: 'keyed', title: '7 Many users', run: runKeyed },
  { key: 'redisKeyed', title: '8 Many users on Redis', run: runRedisKeyed },
];

/** bench/results.json, next to this file's source (the compiled file runs from dist-bench/bench/). */
const RESULTS_PATH = resolve(__dirname, '..', '..', 'bench', 'results.json');

async function main(): Promise<number> {
  // `npm run bench -- hotPath keyed`: only those sections; bench/results.json keeps the last full run.
  const only = process.argv.slice(2);
  const unknown = only.filter((key) => !SECTIONS.some((section) => section.key === key));
  if (unknown.length) throw new Error(`unknown bench section ${unknown.join(', ')}; sections: ${SECTIONS.map((s) => s.key).join(', ')}`);
  const sectionsToRun = only.length ? SECTIONS.filter((section) => only.includes(section.key)) : SECTIONS;
  const machine = machineInfo();
  const startedAt = new Date();
  const t0 = performance.now();
  const header =
    `nestjs-token-refresh benchmarks, ${startedAt.toISOString()}\n` +
    `machine: ${machine.cpuModel}, ${machine.cores} cores (availableParallelism ${machine.availableParallelism}), ` +
    `${machine.totalMemoryGiB} GiB, ${machine.platform} ${machine.arch} ${machine.osRelease}; Node ${machine.node} (V8 ${machine.v8}); ` +
    `load average ${machine.loadAverage1mAtStart} at start` +
    (machine.exposeGc ? '' : '; WARNING: no --expose-gc, memory figures skipped');
  console.log(header);

  const rows: Row[] = [];
  const sections: Record<string, unknown> = {};
  let crashed = false;
  for (const section of sectionsToRun) {
    const s0 = performance.now();
    process.stderr.write(`running ${section.title} ... `);
    try {
      const result = await section.run();
      rows.push(...result.rows);
      sections[result.key] = { ...result.data, seconds: Math.round((performance.now() - s0) / 100) / 10 };
      process.stderr.write(`${((performance.now() - s0) / 1000).toFixed(1)} s\n`);
    } catch (error) {
      crashed = true;
      const message = error instanceof Error ? error.message : String(error);
      process.stderr.write(`FAILED: ${message}\n`);
      rows.push({ section: section.title, measure: 'benchmark crashed', value: message, target: '-', status: 'miss', sideBySide: '-' });
      sections[section.key] = { error: message, stack: error instanceof Error ? error.stack : undefined };
    }
  }
  const seconds = Math.round((performance.now() - t0) / 100) / 10;
  const loadAverage1mAtEnd = Math.round(loadavg()[0] * 100) / 100;

  console.log('');
  console.log(renderTable(rows));
  console.log('');
  const partial = sectionsToRun !== SECTIONS;
  console.log(
    `${summarize(rows)}\ntotal ${seconds} s; load average ${loadAverage1mAtEnd} at end; ` +
      (partial ? 'a partial run: bench/results.json left as it was' : 'figures written to bench/results.json'),
  );
  if (partial) return crashed ? 1 : 0;

  const results = {
    generatedAt: startedAt.toISOString(),
    seconds,
    machine: { ...machine, loadAverage1mAtEnd },
    rows,
    sections,
  };
  writeFileSync(RESULTS_PATH, `${JSON.stringify(results, null, 2)}\n`);
  return crashed ? 1 : 0;
}

main().then(
  // Exit explicitly: a library client (google-auth-library, axios agents) may keep a socket open.
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
