import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ApiError } from '../../common/api';
import { Engine } from './engine';
import { FIXTURE_DIR } from './test-fixture';
import type { FillJob, FillProgressInfo } from './types';

const engine = new Engine({ threads: 1 });
afterAll(() => engine.close());

let n = 0;
const job = (text: string, extra: Partial<FillJob> = {}): FillJob => ({ requestId: `r${n++}`, text, modelDir: FIXTURE_DIR, ...extra });

async function rejection(p: Promise<unknown>): Promise<ApiError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e, 'expected a rejection').toBeInstanceOf(ApiError);
  return e as ApiError;
}

describe('Engine (in-process) with the fixture model', () => {
  it('fills blanks and splices the fills into the text', async () => {
    const text = 'The cat ____ on the mat. It was {{4}}.';
    const progress: FillProgressInfo[] = [];
    const out = await engine.fill(job(text, { steps: 8, seed: 7 }), (p) => progress.push(p));
    expect(out.fills).toHaveLength(2);
    for (const f of out.fills) expect(f.length).toBeGreaterThan(0);
    expect(out.text).toBe(`The cat ${out.fills[0]} on the mat. It was ${out.fills[1]}.`);
    expect(out).toMatchObject({ steps: 8, seed: 7, device: 'cpu' });
    expect(out.networkCalls).toBeGreaterThanOrEqual(1);
    expect(out.networkCalls).toBeLessThanOrEqual(9);
    expect(out.durationMs).toBeGreaterThanOrEqual(0);
    expect(progress.map((p) => p.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(progress.every((p) => p.steps === 8)).toBe(true);
    expect(progress.at(-1)!.masked).toBe(0);
  });

  it('is deterministic for a seed and differs across seeds', async () => {
    const text = 'Once upon a time ____ and then {{6}} happily.';
    const a = await engine.fill(job(text, { seed: 99, steps: 6 }));
    const b = await engine.fill(job(text, { seed: 99, steps: 6 }));
    const c = await engine.fill(job(text, { seed: 100, steps: 6 }));
    expect(b.text).toBe(a.text);
    expect(b.fills).toEqual(a.fills);
    expect(c.text).not.toBe(a.text);
  });

  it('defaults steps to the manifest and draws a 32-bit seed when none is given', async () => {
    const out = await engine.fill(job('Hello {{2}} world'));
    expect(out.steps).toBe(16); // sampling.default_steps of the fixture
    expect(Number.isInteger(out.seed) && out.seed >= 0 && out.seed < 2 ** 32).toBe(true);
    const again = await engine.fill(job('Hello {{2}} world', { seed: out.seed }));
    expect(again.text).toBe(out.text);
  });

  it('rejects bad requests with bad_request', async () => {
    expect((await rejection(engine.fill(job('nothing to fill')))).code).toBe('bad_request');
    expect((await rejection(engine.fill(job('a {{2000}} b')))).code).toBe('bad_request');
    const long = await rejection(engine.fill(job('word '.repeat(150) + '____')));
    expect(long.code).toBe('bad_request');
    expect(long.message).toMatch(/this model reads at most 128/);
    expect((await rejection(engine.fill(job('a ____', { steps: 0 })))).code).toBe('bad_request');
    expect((await rejection(engine.fill(job('a ____', { seed: -1 })))).code).toBe('bad_request');
  });

  it('reports a missing or broken model as model_error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lacuna-engine-'));
    try {
      const e = await rejection(engine.fill(job('a ____', { modelDir: dir })));
      expect(e.code).toBe('model_error');
      expect(e.message).toContain('manifest.json is missing');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('cancels a running fill between steps', async () => {
    const j = job('{{40}}', { steps: 200, seed: 1 });
    const steps: number[] = [];
    const p = engine.fill(j, (info) => {
      steps.push(info.step);
      if (info.step === 2) engine.cancel(j.requestId);
    });
    const e = await rejection(p);
    expect(e.code).toBe('cancelled');
    expect(steps).toEqual([1, 2]);
    // The engine keeps working afterwards.
    expect((await engine.fill(job('a ____', { steps: 2 }))).fills).toHaveLength(1);
  });

  it('runs one fill at a time, in order, and can cancel a queued fill', async () => {
    const order: string[] = [];
    const a = job('first ____', { steps: 5 });
    const b = job('second ____', { steps: 5 });
    const c = job('third ____', { steps: 5 });
    const pa = engine.fill(a, () => order.push('a'));
    const pb = engine.fill(b, () => order.push('b'));
    const pc = engine.fill(c, () => order.push('c'));
    engine.cancel(b.requestId);
    await pa;
    expect((await rejection(pb)).code).toBe('cancelled');
    await pc;
    expect(order.join('')).toBe('aaaaaccccc');
  });

  it('refuses a request id that is already in use', async () => {
    const a = job('x ____', { steps: 3 });
    const first = engine.fill(a);
    expect((await rejection(engine.fill({ ...a }))).code).toBe('bad_request');
    await first;
  });

  it('ignores cancel for unknown ids and survives a throwing progress listener', async () => {
    engine.cancel('no-such-request');
    const out = await engine.fill(job('x ____', { steps: 3 }), () => {
      throw new Error('listener bug');
    });
    expect(out.fills).toHaveLength(1);
  });

  it('after close, rejects new fills', async () => {
    const e2 = new Engine();
    await e2.fill(job('x ____', { steps: 2 }));
    await e2.close();
    expect((await rejection(e2.fill(job('x ____')))).code).toBe('cancelled');
  });
});
