import { describe, expect, it } from 'vitest';
import { Random } from './random';

describe('Random (xoshiro128**)', () => {
  it('matches the reference C implementation', () => {
    // Outputs of Blackman & Vigna's xoshiro128starstar.c from state {1, 2, 3, 4}.
    const r = Random.fromState([1, 2, 3, 4]);
    expect(Array.from({ length: 8 }, () => r.nextUint32())).toEqual([11520, 0, 5927040, 70819200, 2031721883, 1637235492, 1287239034, 3734860849]);
  });

  it('gives the same stream for the same seed on every platform', () => {
    // Pinned values: a change here changes every seeded fill a user has made.
    const r = new Random(42);
    expect(Array.from({ length: 4 }, () => r.nextUint32())).toEqual(PINNED_SEED_42);
    const a = new Random(123456789);
    const b = new Random(123456789);
    for (let i = 0; i < 1000; i++) expect(a.uniform()).toBe(b.uniform());
  });

  it('gives different streams for different seeds, including seeds 0 and 2^32 − 1', () => {
    const first = (seed: number): number[] => {
      const r = new Random(seed);
      return Array.from({ length: 4 }, () => r.nextUint32());
    };
    expect(first(0)).not.toEqual(first(1));
    expect(first(2 ** 32 - 1)).not.toEqual(first(0));
    expect(first(2 ** 32)).toEqual(first(0)); // only the low 32 bits count
  });

  it('draws uniforms in [0, 1) and Exp(1) with the right moments', () => {
    const r = new Random(2024);
    const n = 200_000;
    let su = 0;
    let se = 0;
    let se2 = 0;
    let min = 1;
    let max = 0;
    let minE = Infinity;
    for (let i = 0; i < n; i++) {
      const u = r.uniform();
      min = Math.min(min, u);
      max = Math.max(max, u);
      su += u;
      const e = r.exponential();
      minE = Math.min(minE, e);
      se += e;
      se2 += e * e;
    }
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThan(1);
    expect(minE).toBeGreaterThanOrEqual(0);
    // Means within ~6 standard errors.
    expect(Math.abs(su / n - 0.5)).toBeLessThan(6 * Math.sqrt(1 / 12 / n));
    expect(Math.abs(se / n - 1)).toBeLessThan(6 * Math.sqrt(1 / n));
    expect(Math.abs(se2 / n - 2)).toBeLessThan(6 * Math.sqrt(20 / n));
  });
});

// Also computed by a C program (SplitMix32 seeding + the reference xoshiro128**).
const PINNED_SEED_42 = [2837322924, 544945897, 479756282, 3500138142];
