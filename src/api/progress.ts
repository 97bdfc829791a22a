// A call's progress: the caller's onProgress(done, total), checked up front.

import { XcodecInputError } from '../errors.js';

/**
 * The caller's onProgress(done, total), checked up front. run() lets an exception thrown from it (to
 * cancel) reach the caller unchanged, where guard() would report any other as a runtime failure.
 */
export class Progress {
  private done = 0;
  private failure: { error: unknown } | null = null;

  constructor(
    private callback: unknown,
    private total: number,
  ) {
    if (callback !== undefined && typeof callback !== 'function') {
      throw new XcodecInputError(`onProgress must be a function (done, total) => void; got ${typeof callback}`);
    }
  }

  readonly tick = (steps = 1): void => {
    this.done += steps;
    if (!this.callback) return;
    try {
      (this.callback as (done: number, total: number) => void)(this.done, this.total);
    } catch (error) {
      this.failure = { error };
      throw error;
    }
  };

  run(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      if (this.failure) throw this.failure.error;
      throw e;
    }
  }
}
