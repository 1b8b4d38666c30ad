/** The one table `npm run bench` prints: figure, target beside it, pass/miss, and the peers. */

export type Status = 'pass' | 'miss' | 'info' | 'pending';

export interface Row {
  /** Section number and name, e.g. "1 Hot path". */
  section: string;
  measure: string;
  /** This module's figure. */
  value: string;
  /** The target, or "-" where none is set. */
  target: string;
  status: Status;
  /** The same figure for the floor, the peers or the Go original, measured or simulated in this run. */
  sideBySide: string;
}

const HEADERS = ['Measure', 'nestjs-token-refresh', 'Target', 'Result', 'Side by side (same run)'] as const;

const MARK: Record<Status, string> = { pass: 'pass', miss: 'MISS', info: '-', pending: 'pending' };

export function renderTable(rows: readonly Row[]): string {
  const cells = (row: Row): string[] => [row.measure, row.value, row.target, MARK[row.status], row.sideBySide];
  const widths = HEADERS.map((header, i) => Math.max(header.length, ...rows.map((row) => cells(row)[i].length)));
  const line = (values: readonly string[]): string => `| ${values.map((v, i) => v.padEnd(widths[i])).join(' | ')} |`;
  const rule = `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`;
  const out: string[] = [line(HEADERS), rule];
  let section: string | undefined;
  for (const row of rows) {
    if (row.section !== section) {
      section = row.section;
      const title = `[${section}]`;
      out.push(`| ${title.padEnd(rule.length - 4)} |`);
    }
    out.push(line(cells(row)));
  }
  return out.join('\n');
}

export function summarize(rows: readonly Row[]): string {
  const count = (status: Status): number => rows.filter((row) => row.status === status).length;
  const missed = rows.filter((row) => row.status === 'miss').map((row) => `${row.section}: ${row.measure}`);
  return [
    `targets: ${count('pass')} pass, ${count('miss')} miss, ${count('pending')} pending`,
    ...missed.map((m) => `  missed: ${m}`),
  ].join('\n');
}
