/**
 * At most one run of a task at a time; callers that arrive while it runs share its promise.
 * This is what keeps a rotated refresh token from ever being sent twice by one process.
 */
export class SingleFlight<T> {
  private current: Promise<T> | undefined;

  get inFlight(): Promise<T> | undefined {
    return this.current;
  }

  run(task: () => Promise<T>): Promise<T> {
    if (this.current) return this.current;
    // Started on a microtask so even a task that throws synchronously is shared and cleared.
    const run: Promise<T> = Promise.resolve()
      .then(task)
      .finally(() => {
        if (this.current === run) this.current = undefined;
      });
    this.current = run;
    return run;
  }
}
