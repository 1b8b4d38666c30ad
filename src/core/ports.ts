/**
 * What the refresh manager needs from its host. The Nest service plugs in SchedulerRegistry,
 * EventEmitter2 and Logger; unit tests and benchmarks plug in plain timers and arrays.
 */
export type TimerKind = 'check' | 'refresh' | 'store';

export interface TimerPort {
  /** Replaces any timeout of the same kind. */
  setTimeout(kind: Exclude<TimerKind, 'check'>, callback: () => void, delay: number): void;
  setInterval(kind: 'check', callback: () => void, every: number): void;
  clear(kind: TimerKind): void;
}

export interface EventSink {
  emit(event: string, payload: object): void;
}

export interface LoggerPort {
  log(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  debug?(message: string): void;
}

/** Plain Node timers, for use outside Nest. */
export class NodeTimers implements TimerPort {
  private readonly handles = new Map<TimerKind, NodeJS.Timeout>();

  setTimeout(kind: Exclude<TimerKind, 'check'>, callback: () => void, delay: number): void {
    this.clear(kind);
    this.handles.set(kind, setTimeout(callback, delay));
  }

  setInterval(kind: 'check', callback: () => void, every: number): void {
    this.clear(kind);
    this.handles.set(kind, setInterval(callback, every));
  }

  clear(kind: TimerKind): void {
    const handle = this.handles.get(kind);
    if (handle === undefined) return;
    clearTimeout(handle);
    this.handles.delete(kind);
  }
}
