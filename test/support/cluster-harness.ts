import { type ChildProcess, execFile, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';

const PACKAGE_NAME = 'nestjs-token-refresh';

/**
 * The nearest directory at or above `from` whose package.json is named `packageName`. This
 * file runs from test/support/ under vitest and from dist-bench/test/support/ in the bench.
 */
export function findRepoRoot(from: string, packageName = PACKAGE_NAME): string {
  for (let dir = resolve(from); ; dir = dirname(dir)) {
    if (packageNameIn(dir) === packageName) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json named "${packageName}" at or above ${from}`);
  }
}

function packageNameIn(dir: string): unknown {
  try {
    return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown }).name;
  } catch {
    return undefined;
  }
}

export const REPO_ROOT = findRepoRoot(__dirname);
export const WORKER_SCRIPT = join(REPO_ROOT, 'test', 'cluster', 'cluster-worker.cjs');

/**
 * Compiles src (CommonJS, no declarations) for the worker processes into a directory of
 * its own under node_modules/.cache, never into dist/. Returns it and a cleanup.
 */
export async function compileForWorkers(): Promise<{ dist: string; remove: () => Promise<void> }> {
  const dist = join(REPO_ROOT, 'node_modules', '.cache', 'nestjs-token-refresh-cluster', `${process.pid}-${randomUUID()}`);
  const remove = (): Promise<void> => rm(dist, { recursive: true, force: true });
  const tsc = join(REPO_ROOT, 'node_modules', '.bin', 'tsc');
  try {
    await promisify(execFile)(tsc, ['-p', 'tsconfig.build.json', '--outDir', dist, '--declaration', 'false', '--sourceMap', 'false'], {
      cwd: REPO_ROOT,
    });
  } catch (error) {
    // tsc emits even when it reports errors: leave nothing behind.
    await remove();
    throw error;
  }
  return { dist, remove };
}

export interface WorkerConfig {
  dist: string;
  redisUrl: string;
  keyPrefix: string;
  tokenEndpoint: string;
  clientId: string;
  clientSecret: string;
  /** ms, the built-in client's request timeout: keep it below the lease. */
  oauthTimeout: number;
  lease: number;
  lockWaitTimeout: number;
  checkInterval: number;
  resyncDelay?: number;
}

export interface WorkerMessage {
  type: string;
  [key: string]: unknown;
}

export interface WorkerEvent {
  event: string;
  payload: Record<string, unknown>;
  at: number;
}

/** One replica process, with what it said (messages, events, log output) and helpers to wait on it. */
export class ClusterWorker {
  readonly messages: WorkerMessage[] = [];
  readonly events: WorkerEvent[] = [];
  output = '';
  exited = false;
  readonly #child: ChildProcess;
  readonly #waiters = new Set<() => void>();

  private constructor(
    readonly name: string,
    child: ChildProcess,
  ) {
    this.#child = child;
    child.stdout?.on('data', (chunk: Buffer) => this.#append(chunk));
    child.stderr?.on('data', (chunk: Buffer) => this.#append(chunk));
    child.on('message', (message: WorkerMessage) => {
      this.messages.push(message);
      if (message.type === 'event') {
        this.events.push({ event: message.event as string, payload: message.payload as Record<string, unknown>, at: Date.now() });
      }
      this.#notify();
    });
    child.on('exit', () => {
      this.exited = true;
      this.#notify();
    });
  }

  /** Forks the worker and waits for it to boot. */
  static async start(name: string, config: WorkerConfig): Promise<ClusterWorker> {
    const worker = ClusterWorker.spawn(name, config);
    await worker.waitFor((m) => m.type === 'booted', 20_000, 'boot');
    return worker;
  }

  /** Forks the worker without waiting: it sends a 'booted' message once ready. */
  static spawn(name: string, config: WorkerConfig): ClusterWorker {
    const child = fork(WORKER_SCRIPT, [], {
      cwd: REPO_ROOT,
      env: { ...process.env, CLUSTER_WORKER_CONFIG: JSON.stringify(config), NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'json',
    });
    return new ClusterWorker(name, child);
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  send(message: WorkerMessage): void {
    if (!this.exited) this.#child.send(message);
  }

  /** Sends and waits for the reply of the given type. */
  async request(message: WorkerMessage, replyType: string, timeoutMs = 10_000): Promise<WorkerMessage> {
    const id = randomUUID();
    const from = this.messages.length;
    this.send({ ...message, id });
    return this.waitFor((m, index) => index >= from && m.type === replyType && (m.id === undefined || m.id === id), timeoutMs, replyType);
  }

  /** Resolves with the first message (old or new) that matches; rejects on timeout, crash or exit. */
  waitFor(match: (message: WorkerMessage, index: number) => boolean, timeoutMs: number, what: string): Promise<WorkerMessage> {
    return this.#until(() => this.messages.find(match), timeoutMs, what);
  }

  /** Resolves with the first event (old or new) that matches. */
  waitForEvent(match: (event: WorkerEvent) => boolean, timeoutMs: number, what: string): Promise<WorkerEvent> {
    return this.#until(() => this.events.find(match), timeoutMs, what);
  }

  eventsNamed(name: string): WorkerEvent[] {
    return this.events.filter((e) => e.event === name);
  }

  /** SIGKILL, like a crashed pod; resolves when the process is gone. */
  async kill(): Promise<void> {
    if (this.exited) return;
    const exited = once(this.#child, 'exit');
    this.#child.kill('SIGKILL');
    await exited;
  }

  /**
   * app.close() in the worker, then its exit. Resolves 'exited' when it ended on its own (so
   * nothing, e.g. a Redis subscriber, was left open), 'killed' if it had to be SIGKILLed.
   */
  async stop(timeoutMs = 10_000): Promise<'exited' | 'killed'> {
    if (this.exited) return 'exited';
    const exited = once(this.#child, 'exit');
    this.send({ type: 'stop' });
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      this.#child.kill('SIGKILL');
    }, timeoutMs);
    await exited;
    clearTimeout(timer);
    return killed ? 'killed' : 'exited';
  }

  #append(chunk: Buffer): void {
    this.output += chunk.toString('utf8');
  }

  #notify(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }

  #until<T>(find: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    return new Promise<T>((resolvePromise, reject) => {
      const check = (): void => {
        const found = find();
        if (found !== undefined) return done(() => resolvePromise(found));
        const crash = this.messages.find((m) => m.type === 'crash');
        if (crash) return done(() => reject(new Error(`${this.name} crashed: ${String(crash.message)}`)));
        if (this.exited) return done(() => reject(new Error(`${this.name} exited while waiting for ${what}\n${this.output.slice(-2_000)}`)));
      };
      const done = (settle: () => void): void => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        settle();
      };
      const timer = setTimeout(
        () => done(() => reject(new Error(`${this.name}: no ${what} within ${timeoutMs} ms\n${this.output.slice(-2_000)}`))),
        timeoutMs,
      );
      this.#waiters.add(check);
      check();
    });
  }
}

/** Resolves once `predicate` holds, re-checked whenever `subscribe` signals a change; rejects after timeoutMs. */
export function waitUntil(
  predicate: () => boolean,
  subscribe: (onChange: () => void) => () => void,
  timeoutMs: number,
  what: string,
): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    let unsubscribe: () => void = () => undefined;
    const timer = setTimeout(() => {
      unsubscribe();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
    }, timeoutMs);
    const check = (): void => {
      if (!predicate()) return;
      clearTimeout(timer);
      unsubscribe();
      resolvePromise();
    };
    unsubscribe = subscribe(check);
    check();
  });
}
