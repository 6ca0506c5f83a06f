import { describe, expect, it } from 'vitest';
import { JobQueue } from './job-queue';

const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 0));

describe('JobQueue', () => {
  it('runs one job at a time, waiting fills before waiting scores, each kind in order', async () => {
    const q = new JobQueue();
    const order: string[] = [];
    let release!: () => void;
    const first = q.run('score', () => new Promise<void>((r) => (release = r)).then(() => void order.push('score 1')));
    const jobs = [
      q.run('score', async () => void order.push('score 2')),
      q.run('fill', async () => void order.push('fill 1')),
      q.run('score', async () => void order.push('score 3')),
      q.run('fill', async () => void order.push('fill 2')),
    ];
    await tick();
    expect(order).toEqual([]);
    release();
    await Promise.all([first, ...jobs]);
    expect(order).toEqual(['score 1', 'fill 1', 'fill 2', 'score 2', 'score 3']);
    await q.idle();
  });

  it('a running score yields its turn to waiting fills, then resumes before other scores', async () => {
    const q = new JobQueue();
    const order: string[] = [];
    let step!: () => void;
    const score = q.run('score', async () => {
      order.push('score: draw 1');
      await new Promise<void>((r) => (step = r));
      await q.yieldToFills();
      order.push('score: draw 2');
    });
    await tick();
    const other = q.run('score', async () => void order.push('other score'));
    const fill = q.run('fill', async () => void order.push('fill'));
    expect(q.waitingFills).toBe(1);
    step();
    await Promise.all([score, other, fill]);
    expect(order).toEqual(['score: draw 1', 'fill', 'score: draw 2', 'other score']);
    // With no fill waiting, yielding keeps the turn.
    const solo: string[] = [];
    await q.run('score', async () => {
      await q.yieldToFills();
      solo.push('kept');
    });
    expect(solo).toEqual(['kept']);
  });

  it('a failing job passes the turn on; idle() waits for all', async () => {
    const q = new JobQueue();
    const bad = q.run('fill', async () => {
      throw new Error('boom');
    });
    const good = q.run('fill', async () => 7);
    await expect(bad).rejects.toThrow('boom');
    expect(await good).toBe(7);
    let done = false;
    const slow = q.run('score', async () => {
      await tick();
      done = true;
    });
    await q.idle();
    expect(done).toBe(true);
    await slow;
  });
});
