import { describe, expect, it } from 'vitest';
import { SingleFlight } from './single-flight';

describe('SingleFlight', () => {
  it('shares one run among concurrent callers and starts a new one afterwards', async () => {
    const flight = new SingleFlight<number>();
    let runs = 0;
    let release!: () => void;
    const task = () => {
      runs++;
      return new Promise<number>((resolve) => {
        release = () => resolve(runs);
      });
    };
    const callers = Array.from({ length: 100 }, () => flight.run(task));
    await Promise.resolve();
    expect(flight.inFlight).toBe(callers[0]);
    release();
    expect(new Set(await Promise.all(callers))).toEqual(new Set([1]));
    expect(flight.inFlight).toBeUndefined();
    const again = flight.run(task);
    await Promise.resolve();
    release();
    expect(await again).toBe(2);
  });

  it('shares and clears a failure, even one thrown synchronously', async () => {
    const flight = new SingleFlight<number>();
    const boom = () => {
      throw new Error('boom');
    };
    const a = flight.run(boom);
    const b = flight.run(boom);
    expect(a).toBe(b);
    await expect(a).rejects.toThrow('boom');
    expect(flight.inFlight).toBeUndefined();
    expect(await flight.run(async () => 7)).toBe(7);
  });
});
