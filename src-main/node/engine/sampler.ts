/**
 * The analytic (Tweedie τ-leaping) sampler for the absorbing graph, with infilling
 * (sedd.md §3; official sampling.py: pc_sampler with AnalyticPredictor and Denoiser).
 *
 *   t_k = linspace(1, ε, steps + 1), ε = 1e-5, Δt = (1 − ε)/steps
 *   for k = 0 … steps−1:  x ← clamp(x);  x ← analytic step t_k → t_k − Δt   (dσ = σ̄(t_k) − σ̄(t_k − Δt))
 *   x ← clamp(x);  x ← denoise at t = ε (dσ = σ̄(ε), MASK dropped);  x ← clamp(x)
 *
 * The network is evaluated at σ̄(t_k) on the current x. Each step draws every position's token as
 * argmax_j p_j / E_j with E_j ~ Exp(1) (the exponential race, equivalent to the Gumbel-max trick;
 * p need not be normalised and entries with p ≤ 0 never win), computed in the log domain.
 * Sampler arithmetic is float64; only the network sees float32 σ. The grid, Δt and the order of
 * operations follow the official code and models/sedd/sampling.py, so that fed the same network
 * outputs and the same Exp(1) noise (ExpNoise) both produce the same tokens.
 *
 * Under the absorbing graph a position holding a real token keeps it with probability one
 * (Pᵀ(x, dσ) is onehot(x) up to a factor), so only masked positions need work: the draw is made
 * at masked positions only, and a step with no masked position left changes nothing, so its
 * network call is skipped. Network calls are therefore at most steps + 1.
 */
import type { AbsorbingGraph } from './graph';
import type { Noise } from './noise';
import type { Random } from './random';

/**
 * Exp(1) draws for the categorical draws. fill(call, position, out) writes out[j] = E_j for
 * j = 0 … out.length−1 at one position, where call is the step index k (0 … steps−1) or steps for
 * the final denoise, whose width is dim − 1 (MASK, the last entry, dropped).
 */
export interface ExpNoise {
  fill(call: number, position: number, out: Float64Array): void;
}

/** Exp(1) draws taken in order from a seeded stream: by step, then masked position, then entry. */
export function streamExpNoise(rng: Random): ExpNoise {
  return {
    fill(_call, _position, out) {
      for (let j = 0; j < out.length; j++) out[j] = rng.exponential();
    },
  };
}

/** Log scores for one sequence: tokens [L] at total noise sigma → Float32Array [L × dim]. */
export type ScoreFn = (tokens: Int32Array, sigma: number) => Promise<Float32Array>;

export interface AnalyticSamplerOptions {
  /** Known tokens, with MASK (dim − 1) at every position to generate. Never modified. */
  template: Int32Array;
  graph: AbsorbingGraph;
  noise: Noise;
  steps: number;
  /** Source of the Exp(1) draws, e.g. streamExpNoise(new Random(seed)). */
  exp: ExpNoise;
  score: ScoreFn;
  /** Called after step k = 1 … steps with the number of positions still masked; the call for
   * k = steps comes after the final denoising step (masked = 0). */
  onStep?: (step: number, masked: number) => void;
  /** Called with x after the update of call k = 0 … steps−1 and after the final denoise (call = steps), as the reference's on_step. */
  onUpdate?: (call: number, x: Readonly<Int32Array>) => void;
  /** Called at the start of every step and after every network evaluation; throw to stop (e.g. ApiError('cancelled')). */
  checkpoint?: () => void;
  /** Final time ε of the grid. */
  eps?: number;
}

export interface SampleResult {
  tokens: Int32Array;
  networkCalls: number;
}

export const SAMPLING_EPS = 1e-5;

