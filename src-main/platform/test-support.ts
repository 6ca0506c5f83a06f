/** Assertions shared by the unit tests: the ApiError a call throws or a promise rejects with. */
import { expect } from 'vitest';
import { ApiError } from '../common/api';

/** The ApiError `fn` throws; fails the test if it throws something else or nothing. */
export function caught(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ApiError);
    return err as ApiError;
  }
  throw new Error('expected an ApiError, nothing was thrown');
}

/** The ApiError `p` rejects with; fails the test if it resolves or rejects with something else. */
export async function rejection(p: Promise<unknown>): Promise<ApiError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ApiError);
    return err as ApiError;
  }
  throw new Error('expected a rejection with an ApiError; the promise resolved');
}
