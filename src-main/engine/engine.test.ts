import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { alternativeSeed, autoLengths, Engine, lengthScore, RANK_DRAWS } from './engine';
import { FIXTURE_DIR, ROOT } from './test-fixture';
import { scoreText } from './likelihood';
import type { FillJob, FillProgressInfo, ScoreJob } from './types';
import { rejection } from '../platform/test-support';

const engine = new Engine({ threads: 1 });
const TI_DIR = join(ROOT, 'models', 'fixtures', 'tiny-ti'); // time-independent (models/tools/make_tiny_ti.py)
afterAll(() => engine.close());

let n = 0;
const job = (text: string, extra: Partial<FillJob> = {}): FillJob => ({ requestId: `r${n++}`, text, modelDir: FIXTURE_DIR, ...extra });

describe('Engine (in-process) with the fixture model', () => {
  it('fills blanks and splices the fills into the text', async () => {
    const text = 'The cat {{16}} on the mat. It was {{4}}.';
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
    const long = await rejection(engine.fill(job('a {{200}} b')));
    expect(long.code).toBe('bad_request');
    expect(long.message).toMatch(/this model generates at most 128/);
    expect((await rejection(engine.fill(job('a ____', { alternatives: 0 })))).code).toBe('bad_request');
    expect((await rejection(engine.fill(job('a ____', { alternatives: 17 })))).code).toBe('bad_request');
    expect((await rejection(engine.fill(job('a ____', { mode: 'slow' as 'fast' })))).code).toBe('bad_request');
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
    const a = job('first {{16}}', { steps: 5 });
    const b = job('second {{16}}', { steps: 5 });
    const c = job('third {{16}}', { steps: 5 });
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

  it('reads a long document through windows and keeps all its text byte for byte', async () => {
    const filler = (tag: string): string => `${tag}: the quick brown fox jumps over the lazy dog. `.repeat(12);
    const pieces = ['', ` ${filler('one')}middle `, ` ${filler('two')}`, ''];
    const text = '{{3}}' + pieces[1] + '{{16}}' + pieces[2] + '{{5}}';
    const progress: FillProgressInfo[] = [];
    const out = await engine.fill(job(text, { steps: 4, seed: 3 }), (p) => progress.push(p));
    expect(out.windows).toBeGreaterThanOrEqual(2);
    expect(out.fills).toHaveLength(3);
    expect(out.text).toBe(out.fills[0]! + pieces[1] + out.fills[1]! + pieces[2] + out.fills[2]!);
    // Every blank token was generated (no MASK left): one event per token, per step for every window.
    expect(progress).toHaveLength(4 * out.windows);
    expect(progress.map((p) => p.step)).toEqual(Array.from({ length: 4 * out.windows }, (_, i) => i + 1));
    expect(progress.flatMap((p) => p.unmasked)).toHaveLength(3 + 16 + 5);
    expect(progress.at(-1)!.masked).toBe(0);
    // Blanks spread over three windows: the far-apart one gets a window of its own.
    const far = 'a ____ ' + filler('x') + filler('y') + ' b ____ ' + filler('z') + ' c {{4}}';
    const three = await engine.fill(job(far, { steps: 3, seed: 4 }));
    expect(three.windows).toBe(3);
    expect(three.fills).toHaveLength(3);
  });

  it('continues text that ends in a blank, and fills text that is only a blank', async () => {
    const cont = await engine.fill(job('Once upon a time ____', { steps: 4, seed: 5 }));
    expect(cont.text).toBe(`Once upon a time ${cont.fills[0]}`);
    expect(cont.fills[0]!.length).toBeGreaterThan(0);
    const only = await engine.fill(job('{{6}}', { steps: 4, seed: 5 }));
    expect(only.text).toBe(only.fills[0]);
    expect(only.fills[0]!.length).toBeGreaterThan(0);
  });

  it('samples alternatives as one batch: deterministic per seed, different from each other', async () => {
    const text = 'She opened the {{6}} and saw {{6}}.';
    const progress: FillProgressInfo[] = [];
    const a = await engine.fill(job(text, { steps: 6, seed: 21, alternatives: 3 }), (p) => progress.push(p));
    const b = await engine.fill(job(text, { steps: 6, seed: 21, alternatives: 3 }));
    const one = await engine.fill(job(text, { steps: 6, seed: 21 }));
    expect(a.alternatives).toHaveLength(3);
    expect(b.alternatives).toEqual(a.alternatives);
    expect(new Set(a.alternatives.map((x) => x.text)).size).toBe(3);
    expect(a.alternatives[0]).toMatchObject({ text: a.text, fills: a.fills, lengths: [6, 6] });
    // Ranked: most natural first (the bound per token, on the same draws for every alternative).
    const nll = a.alternatives.map((x) => x.nll!);
    expect(nll.every(Number.isFinite)).toBe(true);
    expect([...nll].sort((x, y) => x - y)).toEqual(nll);
    // Alternative 0 uses the seed itself: the single fill for that seed is one of them (a single fill is not ranked).
    expect(one.alternatives).toEqual([{ text: one.text, fills: one.fills, lengths: [6, 6] }]);
    expect(a.alternatives.map((x) => x.text)).toContain(one.text);
    for (const alt of a.alternatives) expect(alt.text).toBe(`She opened the ${alt.fills[0]} and saw ${alt.fills[1]}.`);
    // One batch: network calls per step, not per alternative (and the ranking's draws, also batched).
    expect(a.networkCalls).toBeLessThanOrEqual(7 + RANK_DRAWS);
    // Progress: every (alternative, blank, index) exactly once, with its token's text.
    const keys = progress.flatMap((p) => p.unmasked.map((u) => `${u.alternative}/${u.blank}/${u.index}`));
    expect(keys).toHaveLength(3 * 12);
    expect(new Set(keys).size).toBe(3 * 12);
    for (const u of progress.flatMap((p) => p.unmasked)) {
      expect(u.alternative).toBeLessThan(3);
      expect(u.blank).toBeLessThan(2);
      expect(u.index).toBeLessThan(6);
      expect(typeof u.text).toBe('string');
    }
    // The fills are the concatenated token texts (the moved space dropped).
    const alt1 = progress
      .flatMap((p) => p.unmasked)
      .filter((u) => u.alternative === 1 && u.blank === 0)
      .sort((x, y) => x.index - y.index)
      .map((u) => u.token);
    expect(alt1).toHaveLength(6);
    expect(alternativeSeed(21, 0)).toBe(21);
    expect(alternativeSeed(21, 1)).not.toBe(alternativeSeed(21, 2));
  });

  it('cancels between steps of a later window', async () => {
    const text = '____ ' + 'the quick brown fox jumps over the lazy dog. '.repeat(30) + '____';
    const j = job(text, { steps: 50, seed: 1 });
    const steps: number[] = [];
    const p = engine.fill(j, (info) => {
      steps.push(info.step);
      if (info.step === 52) engine.cancel(j.requestId);
    });
    expect((await rejection(p)).code).toBe('cancelled');
    expect(steps.at(-1)).toBe(52);
    expect(steps).toHaveLength(52);
  });

  it('skips network calls for a time-independent model; exact mode calls a σ-conditioned one every step with a MASK', async () => {
    const steps = 64;
    const text = 'The {{4}} sat on the mat.';
    // Time-independent: a call only after a step that unmasked something (≈ n·(1 − (1 − 1/n)^L) ≈ 3.9).
    const ti = await engine.fill({ ...job(text, { steps, seed: 8 }), modelDir: TI_DIR });
    expect(ti.networkCalls).toBeLessThanOrEqual(4 + 1);
    expect(ti.networkCalls).toBeLessThan(steps);
    expect(ti.text).toBe(`The ${ti.fills[0]} sat on the mat.`);
    // σ-conditioned, exact: one call per step at whose start something is still masked.
    const progress: FillProgressInfo[] = [];
    const tc = await engine.fill(job(text, { steps, seed: 8 }), (p) => progress.push(p));
    // (Steps k = 0 … steps − 1; plus the final denoise if the last step left a MASK, which the
    // log-linear closed form makes rare: its last step unmasks with probability Δt/(Δt + ε).)
    const expected = 1 + progress.filter((p) => p.step < steps && p.masked > 0).length;
    expect(tc.networkCalls).toBeGreaterThanOrEqual(expected);
    expect(tc.networkCalls).toBeLessThanOrEqual(expected + 1);
    expect(tc.networkCalls).toBeGreaterThan(ti.networkCalls);
    // With many tokens something is still masked at every step: a call at every step (steps, or
    // steps + 1 with the denoise).
    const longProgress: FillProgressInfo[] = [];
    const long = await engine.fill(job('{{120}}', { steps: 8, seed: 8 }), (p) => longProgress.push(p));
    expect(longProgress.filter((p) => p.step < 8).every((p) => p.masked > 0)).toBe(true);
    expect(long.networkCalls).toBeGreaterThanOrEqual(8);
    expect(long.networkCalls).toBeLessThanOrEqual(9);
    const longFast = await engine.fill(job('{{120}}', { steps: 8, seed: 8, mode: 'fast' }));
    expect(longFast.networkCalls).toBeLessThanOrEqual(long.networkCalls);
    // mode 'fast' reuses outputs for σ-conditioned weights too.
    const fast = await engine.fill(job(text, { steps, seed: 8, mode: 'fast' }));
    expect(fast.networkCalls).toBeLessThanOrEqual(4 + 1);
  });
});

const UNIFORM_DIR = join(ROOT, 'models', 'fixtures', 'tiny-uniform'); // uniform graph, geometric noise, mask_id null

/** A copy of the fixture package whose manifest asks for other sampling settings (the manifest itself is not hashed). */
function fixtureCopy(edit: (manifest: Record<string, unknown>) => void): string {
  const dir = mkdtempSync(join(tmpdir(), 'lacuna-engine-pkg-'));
  for (const f of ['model.onnx', 'tokenizer.json']) copyFileSync(join(FIXTURE_DIR, f), join(dir, f));
  const manifest = JSON.parse(readFileSync(join(FIXTURE_DIR, 'manifest.json'), 'utf8')) as Record<string, unknown>;
  edit(manifest);
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
  return dir;
}

describe('Engine: the model’s own mode and window (manifest sampling.mode, sampling.context)', () => {
  const temps: string[] = [];
  afterAll(() => {
    for (const d of temps) rmSync(d, { recursive: true, force: true });
  });

  it('fills in the manifest’s mode unless the request names one', async () => {
    const fastByDefault = fixtureCopy((m) => {
      m.sampling = { ...(m.sampling as object), mode: 'fast' };
    });
    temps.push(fastByDefault);
    const text = 'It was {{4}} night.';
    const asDefault = await engine.fill(job(text, { modelDir: fastByDefault, steps: 32, seed: 5 }));
    const fast = await engine.fill(job(text, { steps: 32, seed: 5, mode: 'fast' }));
    const exact = await engine.fill(job(text, { modelDir: fastByDefault, steps: 32, seed: 5, mode: 'exact' }));
    expect(asDefault.text).toBe(fast.text);
    expect(asDefault.networkCalls).toBe(fast.networkCalls);
    expect(exact.networkCalls).toBeGreaterThan(asDefault.networkCalls);
  });

  it('reads the text through windows of the request’s context, else the manifest’s, never over the trained length', async () => {
    // Two blanks about 60 tokens apart: one window at the fixture's 128 tokens, two at 32.
    const middle = ' and the sea was calm that day'.repeat(8);
    const text = `Once {{3}} there${middle} the keeper {{3}} the lamp.`;
    const whole = await engine.fill(job(text, { steps: 2, seed: 1 }));
    expect(whole.windows).toBe(1);
    const narrow = await engine.fill(job(text, { steps: 2, seed: 1, context: 32 }));
    expect(narrow.windows).toBe(2);
    const narrowByDefault = fixtureCopy((m) => {
      m.sampling = { ...(m.sampling as object), context: 32 };
    });
    temps.push(narrowByDefault);
    expect((await engine.fill(job(text, { modelDir: narrowByDefault, steps: 2, seed: 1 }))).windows).toBe(2);
    // more than the trained length is the trained length
    expect((await engine.fill(job(text, { steps: 2, seed: 1, context: 4096 }))).windows).toBe(1);
  });
});

describe('Engine with the general sampler (predictor.ts samplePc)', () => {
  const temps: string[] = [];
  afterAll(() => {
    for (const d of temps) rmSync(d, { recursive: true, force: true });
  });

  it('fills with a uniform-graph model: every blank filled, deterministic per seed, the known text byte for byte', async () => {
    const text = 'The cat ____ on the mat. It was {{4}}.';
    const progress: FillProgressInfo[] = [];
    const a = await engine.fill(job(text, { modelDir: UNIFORM_DIR, steps: 5, seed: 11 }), (p) => progress.push(p));
    const b = await engine.fill(job(text, { modelDir: UNIFORM_DIR, steps: 5, seed: 11 }));
    const c = await engine.fill(job(text, { modelDir: UNIFORM_DIR, steps: 5, seed: 12 }));
    expect(a.fills).toHaveLength(2);
    for (const f of a.fills) expect(f.length).toBeGreaterThan(0);
    expect(a.text).toBe(`The cat ${a.fills[0]} on the mat. It was ${a.fills[1]}.`);
    expect(b.alternatives).toEqual(a.alternatives);
    expect(c.text).not.toBe(a.text);
    // The uniform graph calls the network on every step plus the denoise.
    expect(a.networkCalls).toBe(6);
    // Progress: one event per step; every blank position counts as not final until the last step,
    // which lists them all with their final tokens.
    const total = 16 + 4;
    expect(progress.map((p) => p.step)).toEqual([1, 2, 3, 4, 5]);
    expect(progress.slice(0, 4).every((p) => p.masked === total && p.unmasked.length === 0)).toBe(true);
    const last = progress.at(-1)!;
    expect(last.masked).toBe(0);
    expect(last.unmasked).toHaveLength(total);
    const blank1 = last.unmasked.filter((u) => u.blank === 1).sort((x, y) => x.index - y.index);
    expect(blank1.map((u) => u.index)).toEqual([0, 1, 2, 3]);
    expect(new Set(last.unmasked.map((u) => `${u.alternative}/${u.blank}/${u.index}`)).size).toBe(total);
    for (const u of last.unmasked) expect(u.token >= 0 && u.token < 511).toBe(true);
  });

  it('samples uniform alternatives as one batch, alternative 0 being the plain fill, and reads long documents through windows', async () => {
    const text = 'She opened the {{5}} and saw {{3}}.';
    const three = await engine.fill(job(text, { modelDir: UNIFORM_DIR, steps: 3, seed: 21, alternatives: 3 }));
    const one = await engine.fill(job(text, { modelDir: UNIFORM_DIR, steps: 3, seed: 21 }));
    expect(three.alternatives).toHaveLength(3);
    expect(one.alternatives).toEqual([three.alternatives[0]]);
    expect(new Set(three.alternatives.map((x) => x.text)).size).toBe(3);
    expect(three.networkCalls).toBe(4);

    const filler = (tag: string): string => `${tag}: the quick brown fox jumps over the lazy dog. `.repeat(12);
    const long = 'a ____ ' + filler('x') + filler('y') + ' b {{3}} ' + filler('z');
    const progress: FillProgressInfo[] = [];
    const out = await engine.fill(job(long, { modelDir: UNIFORM_DIR, steps: 2, seed: 4 }), (p) => progress.push(p));
    expect(out.windows).toBe(2);
    expect(out.text).toBe('a ' + out.fills[0]! + ' ' + filler('x') + filler('y') + ' b ' + out.fills[1]! + ' ' + filler('z'));
    expect(progress.map((p) => p.masked)).toEqual([16 + 3, 3, 3, 0]);
    expect(progress.flatMap((p) => p.unmasked)).toHaveLength(16 + 3);
  });

  it('fills with an absorbing model whose manifest asks for the Euler predictor, deterministically', async () => {
    const dir = fixtureCopy((m) => (m.sampling = { default_steps: 6, sampler: 'euler' }));
    temps.push(dir);
    const text = 'Once upon a time {{16}} and then {{6}} happily.';
    const progress: FillProgressInfo[] = [];
    const a = await engine.fill(job(text, { modelDir: dir, seed: 99, alternatives: 2 }), (p) => progress.push(p));
    const b = await engine.fill(job(text, { modelDir: dir, seed: 99, alternatives: 2 }));
    expect(a.steps).toBe(6);
    expect(b.alternatives).toEqual(a.alternatives);
    for (const alt of a.alternatives) {
      expect(alt.text).toBe(`Once upon a time ${alt.fills[0]} and then ${alt.fills[1]} happily.`);
      for (const f of alt.fills) expect(f.length).toBeGreaterThan(0);
    }
    expect(a.networkCalls).toBeLessThanOrEqual(7 + RANK_DRAWS);
    expect(progress.map((p) => p.step)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(progress.at(-1)!.masked).toBe(0);
    // Every (alternative, blank, index) leaves MASK exactly once, and `masked` counts down with them.
    const keys = progress.flatMap((p) => p.unmasked.map((u) => `${u.alternative}/${u.blank}/${u.index}`));
    expect(keys).toHaveLength(2 * 22);
    expect(new Set(keys).size).toBe(2 * 22);
    let left = 2 * 22;
    for (const p of progress) {
      left -= p.unmasked.length;
      expect(p.masked).toBe(left);
    }
  });

  it('cancels a general-sampler fill between steps, and refuses an unknown sampler name as model_error', async () => {
    const j = job('{{40}}', { modelDir: UNIFORM_DIR, steps: 200, seed: 1 });
    const steps: number[] = [];
    const p = engine.fill(j, (info) => {
      steps.push(info.step);
      if (info.step === 2) engine.cancel(j.requestId);
    });
    expect((await rejection(p)).code).toBe('cancelled');
    expect(steps).toEqual([1, 2]);
    const dir = fixtureCopy((m) => (m.sampling = { sampler: 'ancestral' }));
    temps.push(dir);
    const e = await rejection(engine.fill(job('a ____', { modelDir: dir })));
    expect(e.code).toBe('model_error');
    expect(e.message).toMatch(/unknown sampler "ancestral"/);
  });
});

describe('Engine.score (the ELBO bound on the cached network)', () => {
  const text = 'The lighthouse keeper — naïve, 日本 — had not spoken.';

  it('agrees with likelihood.ts scoreText for the same seed and is deterministic', async () => {
    const a = await engine.score({ requestId: `s${n++}`, text, modelDir: FIXTURE_DIR, draws: 3, seed: 5 });
    const b = await engine.score({ requestId: `s${n++}`, text, modelDir: FIXTURE_DIR, draws: 3, seed: 5 });
    expect(b.nll).toBe(a.nll);
    expect(b.perToken).toEqual(a.perToken);
    const ref = await scoreText(FIXTURE_DIR, text, { draws: 3, seed: 5 });
    expect(a.tokens).toBe(ref.tokens);
    expect(a.nll).toBeCloseTo(ref.nll, 3); // same draws; only onnxruntime's thread count differs
    expect(a.perToken.map((t) => [t.start, t.end])).toEqual(ref.perToken.map((t) => [t.start, t.end]));
    expect(a).toMatchObject({ draws: 3, seed: 5, windows: 1, device: 'cpu' });
    expect(a.networkCalls).toBeLessThanOrEqual(3);
    const drawn = await engine.score({ requestId: `s${n++}`, text, modelDir: FIXTURE_DIR, draws: 1 });
    expect(Number.isInteger(drawn.seed) && drawn.seed >= 0 && drawn.seed < 2 ** 32).toBe(true);
  });

  it('rejects bad requests and models it cannot bound', async () => {
    const s = (extra: Partial<ScoreJob>): Promise<unknown> => engine.score({ requestId: `s${n++}`, text, modelDir: FIXTURE_DIR, ...extra });
    expect((await rejection(s({ draws: 0 }))).code).toBe('bad_request');
    expect((await rejection(s({ draws: 2000 }))).code).toBe('bad_request');
    expect((await rejection(s({ seed: -1 }))).code).toBe('bad_request');
    expect((await rejection(s({ text: '' }))).code).toBe('bad_request');
    const u = await rejection(s({ modelDir: UNIFORM_DIR, draws: 1 }));
    expect(u.code).toBe('model_error');
    expect(u.message).toMatch(/log-linear noise only/);
  });

  it('never disposes a network a job is using when the same model is asked for on another device', async () => {
    // fill on 'cpu' and warm-ups on 'auto' load the model under two keys; each load evicts the other.
    for (let round = 0; round < 6; round++) {
      const jobs = [
        engine.fill(job('x ____ y', { steps: 6, seed: round, device: 'cpu' })),
        engine.warm({ requestId: `w${n++}`, modelDir: FIXTURE_DIR }),
        engine.fill(job('a ____ b', { steps: 6, seed: round + 10 })),
        engine.warm({ requestId: `w${n++}`, modelDir: FIXTURE_DIR, device: 'cpu' }),
      ];
      const settled = await Promise.allSettled(jobs);
      expect(settled.map((r) => (r.status === 'rejected' ? String((r.reason as Error).message) : 'ok'))).toEqual(['ok', 'ok', 'ok', 'ok']);
    }
  });

  it('lets a fill asked for during a long score go first, between two of its network calls', async () => {
    const network = (await engine.load(FIXTURE_DIR)).network;
    const original = network.scoreBatch.bind(network);
    let calls = 0;
    const order: string[] = [];
    let fills: Promise<unknown>[] = [];
    let callsAtFill = -1;
    network.scoreBatch = (tokens, sigma, batch) => {
      calls++;
      if (calls === 3) {
        // Two fills arrive while the score runs: both finish before the score's next draw.
        fills = [1, 2].map((k) =>
          engine.fill(job('x ____', { steps: 2, seed: k })).then(() => {
            order.push(`fill ${k}`);
            callsAtFill = calls;
          }),
        );
      }
      return original(tokens, sigma, batch);
    };
    try {
      const score = engine.score({ requestId: `s${n++}`, text, modelDir: FIXTURE_DIR, draws: 12, seed: 4 }).then((r) => {
        order.push('score');
        return r;
      });
      const result = await score;
      await Promise.all(fills);
      expect(order).toEqual(['fill 1', 'fill 2', 'score']);
      // The fills ran after the score's third network call and before its last one; their own
      // network calls went through the same counter.
      expect(callsAtFill).toBeGreaterThan(3);
      expect(result.draws).toBe(12);
      // The score is the same as one that ran alone (the fills did not disturb its draws).
      network.scoreBatch = original;
      const alone = await engine.score({ requestId: `s${n++}`, text, modelDir: FIXTURE_DIR, draws: 12, seed: 4 });
      expect(result.nll).toBe(alone.nll);
    } finally {
      network.scoreBatch = original;
    }
  });

  it('is cancelled between draws by cancel(requestId) or an aborted signal, and queues behind fills', async () => {
    // Count the network calls of the cached model (the engine reuses it for fills and scores).
    const network = (await engine.load(FIXTURE_DIR)).network;
    const original = network.scoreBatch.bind(network);
    let calls = 0;
    let onCall: (() => void) | undefined;
    network.scoreBatch = (tokens, sigma, batch) => {
      calls++;
      onCall?.();
      return original(tokens, sigma, batch);
    };
    try {
      const id = `s${n++}`;
      const order: string[] = [];
      const fill = engine.fill(job('x ____', { steps: 3 })).then(() => order.push('fill'));
      const p = engine.score({ requestId: id, text, modelDir: FIXTURE_DIR, draws: 50, seed: 1 }).finally(() => order.push('score'));
      await fill;
      calls = 0;
      onCall = () => {
        if (calls === 2) engine.cancel(id);
      };
      expect((await rejection(p)).code).toBe('cancelled');
      expect(calls).toBe(2); // stopped right after the draw in flight
      expect(order).toEqual(['fill', 'score']);
      const ac = new AbortController();
      calls = 0;
      onCall = () => {
        if (calls === 3) ac.abort();
      };
      expect((await rejection(engine.score({ requestId: `s${n++}`, text, modelDir: FIXTURE_DIR, draws: 50, seed: 1 }, ac.signal))).code).toBe('cancelled');
      expect(calls).toBe(3);
    } finally {
      network.scoreBatch = original;
    }
    const aborted = new AbortController();
    aborted.abort();
    expect((await rejection(engine.score({ requestId: `s${n++}`, text, modelDir: FIXTURE_DIR }, aborted.signal))).code).toBe('cancelled');
    // The engine keeps working afterwards.
    expect((await engine.score({ requestId: `s${n++}`, text, modelDir: FIXTURE_DIR, draws: 1, seed: 2 })).draws).toBe(1);
  });
});

describe('engine model cache', () => {
  it('reuses a loaded package until its manifest changes, then loads it afresh', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lacuna-reload-'));
    try {
      for (const f of ['manifest.json', 'model.onnx', 'tokenizer.json']) copyFileSync(join(FIXTURE_DIR, f), join(dir, f));
      const engine = new Engine({ threads: 1 });
      try {
        const a = await engine.load(dir);
        expect(await engine.load(dir)).toBe(a);
        const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { description: string };
        manifest.description = 'replaced in place';
        writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
        const b = await engine.load(dir);
        expect(b).not.toBe(a);
        expect(b.pkg.manifest.description).toBe('replaced in place');
        expect(await engine.load(dir)).toBe(b);
        // the replaced package still fills
        const r = await engine.fill({ requestId: 'reload', text: 'x ____ y', modelDir: dir, steps: 2, seed: 3 });
        expect(r.fills).toHaveLength(1);
      } finally {
        await engine.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('device per job', () => {
  it('runs where the job asks, falls back with the reason, and refuses an unknown device', async () => {
    const { listDevices } = await import('./runtime/providers');
    const engine = new Engine({ threads: 1 });
    try {
      const cpu = await engine.fill({ requestId: 'dev-cpu', text: 'x ____ y', modelDir: FIXTURE_DIR, steps: 3, seed: 9, device: 'cpu' });
      expect(cpu.device).toBe('cpu');
      expect(cpu.deviceNotes).toEqual([]);
      const cuda = (await listDevices()).find((d) => d.id === 'cuda');
      const asked = await engine.fill({ requestId: 'dev-cuda', text: 'x ____ y', modelDir: FIXTURE_DIR, steps: 3, seed: 9, device: 'cuda' });
      if (cuda?.available) {
        expect(asked.device).toBe('cuda');
      } else {
        // No CUDA here: the CPU runs it, with CUDA's reason, and the fill is the CPU's.
        expect(asked.device).toBe('cpu');
        expect(asked.deviceNotes.some((n) => n.startsWith('cuda: '))).toBe(true);
        expect(asked.text).toBe(cpu.text);
      }
      const bad = await rejection(engine.fill({ requestId: 'dev-bad', text: 'x ____ y', modelDir: FIXTURE_DIR, device: 'gpu' as never }));
      expect([bad.code, bad.message]).toEqual(['bad_request', 'device must be one of auto, cpu, cuda, dml, coreml, webgpu, remote, got "gpu"']);
    } finally {
      await engine.close();
    }
  });
});

describe('temperature', () => {
  const temps: string[] = [];
  afterAll(() => {
    for (const d of temps) rmSync(d, { recursive: true, force: true });
  });
  const text = 'Once upon a time ____ and then {{6}} happily.';

  it('samples at the requested temperature on both absorbing paths, reproducibly per seed', async () => {
    const reference = new Engine({ threads: 1, sampling: 'reference' });
    try {
      for (const eng of [engine, reference]) {
        const a = await eng.fill(job(text, { seed: 5, steps: 12, temperature: 0.5, alternatives: 2 }));
        const b = await eng.fill(job(text, { seed: 5, steps: 12, temperature: 0.5, alternatives: 2 }));
        const plain = await eng.fill(job(text, { seed: 5, steps: 12, alternatives: 2 }));
        expect(a.temperature).toBe(0.5);
        expect(plain.temperature).toBe(1);
        expect(b.alternatives).toEqual(a.alternatives);
        expect(a.alternatives).not.toEqual(plain.alternatives);
        for (const alt of a.alternatives) expect(alt.text).toBe(`Once upon a time ${alt.fills[0]} and then ${alt.fills[1]} happily.`);
      }
    } finally {
      await reference.close();
    }
  });

  it("uses the manifest's recommended temperature unless the request names one", async () => {
    const dir = fixtureCopy((m) => (m.sampling = { default_steps: 8, temperature: 0.7 }));
    temps.push(dir);
    const byDefault = await engine.fill(job(text, { modelDir: dir, seed: 3 }));
    const asked = await engine.fill(job(text, { modelDir: dir, seed: 3, temperature: 0.7 }));
    const one = await engine.fill(job(text, { modelDir: dir, seed: 3, temperature: 1 }));
    expect(byDefault.temperature).toBe(0.7);
    expect(asked.alternatives).toEqual(byDefault.alternatives);
    expect(one.temperature).toBe(1);
  });

  it('refuses a temperature out of range, and any temperature but 1 for a model whose sampler takes none', async () => {
    for (const t of [0.05, 2.5, Number.NaN, '0.5' as unknown as number]) {
      const e = await rejection(engine.fill(job(text, { temperature: t })));
      expect(e.code).toBe('bad_request');
      expect(e.message).toMatch(/temperature must be a number from 0.1 to 2/);
    }
    const uniform = await rejection(engine.fill(job(text, { modelDir: UNIFORM_DIR, temperature: 0.5 })));
    expect(uniform.code).toBe('bad_request');
    expect(uniform.message).toMatch(/take no temperature/);
    expect((await engine.fill(job(text, { modelDir: UNIFORM_DIR, temperature: 1, steps: 2 }))).temperature).toBe(1);
  });
});

describe('token choice: top-p and unmasking order', () => {
  const temps: string[] = [];
  afterAll(() => {
    for (const d of temps) rmSync(d, { recursive: true, force: true });
  });
  const text = 'Once upon a time {{8}} and then {{6}} happily.';

  it('samples with the requested top-p and order on both absorbing paths, reproducibly, and says what it used', async () => {
    const reference = new Engine({ threads: 1, sampling: 'reference' });
    try {
      for (const eng of [engine, reference]) {
        const plain = await eng.fill(job(text, { seed: 9, steps: 8, alternatives: 2 }));
        expect([plain.topP, plain.unmasking]).toEqual([1, 'random']);
        for (const settings of [{ topP: 0.5 }, { unmasking: 'confident' as const }, { topP: 0.9, unmasking: 'confident' as const, temperature: 0.7 }]) {
          const a = await eng.fill(job(text, { seed: 9, steps: 8, alternatives: 2, ...settings }));
          const b = await eng.fill(job(text, { seed: 9, steps: 8, alternatives: 2, ...settings }));
          expect(b.alternatives).toEqual(a.alternatives);
          expect(a.alternatives.map((x) => x.text)).not.toEqual(plain.alternatives.map((x) => x.text));
          expect(a).toMatchObject({ topP: settings.topP ?? 1, unmasking: settings.unmasking ?? 'random' });
          for (const alt of a.alternatives) expect(alt.text).toBe(`Once upon a time ${alt.fills[0]} and then ${alt.fills[1]} happily.`);
        }
      }
    } finally {
      await reference.close();
    }
  });

  it("uses the manifest's top-p and order unless the request names them, and refuses them for a model whose sampler takes none", async () => {
    const dir = fixtureCopy((m) => (m.sampling = { default_steps: 8, top_p: 0.8, unmasking: 'confident' }));
    temps.push(dir);
    const byDefault = await engine.fill(job(text, { modelDir: dir, seed: 4 }));
    const asked = await engine.fill(job(text, { modelDir: dir, seed: 4, topP: 0.8, unmasking: 'confident' }));
    expect([byDefault.topP, byDefault.unmasking]).toEqual([0.8, 'confident']);
    expect(asked.alternatives).toEqual(byDefault.alternatives);
    const plain = await engine.fill(job(text, { modelDir: dir, seed: 4, topP: 1, unmasking: 'random' }));
    expect([plain.topP, plain.unmasking]).toEqual([1, 'random']);
    for (const [bad, message] of [
      [{ topP: 0 }, /topP must be a number from 0.05 to 1/],
      [{ topP: 1.5 }, /topP must be a number from 0.05 to 1/],
      [{ topP: '0.9' as unknown as number }, /topP must be a number/],
      [{ unmasking: 'surest' as 'random' }, /unmasking must be one of random, confident/],
      [{ lengthBias: 2 }, /lengthBias must be a number from -1 to 1/],
      [{ lengthBias: Number.NaN }, /lengthBias must be a number/],
    ] as const) {
      const e = await rejection(engine.fill(job(text, bad)));
      expect([e.code, e.message]).toEqual(['bad_request', expect.stringMatching(message)]);
    }
    const uniform = await rejection(engine.fill(job(text, { modelDir: UNIFORM_DIR, unmasking: 'confident' })));
    expect([uniform.code, uniform.message]).toEqual(['bad_request', expect.stringMatching(/take no temperature, top-p or unmasking order/)]);
    const broken = fixtureCopy((m) => (m.sampling = { default_steps: 8, top_p: 3 }));
    temps.push(broken);
    expect((await rejection(engine.fill(job(text, { modelDir: broken })))).code).toBe('model_error');
  });
});

describe('joins through the engine', () => {
  it('keeps every alternative clean at its edges: no glued or doubled word, no space before punctuation, no line break in a sentence', async () => {
    const cases = [
      ['The keeper and ', '____', ' went inside, and the door closed.'],
      ['She ', '{{5}}', 'climbed the hill.'],
      ['It was late', '{{4}}', ', and the lamps were lit.'],
      ['He said', '____', '.'],
    ] as const;
    for (const [left, blank, right] of cases) {
      for (const seed of [1, 2, 3]) {
        const out = await engine.fill(job(`${left}${blank}${right}`, { seed, steps: 8, alternatives: 4 }));
        for (const alt of out.alternatives) {
          const fill = alt.fills[0]!;
          // Text after the blank that starts a word gets a space, written as the fill's last character.
          expect(alt.text, JSON.stringify(fill)).toBe(`${left}${fill}${right}`);
          if (/^\w/.test(right)) expect(fill).toMatch(/\S $/);
          expect(fill).not.toMatch(/[\n\r\t]/);
          expect(alt.text).not.toMatch(/\s[,.;:!?]|[ \t]{2}/);
          if (/\w$/.test(left)) expect(fill).toMatch(/^\W/); // no word glued onto "late" / "said"
          expect(fill.length).toBeGreaterThan(0);
        }
      }
    }
  });

  it('a continuation starts with a space or a new paragraph, never an empty line', async () => {
    for (const seed of [1, 2, 3, 4]) {
      const out = await engine.fill(job('The rain stopped at last.____', { seed, steps: 8, alternatives: 4 }));
      for (const alt of out.alternatives) {
        const fill = alt.fills[0]!;
        expect(fill, JSON.stringify(fill)).toMatch(/^( \S|\n\n?\S)/);
        expect(fill).not.toMatch(/\n[ \t]*\n[ \t]*\n/);
      }
    }
  });
});

describe('auto length', () => {
  it('tries 4, 8, 16 and 32 tokens on a model that reads that many, within its window otherwise', () => {
    expect(autoLengths(1024)).toEqual([4, 8, 16, 32]);
    expect(autoLengths(20)).toEqual([4, 8, 16]);
    expect(autoLengths(3)).toEqual([3]);
  });

  it('scores a length by its bound per token, pulled by the bias a quarter nat per doubling', () => {
    expect(lengthScore(3, 16, 1)).toBe(3);
    expect(lengthScore(3, 32, 1)).toBeCloseTo(2.75, 12);
    expect(lengthScore(3, 4, 1)).toBeCloseTo(3.5, 12);
    expect(lengthScore(3, 4, -1)).toBeCloseTo(2.5, 12);
    expect(lengthScore(3, 32, 0)).toBe(3);
  });

  it('samples each length, reports each attempt in progress, and keeps the length the model finds most natural per blank', async () => {
    const text = 'The storm passed ____ and the boats went out {{3}} before dawn.';
    const progress: FillProgressInfo[] = [];
    const out = await engine.fill(job(text, { seed: 11, steps: 6, alternatives: 3 }), (p) => progress.push(p));
    // One attempt per length: progress names the lengths of the attempt its tokens belong to.
    const attempts = [...new Set(progress.map((p) => JSON.stringify(p.lengths)))];
    expect(attempts).toEqual(['[4,3]', '[8,3]', '[16,3]', '[32,3]']);
    expect(progress.map((p) => p.step)).toEqual(Array.from({ length: 24 }, (_, k) => k + 1));
    expect(progress.at(-1)!.masked).toBe(0);
    expect(progress.every((p) => p.steps === 24)).toBe(true);
    // Every token of every attempt once.
    expect(progress.flatMap((p) => p.unmasked)).toHaveLength(3 * (4 + 8 + 16 + 32 + 4 * 3));
    for (const alt of out.alternatives) {
      expect([4, 8, 16, 32]).toContain(alt.lengths![0]);
      expect(alt.lengths![1]).toBe(3);
      expect(alt.text).toBe(`The storm passed ${alt.fills[0]} and the boats went out ${alt.fills[1]} before dawn.`);
      expect(Number.isFinite(alt.nll)).toBe(true);
    }
    expect(out.alternatives.map((a) => a.nll!)).toEqual(out.alternatives.map((a) => a.nll!).sort((a, b) => a - b));
    // Sampling (4 × 6 steps) plus the ranking's draws (one batch per attempt and draw).
    expect(out.networkCalls).toBeLessThanOrEqual(4 * 7 + 4 * RANK_DRAWS);
    const again = await engine.fill(job(text, { seed: 11, steps: 6, alternatives: 3 }));
    expect(again.alternatives).toEqual(out.alternatives);
  });

  it("follows the writer's bias toward short or long fills", async () => {
    const text = 'The old house at the end of the lane ____';
    const chosen = async (lengthBias: number): Promise<number[]> => {
      const lengths: number[] = [];
      for (const seed of [1, 2, 3, 4]) {
        const out = await engine.fill(job(text, { seed, steps: 4, alternatives: 2, lengthBias }));
        lengths.push(...out.alternatives.map((a) => a.lengths![0]!));
      }
      return lengths;
    };
    const short = await chosen(-1);
    const long = await chosen(1);
    const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
    expect(sum(long)).toBeGreaterThan(sum(short));
    expect(Math.max(...short)).toBeLessThan(32);
    expect(Math.min(...long)).toBeGreaterThan(4);
  });

  it('a model without a likelihood bound fills an auto blank at the typical length, unranked', async () => {
    const out = await engine.fill(job('It began ____ and ended.', { modelDir: UNIFORM_DIR, seed: 3, steps: 4, alternatives: 2 }));
    expect(out.alternatives.map((a) => a.lengths)).toEqual([[16], [16]]);
    expect(out.alternatives.every((a) => a.nll === undefined)).toBe(true);
  });
});
