/**
 * The engine's turn-taking: one job at a time on the network, fills before scores.
 *
 * A fill is what the writer waits for; a score (the surprise view, `lacuna score`) can take minutes
 * on a long text. So a waiting fill goes ahead of every waiting score, and a running score hands
 * its turn to waiting fills between network calls (`yieldToFills`) and takes it back after them,
 * before any other score. Fills among themselves, and scores among themselves, keep their order.
 */
export type JobKind = 'fill' | 'score';

export class JobQueue {
  private busy = false;
  private readonly fills: Array<() => void> = [];
  private readonly scores: Array<() => void> = [];
  /** Resolves when nothing runs or waits (Engine.close). */
  private idleWaiters: Array<() => void> = [];

  /** Runs `job` when its turn comes; the turn ends when it settles. */
  async run<T>(kind: JobKind, job: () => Promise<T>): Promise<T> {
    await this.acquire(kind, false);
    try {
      return await job();
    } finally {
      this.release();
    }
  }

  /** For a running score: let every waiting fill run, then continue (ahead of other scores). */
  async yieldToFills(): Promise<void> {
    if (this.fills.length === 0) return;
    this.release();
    await this.acquire('score', true);
  }

  /** Fills waiting for their turn. */
  get waitingFills(): number {
    return this.fills.length;
  }

  idle(): Promise<void> {
    if (!this.busy && this.fills.length === 0 && this.scores.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private acquire(kind: JobKind, front: boolean): Promise<void> {
    if (!this.busy && (kind === 'fill' || this.fills.length === 0)) {
      this.busy = true;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const lane = kind === 'fill' ? this.fills : this.scores;
      if (front) lane.unshift(resolve);
      else lane.push(resolve);
    });
  }

  private release(): void {
    const next = this.fills.shift() ?? this.scores.shift();
    if (next) {
      next(); // the turn passes on directly: busy stays true
      return;
    }
    this.busy = false;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