export async function sampleAnalyticAbsorbing(o: AnalyticSamplerOptions): Promise<SampleResult> {
  const { template, graph, noise, steps } = o;
  const eps = o.eps ?? SAMPLING_EPS;
  if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`steps must be a positive integer, got ${steps}`);
  const V = graph.dim;
  const L = template.length;
  for (let i = 0; i < L; i++) {
    const v = template[i]!;
    if (!Number.isInteger(v) || v < 0 || v >= V) throw new RangeError(`token ${v} at position ${i} is outside the vocabulary 0…${V - 1}`);
  }
  const x = template.slice();
  const grid = linspace(1, eps, steps + 1);
  const dt = (1 - eps) / steps;
  const draws = new Float64Array(V);
  const denoiseDraws = new Float64Array(V - 1);
  let networkCalls = 0;

  const maskedPositions = (): number[] => {
    const out: number[] = [];
    for (let i = 0; i < L; i++) if (x[i] === graph.mask) out.push(i);
    return out;
  };
  const evaluate = async (t: number): Promise<Float32Array> => {
    const out = await o.score(x, noise.total(t));
    o.checkpoint?.();
    networkCalls++;
    if (out.length !== L * V) throw new Error(`the network returned ${out.length} scores; expected ${L} × ${V}`);
    return out;
  };

  for (let k = 0; k < steps; k++) {
    o.checkpoint?.();
    clamp(x, template, graph.mask);
    const masked = maskedPositions();
    if (masked.length > 0) {
      const t = grid[k]!;
      const dsigma = noise.total(t) - noise.total(t - dt);
      const out = await evaluate(t);
      for (const i of masked) {
        o.exp.fill(k, i, draws);
        x[i] = drawMasked(graph, out.subarray(i * V, (i + 1) * V), dsigma, draws, true);
      }
    }
    o.onUpdate?.(k, x);
    if (k < steps - 1) o.onStep?.(k + 1, countMasked(x, graph.mask));
  }

  o.checkpoint?.();
  clamp(x, template, graph.mask);
  const masked = maskedPositions();
  if (masked.length > 0) {
    const out = await evaluate(eps);
    const dsigma = noise.total(eps);
    for (const i of masked) {
      o.exp.fill(steps, i, denoiseDraws);
      x[i] = drawMasked(graph, out.subarray(i * V, (i + 1) * V), dsigma, denoiseDraws, false);
    }
  }
  o.onUpdate?.(steps, x);
  clamp(x, template, graph.mask);
  o.onStep?.(steps, countMasked(x, graph.mask));
  return { tokens: x, networkCalls };
}

/**
 * One categorical draw at a masked position: argmax_j p_j / E_j, with p from
 * AbsorbingGraph.maskedStep and E = exp (length dim with MASK, as the last entry, when keepMask;
 * dim − 1 for the denoiser, which drops MASK).
 */
export function drawMasked(graph: AbsorbingGraph, row: Float32Array, dsigma: number, exp: Float64Array, keepMask: boolean): number {
  if (graph.mask !== graph.dim - 1 || exp.length !== (keepMask ? graph.dim : graph.dim - 1)) {
    throw new RangeError(`drawMasked: ${exp.length} Exp(1) draws for dimension ${graph.dim}`);
  }
  const { logK, pMask } = graph.maskedStep(row, dsigma);
  if (Number.isNaN(pMask) || Number.isNaN(logK)) throw new Error('the network returned scores that are not numbers (NaN)');
  let best = -1;
  let bestKey = -Infinity;
  // log(p_j / E_j) = row[j] + logK − log E_j; logK is shared by every j ≠ MASK, so it is added once, below.
  for (let j = 0; j < graph.mask; j++) {
    const key = row[j]! - Math.log(exp[j]!);
    if (key > bestKey) {
      bestKey = key;
      best = j;
    }
  }
  if (keepMask && pMask > 0 && Math.log(pMask) - Math.log(exp[graph.mask]!) > bestKey + logK) return graph.mask;
  if (best < 0) {
    // Every p_j is 0 (all log scores −∞): stay masked, or at the very end, where MASK is not
    // allowed, fall back to token 0 — the network has given no information at all.
    return keepMask ? graph.mask : 0;
  }
  return best;
}

function clamp(x: Int32Array, template: Int32Array, mask: number): void {
  for (let i = 0; i < x.length; i++) if (template[i] !== mask) x[i] = template[i]!;
}

function countMasked(x: Int32Array, mask: number): number {
  let n = 0;
  for (let i = 0; i < x.length; i++) if (x[i] === mask) n++;
  return n;
}

/**
 * n evenly spaced points from a to b inclusive, computed like torch.linspace (the first half counts
 * up from a, the second half down from b), so the grid matches the reference to the last bit.
 */
export function linspace(a: number, b: number, n: number): Float64Array {
  const out = new Float64Array(n);
  if (n === 1) {
    out[0] = a;
    return out;
  }
  const step = (b - a) / (n - 1);
  const half = Math.floor(n / 2);
  for (let i = 0; i < n; i++) out[i] = i < half ? a + step * i : b - step * (n - i - 1);
  return out;
}
