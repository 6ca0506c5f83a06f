import { describe, expect, it } from 'vitest';
import { AbsorbingGraph } from './graph';
import { GeometricNoise, LogLinearNoise, noiseFromSpec } from './noise';
import { Random } from '../random';

describe('noise schedules', () => {
  it('log-linear: P(masked) = 1 − e^{−σ̄(t)} = (1−ε)t, and σ̄′ is the derivative of σ̄', () => {
    const n = new LogLinearNoise(1e-3);
    for (const t of [1e-5, 0.1, 0.5, 0.9, 1]) expect(-Math.expm1(-n.total(t))).toBeCloseTo((1 - 1e-3) * t, 12);
    for (const t of [0.1, 0.5, 0.9, 0.999]) {
      const h = 1e-7;
      const numeric = (n.total(t + h) - n.total(t - h)) / (2 * h);
      expect(n.rate(t) / numeric).toBeCloseTo(1, 5);
    }
    expect(n.total(1)).toBeCloseTo(-Math.log(1e-3), 12);
  });

  it('geometric: σ̄ runs from σmin to σmax, σ̄′ = σ̄·ln(σmax/σmin)', () => {
    const n = new GeometricNoise(1e-4, 20);
    expect(n.total(0)).toBeCloseTo(1e-4, 15);
    expect(n.total(1)).toBeCloseTo(20, 10);
    const t = 0.37;
    const h = 1e-6;
    expect(n.rate(t)).toBeCloseTo((n.total(t + h) - n.total(t - h)) / (2 * h), 4);
  });

  it('builds from a manifest entry and rejects bad parameters', () => {
    expect(noiseFromSpec({ type: 'loglinear', eps: 0.01 })).toBeInstanceOf(LogLinearNoise);
    expect(noiseFromSpec({ type: 'geometric', sigma_min: 1e-4, sigma_max: 20 })).toBeInstanceOf(GeometricNoise);
    expect(() => new LogLinearNoise(0)).toThrow(RangeError);
    expect(() => new GeometricNoise(1, 0.5)).toThrow(RangeError);
  });
});

describe('AbsorbingGraph', () => {
  const V = 9;
  const g = new AbsorbingGraph(V);

  it('transposed transition: from MASK anything is possible, from a token only itself', () => {
    const ds = 0.7;
    const fromMask = g.transpTransition(g.mask, ds);
    expect(fromMask[g.mask]).toBeCloseTo(1, 15);
    expect(fromMask[0]).toBeCloseTo(1 - Math.exp(-ds), 15);
    const fromToken = g.transpTransition(3, ds);
    expect(Array.from(fromToken)).toEqual(Array.from({ length: V }, (_, j) => (j === 3 ? Math.exp(-ds) : 0)));
  });

  it('the closed form at a masked position equals staggeredScore ⊙ transpTransition', () => {
    const rng = new Random(5);
    for (let trial = 0; trial < 200; trial++) {
      const row = new Float32Array(V);
      for (let j = 0; j < V; j++) row[j] = (rng.uniform() - 0.5) * 12;
      if (trial % 2 === 0) row[g.mask] = 0; // as the network writes it at the input token
      const ds = [1e-6, 1e-3, 0.05, 0.5, 3][trial % 5]!;
      const s = Array.from(row, Math.exp);
      const stag = g.staggeredScore(s, ds);
      const tr = g.transpTransition(g.mask, ds);
      const p = stag.map((v, j) => v * tr[j]!);
      const { logK, pMask } = g.maskedStep(row, ds);
      for (let j = 0; j < V - 1; j++) {
        expect(Math.exp(row[j]! + logK) / p[j]!).toBeCloseTo(1, 10);
      }
      expect(pMask).toBeCloseTo(p[g.mask]!, 9);
    }
  });

  it('with s_MASK = 1 the step probabilities sum to one', () => {
    const row = Float32Array.from([-3, -2, -4, -3.5, -2.5, -3, -2.2, -4.1, 0]);
    const { logK, pMask } = g.maskedStep(row, 0.01);
    let total = pMask;
    for (let j = 0; j < V - 1; j++) total += Math.exp(row[j]! + logK);
    expect(total).toBeCloseTo(1, 12);
  });

  it('is the log-linear closed form of sedd.md: unmask to j with probability c_j·(t − s)/t', () => {
    // With scale_by_sigma the network's output is raw − log(e^σ̄(t) − 1) − log(V − 1).
    const noise = new LogLinearNoise(1e-3);
    const [t, s] = [0.6, 0.45];
    const raw = Float32Array.from([0.3, -1, 2, 0.1, -0.4, 1.2, 0, -2, 0]);
    const shift = Math.log(Math.expm1(noise.total(t))) + Math.log(V - 1);
    const row = raw.map((r, j) => (j === g.mask ? 0 : r - shift));
    const { logK } = g.maskedStep(row, noise.total(t) - noise.total(s));
    for (let j = 0; j < V - 1; j++) {
      const c = Math.exp(raw[j]! - Math.log(V - 1));
      expect(Math.exp(row[j]! + logK)).toBeCloseTo((c * (t - s)) / t, 5);
    }
  });

  it('does not overflow on large log scores', () => {
    const row = new Float32Array(V).fill(800);
    row[g.mask] = 0;
    const { logK, pMask } = g.maskedStep(row, 0.1);
    expect(Number.isFinite(logK)).toBe(true);
    expect(pMask).toBe(-Infinity);
  });
});
