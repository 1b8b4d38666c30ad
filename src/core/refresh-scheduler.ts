import { type Credential } from './credential';
import { MAX_TIMER_DELAY } from './durations';
import { MinHeap } from './min-heap';
import { type TimerPort } from './ports';

/** How long one pass over due credentials may hold the event loop before it yields. */
const PASS_BUDGET_MS = 5;

export interface SchedulerHost {
  /** `c` is due: its dueAt has passed on the wall or the monotonic clock. */
  onDue(c: Credential): void;
  /** The safety-net interval: also a chance for periodic work (due keys in the store, eviction). */
  onCheck(): void;
}

/**
 * One scheduler per registration, whatever the number of keys: a heap of credentials ordered
 * by when each is next due, with one timer armed for the earliest, plus the check interval as
 * a safety net (for timers a suspended process missed). Deadlines are kept on the monotonic
 * clock (`dueMono`) and checked on both clocks, so wall-clock steps neither delay nor skip them.
 *
 * It also caps refreshes in flight: a refresh beyond the cap waits in a queue ordered by
 * urgency (a caller is waiting) and then by expiry, so the key closest to expiring goes first
 * and a hundred thousand keys falling due at once never stampede the identity provider.
 */
export class RefreshScheduler {
  readonly #timers: TimerPort;
  readonly #host: SchedulerHost;
  readonly #checkInterval: number;
  readonly #due = new MinHeap<'timerIndex', Credential>(dueFirst, 'timerIndex');
  /** Refreshes waiting for a slot (made on first use: most registrations never queue). */
  #waiting: MinHeap<'queueIndex', Credential> | undefined;
  #queued: Map<Credential, { start(): void; cancel(reason: unknown): void }> | undefined;
  #slots: number;
  #inFlight = 0;
  #running = false;
  /** A coarse clock (seconds on the monotonic clock) for recency: cheap to store on every access. */
  tick = 0;

  constructor(options: { timers: TimerPort; host: SchedulerHost; checkInterval: number; maxConcurrent: number }) {
    this.#timers = options.timers;
    this.#host = options.host;
    this.#checkInterval = options.checkInterval;
    this.#slots = options.maxConcurrent;
    this.tick = Math.floor(performance.now() / 1000);
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  get queued(): number {
    return this.#waiting?.size ?? 0;
  }

  start(): void {
    this.#running = true;
    this.#timers.setInterval('check', () => this.check(), this.#checkInterval);
    this.#arm();
  }

  stop(): void {
    this.#running = false;
    this.#timers.clear('check');
    this.#timers.clear('refresh');
    this.#due.clear();
  }

  /** Look at `c` at `at` (epoch ms on its anchored clock). */
  at(c: Credential, at: number): void {
    c.dueMono = at - c.anchor;
    const top = this.#due.peek();
    this.#due.upsert(c);
    if (this.#running && (top === undefined || this.#due.peek() !== top || top === c)) this.#arm();
  }

  cancel(c: Credential): void {
    if (!this.#due.has(c)) return;
    const wasTop = this.#due.peek() === c;
    this.#due.remove(c);
    if (wasTop && this.#running) this.#arm();
  }

  /** The safety net: runs what is due (a timer may have fired late, or the clock jumped) and re-arms. */
  check(): void {
    this.tick = Math.floor(performance.now() / 1000);
    this.#runDue();
    this.#host.onCheck();
  }

  /**
   * Runs `task` now if a slot is free, else once one is: the promise settles with the task.
   * `urgent` puts it ahead of background refreshes (a caller is waiting for it).
   */
  run<T>(c: Credential, task: () => Promise<T>): Promise<T> {
    if (this.#inFlight < this.#slots) return this.#start(task);
    this.#waiting ??= new MinHeap<'queueIndex', Credential>(queuedFirst, 'queueIndex');
    this.#queued ??= new Map();
    const waiting = this.#waiting;
    const queued = this.#queued;
    return new Promise<T>((resolve, reject) => {
      queued.set(c, { start: () => void this.#start(task).then(resolve, reject), cancel: reject });
      waiting.upsert(c);
    });
  }

  /** A queued refresh became urgent (a caller now waits for it): move it up the queue. */
  promote(c: Credential): void {
    if (this.#waiting?.has(c)) this.#waiting.upsert(c);
  }

  /** Drops a refresh still waiting for a slot; its promise rejects with `reason`. */
  dequeue(c: Credential, reason: unknown): void {
    const entry = this.#queued?.get(c);
    if (!entry) return;
    this.#queued!.delete(c);
    this.#waiting!.remove(c);
    entry.cancel(reason);
  }

  /** Drops every queued refresh (the engine is stopping). */
  dequeueAll(reason: unknown): void {
    for (const c of [...(this.#queued?.keys() ?? [])]) this.dequeue(c, reason);
  }

  #start<T>(task: () => Promise<T>): Promise<T> {
    this.#inFlight++;
    return Promise.resolve()
      .then(task)
      .finally(() => {
        this.#inFlight--;
        this.#startNext();
      });
  }

  #startNext(): void {
    while (this.#inFlight < this.#slots) {
      const next = this.#waiting?.pop();
      if (!next) return;
      const entry = this.#queued!.get(next);
      this.#queued!.delete(next);
      entry?.start();
    }
  }

  #runDue(): void {
    const began = performance.now();
    const wall = Date.now();
    for (let top = this.#due.peek(); top && this.#isDue(top, wall, performance.now()); top = this.#due.peek()) {
      this.#due.remove(top);
      this.#host.onDue(top);
      if (performance.now() - began > PASS_BUDGET_MS) {
        // Thousands due at once: let the event loop breathe, and go on at once.
        this.#timers.setTimeout('refresh', () => this.#fire(), 0);
        return;
      }
    }
    this.#arm();
  }

  #fire(): void {
    if (this.#running) this.#runDue();
  }

  #isDue(c: Credential, wall: number, monotonic: number): boolean {
    return c.dueMono <= monotonic || c.dueMono + c.anchor <= wall;
  }

  /** One timeout for the earliest credential, on whichever clock reaches it first. */
  #arm(): void {
    if (!this.#running) return;
    const top = this.#due.peek();
    if (!top) {
      this.#timers.clear('refresh');
      return;
    }
    const delay = Math.min(top.dueMono - performance.now(), top.dueMono + top.anchor - Date.now());
    // A delay beyond setTimeout's range fires early and is re-armed from there.
    this.#timers.setTimeout('refresh', () => this.#fire(), Math.min(Math.max(0, Math.ceil(delay)), MAX_TIMER_DELAY));
  }
}

function dueFirst(a: Credential, b: Credential): boolean {
  return a.dueMono < b.dueMono;
}

/** Urgent first (a caller waits), then the one that expires first. */
function queuedFirst(a: Credential, b: Credential): boolean {
  const aUrgent = a.busy?.urgent === true;
  const bUrgent = b.busy?.urgent === true;
  if (aUrgent !== bUrgent) return aUrgent;
  return (a.tokens?.expiresAt ?? 0) < (b.tokens?.expiresAt ?? 0);
}
