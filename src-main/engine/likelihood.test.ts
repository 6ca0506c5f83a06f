import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AbsorbingGraph } from './sampling/graph';
import { binomTail, boundDraw, elboBound, scoreEntropyTerms, scoreText, tokenSpans } from './likelihood';
import { LogLinearNoise } from './sampling/noise';
import { Random } from './random';
import { ScoreModel } from './runtime/score-model';
import { FIXTURE_DIR, fixtureFile, fixtureJson } from './test-fixture';
import { Tokenizer } from './model/tokenizer';

interface LikelihoodGoldens {
  likelihood: { noise: { eps: number }; cases: { name: string; tokens: number[]; t: number; masked: number[]; value: number }[] };
}
const golden = fixtureJson<LikelihoodGoldens>('sampling-goldens.json').likelihood;
const V = 512;

describe('ELBO bound', () => {
  let model: ScoreModel;
  beforeAll(async () => {
    model = await ScoreModel.load(fixtureFile('model.onnx'), V);
  });
  afterAll(async () => {
    await model.release();
  });

  it.each(golden.cases.map((c) => [c.name, c] as const))('agrees with models/train (trainlib.sedd_loss) for fixed t and mask: %s', async (_n, c) => {
    const noise = new LogLinearNoise(golden.noise.eps);
    const masked = new Uint8Array(c.tokens.length);
    for (const i of c.masked) masked[i] = 1;
    const xt = Int32Array.from(c.tokens, (v, i) => (masked[i] ? V - 1 : v));
    const sigma = noise.total(c.t);
    const out = await model.score(xt, sigma);
    const terms = scoreEntropyTerms(out, c.tokens, masked, V, sigma, noise.rate(c.t));
    const value = terms.reduce((a, b) => a + b, 0);
    const rel = Math.abs(value - c.value) / Math.abs(c.value);
    if (process.env.LACUNA_PRINT_AGREEMENT) console.log(`${c.name}: TS ${value} Python ${c.value} relative ${rel.toExponential(2)}`);
    expect(rel).toBeLessThan(1e-4);
  });

  it('binomial tail and the k-estimator draw are well formed', () => {
    const tail = binomTail(10, 0.999);
    expect(tail[0]).toBeCloseTo(1, 12);
    expect(tail[10]).toBeCloseTo(0.999 ** 10, 12);
    const rng = new Random(1);
    for (let d = 0; d < 50; d++) {
      const { t, masked, weight } = boundDraw(10, rng, 'k', 1e-3, tail);
      const k = masked.reduce((a, b) => a + b, 0);
      expect(k).toBeGreaterThanOrEqual(1);
      expect(t).toBeGreaterThan(0);
      expect(t).toBeLessThanOrEqual(1);
      expect(weight).toBeCloseTo((10 / k) * tail[k]! * t, 12);
    }
  });

  it('windows long texts, is seeded, and the per-token terms sum to the bound', async () => {
    const tokens = Array.from({ length: 70 }, (_, i) => (i * 37) % 500);
    const run = (seed: number) =>
      elboBound({ tokens, graph: new AbsorbingGraph(V), noise: new LogLinearNoise(1e-3), length: 32, draws: 3, seed, score: (t, s) => model.score(t, s) });
    const a = await run(5);
    const b = await run(5);
    expect(a.nll).toBe(b.nll);
    expect(a.windows).toBe(3);
    expect(a.perToken.reduce((x, y) => x + y, 0)).toBeCloseTo(a.nll, 6);
    expect(a.stdErr).toBeGreaterThan(0);
    expect((await run(6)).nll).not.toBe(a.nll);
  });

  it('scoreText: bound, perplexity and character spans for the fixture package', async () => {
    const text = 'The lighthouse keeper — naïve, 日本 — had not spoken.';
    const r = await scoreText(FIXTURE_DIR, text, { draws: 2, seed: 1 });
    expect(r.tokens).toBe(r.perToken.length);
    expect(r.perplexityBound).toBeCloseTo(Math.exp(r.nll / r.tokens), 10);
    expect(r.perToken[0]!.start).toBe(0);
    expect(r.perToken.at(-1)!.end).toBe(text.length);
    for (const s of r.perToken) expect(s.text).toBe(text.slice(s.start, s.end));
  });

  it('tokenSpans covers the text, also through split multi-byte characters', async () => {
    const tok = await Tokenizer.fromFile(fixtureFile('tokenizer.json'));
    for (const text of ['plain words here', 'emoji 🙂 and 日本語 and é', '🙂🙂']) {
      const ids = tok.encode(text);
      const spans = tokenSpans(tok, ids, text);
      expect(spans.length).toBe(ids.length);
      expect(spans[0]!.start).toBe(0);
      expect(spans.at(-1)!.end).toBe(text.length);
      for (let i = 1; i < spans.length; i++) expect(spans[i]!.start).toBeLessThanOrEqual(spans[i - 1]!.end);
    }
  });
});
