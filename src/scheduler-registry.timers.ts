import { type SchedulerRegistry } from '@nestjs/schedule';
import { type TimerKind, type TimerPort } from './core/ports';

/**
 * Timers registered in Nest's SchedulerRegistry under `token-refresh:<name>:<kind>`, so an
 * app can see them (getIntervals/getTimeouts) like any other scheduled job.
 */
export class SchedulerRegistryTimers implements TimerPort {
  constructor(
    private readonly registry: SchedulerRegistry,
    private readonly registration: string,
  ) {}

  setTimeout(kind: Exclude<TimerKind, 'check'>, callback: () => void, delay: number): void {
    this.clear(kind);
    // unref: a forgotten stop() must not keep a script alive.
    this.registry.addTimeout(this.key(kind), setTimeout(callback, delay).unref());
  }

  setInterval(kind: 'check', callback: () => void, every: number): void {
    this.clear(kind);
    this.registry.addInterval(this.key(kind), setInterval(callback, every).unref());
  }

  clear(kind: TimerKind): void {
    const key = this.key(kind);
    if (kind === 'check') {
      if (this.registry.doesExist('interval', key)) this.registry.deleteInterval(key);
    } else if (this.registry.doesExist('timeout', key)) {
      this.registry.deleteTimeout(key);
    }
  }

  key(kind: TimerKind): string {
    return `token-refresh:${this.registration}:${kind}`;
  }
}
