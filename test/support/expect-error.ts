import { expect } from 'vitest';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any constructor, whatever its parameters
type ErrorClass<E> = abstract new (...args: any[]) => E;
/** Fields the error must have, compared with toMatchObject (asymmetric matchers allowed). */
type ErrorFields<E> = { [K in keyof E]?: unknown };

/**
 * Expects `subject` to fail with an instance of `type` whose fields match `fields`, and returns
 * the error for further checks. `subject` is a function (called; a thrown error is checked at
 * once, a returned promise is awaited) or a promise. Fails the test when nothing is thrown.
 */
export function expectTypedError<E>(subject: PromiseLike<unknown> | (() => PromiseLike<unknown>), type: ErrorClass<E>, fields?: ErrorFields<E>): Promise<E>;
export function expectTypedError<E>(subject: () => unknown, type: ErrorClass<E>, fields?: ErrorFields<E>): E;
export function expectTypedError<E>(
  subject: PromiseLike<unknown> | (() => unknown),
  type: ErrorClass<E>,
  fields?: ErrorFields<E>,
): E | Promise<E> {
  const check = (error: unknown): E => {
    expect(error).toBeInstanceOf(type);
    if (fields) expect(error).toMatchObject(fields);
    return error as E;
  };
  const nothingThrown = (): never => {
    throw new Error(`expected a ${type.name}, but nothing was thrown`);
  };
  let outcome: unknown = subject;
  if (typeof subject === 'function') {
    try {
      outcome = subject();
    } catch (error) {
      return check(error);
    }
  }
  if (isThenable(outcome)) return Promise.resolve(outcome).then(nothingThrown, check);
  return nothingThrown();
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | undefined)?.then === 'function';
}
