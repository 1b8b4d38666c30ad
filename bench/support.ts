/**
 * Shared pieces of the benchmarks: the wiring they give the test suites' manager factory,
 * percentiles, sleeps and number formatting.
 */
import { arch, availableParallelism, cpus, loadavg, platform, release, totalmem } from 'node:os';
import { type EventSink, NodeTimers, type TimerKind, type TimerPort } from '../src/core/ports';
import { type Row } from './report';

/** What every *.bench.ts returns to run.ts: its table rows and its raw figures for results.json. */
export interface SectionResult {
  key: string;
  title: string;
  rows: Row[];
  data: Record<string, unknown>;
}

/**
 * What the benchmarks add to createTestManager (test/support/manager.ts): jitter from
 * Math.random, as in production, and events that go nowhere, so nothing piles up in memory.
 */
export const BENCH_WIRING = { random: Math.random, events: { emit: () => undefined } as EventSink };

/**
 * Plain Node timers, except that the exact-time refresh timeout is never armed: the refresh
 * is left to the callers, as when the event loop was stalled or the process suspended past
 * refreshAt. The worst case for single-flight: callers, not the timer, find the token due.
 */
export class CallerDrivenTimers implements TimerPort {
  readonly #inner = new NodeTimers();
  setTimeout(kind: Exclude<TimerKind, 'check'>, callback: () => void, delay: number): void {
    if (kind === 'refresh') return;
    this.#inner.setTimeout(kind, callback, delay);
  }
  setInterval(kind: 'check', callback: () => void, every: number): void {
    this.#inner.setInterval(kind, callback, every);
  }
  clear(kind: TimerKind): void {
    this.#inner.clear(kind);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Nearest-rank percentile (p in 0..100) of unsorted values. */
export function percentile(values: ArrayLike<number>, p: number): number {
  const sorted = Array.from(values).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1];
}

export function median(values: ArrayLike<number>): number {
  return percentile(values, 50);
}

export interface Distribution {
  count: number;
  p50: number;
  p99: number;
  max: number;
  min: number;
}

export function distribution(values: ArrayLike<number>): Distribution {
  const list = Array.from(values);
  return {
    count: list.length,
    p50: percentile(list, 50),
    p99: percentile(list, 99),
    max: list.length ? Math.max(...list) : Number.NaN,
    min: list.length ? Math.min(...list) : Number.NaN,
  };
}

export function round(value: number, digits = 2): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

/** "1.23 ms", "45.6 ms", "12.3 s". */
export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (Math.abs(ms) >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (Math.abs(ms) >= 100) return `${ms.toFixed(0)} ms`;
  if (Math.abs(ms) >= 10) return `${ms.toFixed(1)} ms`;
  return `${ms.toFixed(2)} ms`;
}

export function fmtNs(ns: number): string {
  return `${ns.toFixed(1)} ns`;
}

export function fmtBytes(bytes: number): string {
  if (Math.abs(bytes) >= 10 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${Math.round(bytes)} B`;
}

export function fmtInt(n: number): string {
  return n.toLocaleString('en-US');
}

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  availableParallelism: number;
  node: string;
  v8: string;
  platform: string;
  arch: string;
  osRelease: string;
  totalMemoryGiB: number;
  exposeGc: boolean;
  /** 1-minute load average when the run started: other work on the machine skews the figures. */
  loadAverage1mAtStart: number;
}

export function machineInfo(): MachineInfo {
  const list = cpus();
  return {
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    cores: list.length,
    availableParallelism: availableParallelism(),
    node: process.version,
    v8: process.versions.v8,
    platform: platform(),
    arch: arch(),
    osRelease: release(),
    totalMemoryGiB: round(totalmem() / 1024 ** 3, 1),
    exposeGc: typeof globalThis.gc === 'function',
    loadAverage1mAtStart: round(loadavg()[0], 2),
  };
}
