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
 * at masked positions only (only their rows of the network output are read), and a step with no
 * masked position left changes nothing, so its network call is skipped. Network calls are
 * therefore at most steps + 1.
 *
 * Batches: `batch` rows of length L are sampled together (one network call per step for all of
 * them); ExpNoise positions are then flat indices b·L + i, so each row may have its own stream.
 *
 * Output reuse (sedd.md §3 "Caching"): when a step unmasks nothing, x is unchanged, so the next
 * network call would see the same tokens. `reuse: 'exact'` (for time-independent networks,
 * manifest time_conditioned false) and `reuse: 'approximate'` (the app's `mode: 'fast'` for
 * σ-conditioned weights) then reuse the previous output instead of calling the network. With
 * scale_by_sigma the ONNX output carries the σ-dependent shift −log(e^σ − 1) − log(V − 1) at every
 * entry but the current token's (which is 0; at a masked position that entry is MASK), so the
 * output at σ' is recovered analytically:
 *
 *   out_j(σ') = out_j(σ) − [log(e^σ' − 1) − log(e^σ − 1)]      (j ≠ MASK; out_MASK stays 0)
 *
 * with σ, σ' the float32 values the network saw. For a time-independent network this is exact
 * (up to float32 rounding of the stored output); the draw among tokens j ≠ MASK does not depend
 * on the shift at all, only the stay-masked weight does. Expected network calls for L masked
 * tokens over n steps ≈ n·(1 − (1 − 1/n)^L).
 */
import type { AbsorbingGraph } from './graph';
import type { Noise } from './noise';
import type { Random } from '../random';
import { type TokenChoice, bannedNow, choiceWeights, confidentPositions, plainAt } from './token-choice';

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

/** Log scores: tokens [batch × L] (row-major) at total noise sigma (the same for every row) → Float32Array [batch × L × dim]. */
export type ScoreFn = (tokens: Int32Array, sigma: number, batch: number) => Promise<Float32Array>;

/** A position unmasked by a step: batch row, position in the row, and its new token. */
export interface UnmaskedToken {
  row: number;
  position: number;
  token: number;
}

/** When a step unmasked nothing: 'never' call the network again anyway; 'exact' / 'approximate' reuse its output (see the header). */
export type OutputReuse = 'never' | 'exact' | 'approximate';

export interface AnalyticSamplerOptions {
  /** Known tokens [batch × L], with MASK (dim − 1) at every position to generate. Never modified. */
  template: Int32Array;
  /** Rows sampled together (default 1); template.length must be a multiple of it. */
  batch?: number;
  /** Positions (flat, like template) that keep their template value even when it is MASK: context not generated here. */
  fixed?: Uint8Array;
  /** Reuse the previous network output after a step that unmasked nothing (default 'never'). */
  reuse?: OutputReuse;
  /** Whether the network output includes the scale_by_sigma shift (re-applied on reuse; default true). */
  scaleBySigma?: boolean;
  graph: AbsorbingGraph;
  noise: Noise;
  steps: number;
  /** Source of the Exp(1) draws, e.g. streamExpNoise(new Random(seed)). */
  exp: ExpNoise;
  score: ScoreFn;
  /** Called after step k = 1 … steps with the number of positions still masked (all rows, fixed ones
   * excluded) and the positions this step unmasked; the call for k = steps comes after the final
   * denoising step (masked = 0) and reports what step steps − 1 and the denoise unmasked. */
  onStep?: (step: number, masked: number, unmasked: UnmaskedToken[]) => void;
  /** Called with x after the update of call k = 0 … steps−1 and after the final denoise (call = steps), as the reference's on_step. */
  onUpdate?: (call: number, x: Readonly<Int32Array>) => void;
  /** Called at the start of every step and after every network evaluation; throw to stop (e.g.
   * ApiError('cancelled')). A network call in flight is not interruptible: a cancel takes effect
   * when it returns. */
  checkpoint?: () => void;
  /** Final time ε of the grid. */
  eps?: number;
  /**
   * Temperature τ of the token choice (default 1: the sampler as specified). At a masked position
   * the analytic step factors into "does it unmask" (probability min(1, K·S), unchanged) and
   * "which token" (softmax over j ≠ MASK of the log scores), and τ only sharpens (τ < 1) or
   * flattens (τ > 1) the second: softmax(row/τ), like an autoregressive model's temperature.
   */
  temperature?: number;
  /**
   * The whole token choice (token-choice.ts): temperature, nucleus, bans and unmasking order. Its
   * temperature takes the place of `temperature`. Default: plain (the sampler as specified).
   */
  choice?: TokenChoice;
}

export interface SampleResult {
  tokens: Int32Array;
  networkCalls: number;
}

export const SAMPLING_EPS = 1e-5;

/** The options both absorbing samplers share, with their defaults, checked; and the sizes. */
export function checkedSetup(o: Omit<AnalyticSamplerOptions, 'exp' | 'score'>) {
  const { template, graph, steps } = o;
  const eps = o.eps ?? SAMPLING_EPS;
  const batch = o.batch ?? 1;
  const reuse = o.reuse ?? 'never';
  const scaleBySigma = o.scaleBySigma ?? true;
  if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`steps must be a positive integer, got ${steps}`);
  if (!Number.isInteger(batch) || batch < 1 || template.length % batch !== 0) throw new RangeError(`batch ${batch} does not divide ${template.length} tokens`);
  if (o.fixed && o.fixed.length !== template.length) throw new RangeError(`fixed has ${o.fixed.length} entries for ${template.length} tokens`);
  const V = graph.dim;
  const N = template.length;
  for (let i = 0; i < N; i++) {
    const v = template[i]!;
    if (!Number.isInteger(v) || v < 0 || v >= V) throw new RangeError(`token ${v} at position ${i} is outside the vocabulary 0…${V - 1}`);
  }
  const choice: TokenChoice = o.choice ?? { temperature: o.temperature ?? 1, topP: 1, order: 'random' };
  const temperature = choice.temperature;
  if (!(temperature > 0 && Number.isFinite(temperature))) throw new RangeError(`temperature must be a positive number, got ${temperature}`);
  if (!(choice.topP > 0 && choice.topP <= 1)) throw new RangeError(`top-p must be in (0, 1], got ${choice.topP}`);
  if (choice.order !== 'random' && choice.order !== 'confident') throw new RangeError(`unknown unmasking order ${String(choice.order)}`);
  return { eps, batch, reuse, scaleBySigma, V, N, L: N / batch, temperature, choice };
}

export async function sampleAnalyticAbsorbing(o: AnalyticSamplerOptions): Promise<SampleResult> {
  const { template, graph, noise, steps } = o;
  const { eps, batch, reuse, scaleBySigma, V, N, L, temperature, choice } = checkedSetup(o);
  const fixed = o.fixed;
  const free = (i: number): boolean => template[i] === graph.mask && !(fixed && fixed[i]);
  /** One step's draws at the masked positions: plain positions by drawMasked (the reference's exact race), others by raceChoice. */
  const drawStep = (
    out: Float32Array,
    masked: readonly number[],
    dsigma: number,
    call: number,
    draws: Float64Array,
    keepMask: boolean,
    shift: number,
  ): void => {
    if (choice.order === 'random') {
      for (const i of masked) {
        o.exp.fill(call, i, draws);
        const row = out.subarray(i * V, (i + 1) * V);
        x[i] = plainAt(choice, i)
          ? drawMasked(graph, row, dsigma, draws, keepMask, shift, temperature)
          : raceChoice(graph, row, dsigma, draws, keepMask, shift, choice, i, x).next;
      }
      return;
    }
    const drawn = masked.map((i) => {
      o.exp.fill(call, i, draws);
      return raceChoice(graph, out.subarray(i * V, (i + 1) * V), dsigma, draws, keepMask, shift, choice, i, x);
    });
    const chosen = confidentPositions(
      masked,
      drawn.map((d) => d.next !== graph.mask),
      drawn.map((d) => d.probability),
      L,
    );
    masked.forEach((i, k) => {
      if (!chosen.has(i)) return;
      let token = drawn[k]!.token;
      if (bannedNow(choice, i, token, x)) {
        // A neighbour written earlier in this step bans it now: the same race, with the bans of now.
        o.exp.fill(call, i, draws);
        token = raceChoice(graph, out.subarray(i * V, (i + 1) * V), dsigma, draws, keepMask, shift, choice, i, x).token;
      }
      x[i] = token;
    });
  };
  const x = template.slice();
  const grid = linspace(1, eps, steps + 1);
  const dt = (1 - eps) / steps;
  const draws = new Float64Array(V);
  const denoiseDraws = new Float64Array(V - 1);
  let networkCalls = 0;
  /** The last network output, the float32 σ it was computed at, and whether x changed since. */
  let cached: { out: Float32Array; sigma: number } | null = null;
  let changed = true;

  const maskedPositions = (): number[] => {
    const out: number[] = [];
    for (let i = 0; i < N; i++) if (x[i] === graph.mask && free(i)) out.push(i);
    return out;
  };
  /** The output at σ̄(t) and the shift to add to its entries j ≠ MASK. */
  const evaluate = async (t: number): Promise<{ out: Float32Array; shift: number }> => {
    const total = noise.total(t);
    const sigma = Math.fround(total); // what the network sees
    if (cached && !changed && reuse !== 'never') {
      const shift = scaleBySigma ? logExpm1(cached.sigma) - logExpm1(sigma) : 0;
      return { out: cached.out, shift };
    }
    const out = await o.score(x, total, batch);
    o.checkpoint?.();
    networkCalls++;
    if (out.length !== N * V) throw new Error(`the network returned ${out.length} scores; expected ${batch} × ${L} × ${V}`);
    cached = { out, sigma };
    changed = false;
    return { out, shift: 0 };
  };
  const unmaskedBy = (masked: readonly number[]): UnmaskedToken[] => {
    const out: UnmaskedToken[] = [];
    for (const i of masked) if (x[i] !== graph.mask) out.push({ row: Math.floor(i / L), position: i % L, token: x[i]! });
    if (out.length > 0) changed = true;
    return out;
  };

  // Unmasked by the last regular step: reported with the final denoise (one event for both).
  let lastStep: UnmaskedToken[] = [];
  for (let k = 0; k < steps; k++) {
    o.checkpoint?.();
    clamp(x, template, graph.mask, fixed);
    const masked = maskedPositions();
    let unmasked: UnmaskedToken[] = [];
    if (masked.length > 0) {
      const t = grid[k]!;
      const dsigma = noise.total(t) - noise.total(t - dt);
      const { out, shift } = await evaluate(t);
      drawStep(out, masked, dsigma, k, draws, true, shift);
      unmasked = unmaskedBy(masked);
    }
    o.onUpdate?.(k, x);
    if (k < steps - 1) o.onStep?.(k + 1, countMasked(x, masked), unmasked);
    else lastStep = unmasked;
  }

  o.checkpoint?.();
  clamp(x, template, graph.mask, fixed);
  const masked = maskedPositions();
  let unmasked: UnmaskedToken[] = [];
  if (masked.length > 0) {
    const { out, shift } = await evaluate(eps);
    const dsigma = noise.total(eps);
    drawStep(out, masked, dsigma, steps, denoiseDraws, false, shift);
    unmasked = unmaskedBy(masked);
  }
  o.onUpdate?.(steps, x);
  clamp(x, template, graph.mask, fixed);
  o.onStep?.(steps, countMasked(x, masked), [...lastStep, ...unmasked]);
  return { tokens: x, networkCalls };

  function countMasked(xs: Int32Array, candidates: readonly number[]): number {
    // Positions masked now are a subset of those masked at the start of the step.
    let n = 0;
    for (const i of candidates) if (xs[i] === graph.mask) n++;
    return n;
  }
}

/** log(e^σ − 1), accurate for small σ. */
export function logExpm1(sigma: number): number {
  return Math.log(Math.expm1(sigma));
}

/**
 * One categorical draw at a masked position: argmax_j p_j / E_j, with p from
 * AbsorbingGraph.maskedStep and E = exp (length dim with MASK, as the last entry, when keepMask;
 * dim − 1 for the denoiser, which drops MASK).
 */
export function drawMasked(graph: AbsorbingGraph, row: Float32Array, dsigma: number, exp: Float64Array, keepMask: boolean, shift = 0, temperature = 1): number {
  if (graph.mask !== graph.dim - 1 || exp.length !== (keepMask ? graph.dim : graph.dim - 1)) {
    throw new RangeError(`drawMasked: ${exp.length} Exp(1) draws for dimension ${graph.dim}`);
  }
  // shift is added to every entry j ≠ MASK of row (a reused output, see the header); it moves
  // logK and K·S by the same amount and leaves the order among the tokens j ≠ MASK unchanged.
  const { logK, pMask } = shift === 0 ? graph.maskedStep(row, dsigma) : shiftedMaskedStep(graph, row, dsigma, shift);
  if (Number.isNaN(pMask) || Number.isNaN(logK)) throw new Error('the network returned scores that are not numbers (NaN)');
  let best = -1;
  let bestKey = -Infinity;
  // log(p_j / E_j) = row[j] + logK − log E_j; logK is shared by every j ≠ MASK, so it is added once, below.
  // With temperature τ, p_j = K·S·softmax(row/τ)_j: the key is row[j]/τ − log E_j and the shared
  // term logK + log S − log Σ exp(row/τ).
  const inv = 1 / temperature;
  for (let j = 0; j < graph.mask; j++) {
    const key = (temperature === 1 ? row[j]! : row[j]! * inv) - Math.log(exp[j]!);
    if (key > bestKey) {
      bestKey = key;
      best = j;
    }
  }
  const shared = temperature === 1 ? logK : logK + logSumExp(row, graph.mask, 1) - logSumExp(row, graph.mask, inv);
  if (keepMask && pMask > 0 && Math.log(pMask) - Math.log(exp[graph.mask]!) > bestKey + shared) return graph.mask;
  if (best < 0) {
    // Every p_j is 0 (all log scores −∞): stay masked, or at the very end, where MASK is not
    // allowed, fall back to token 0 — the network has given no information at all.
    return keepMask ? graph.mask : 0;
  }
  return best;
}

/**
 * drawMasked for any token choice (token-choice.ts), by the same exponential race: the tokens of
 * the choice's distribution q (candidates only) race with p_j = K·S·q_j, MASK (when keepMask) with
 * p_MASK, S being the full Σ_{j≠MASK} e^{row_j} (the choice changes which token, not whether). Also
 * returns the token that won among the tokens alone and its probability under q (for confidence
 * order: in an exponential race the winner among the tokens does not depend on whether MASK won).
 */
export function raceChoice(
  graph: AbsorbingGraph,
  row: Float32Array,
  dsigma: number,
  exp: Float64Array,
  keepMask: boolean,
  shift: number,
  choice: TokenChoice,
  position: number,
  tokens?: Int32Array,
): { next: number; token: number; probability: number } {
  const { logK, pMask } = shift === 0 ? graph.maskedStep(row, dsigma) : shiftedMaskedStep(graph, row, dsigma, shift);
  if (Number.isNaN(pMask) || Number.isNaN(logK)) throw new Error('the network returned scores that are not numbers (NaN)');
  const weights = scratch(graph.mask);
  const { total } = choiceWeights(row, graph.mask, choice, position, weights, tokens);
  if (!(total > 0)) return { next: keepMask ? graph.mask : 0, token: 0, probability: 0 };
  let token = 0;
  let bestKey = -Infinity;
  for (let j = 0; j < graph.mask; j++) {
    if (!(weights[j]! > 0)) continue;
    const key = Math.log(weights[j]!) - Math.log(exp[j]!);
    if (key > bestKey) {
      bestKey = key;
      token = j;
    }
  }
  const probability = weights[token]! / total;
  const shared = logK + logSumExp(row, graph.mask, 1) - Math.log(total);
  if (keepMask && pMask > 0 && Math.log(pMask) - Math.log(exp[graph.mask]!) > bestKey + shared) return { next: graph.mask, token, probability };
  return { next: token, token, probability };
}

let scratchBuffer = new Float64Array(0);
/** A reusable buffer of at least n float64s for choiceWeights (the samplers run one draw at a time). */
export function scratch(n: number): Float64Array {
  if (scratchBuffer.length < n) scratchBuffer = new Float64Array(n);
  return scratchBuffer;
}

/** log Σ_{j < n} exp(scale · row[j]) (−∞ when every entry is −∞). */
function logSumExp(row: Float32Array, n: number, scale: number): number {
  let max = -Infinity;
  for (let j = 0; j < n; j++) if (row[j]! * scale > max) max = row[j]! * scale;
  if (max === -Infinity) return -Infinity;
  let sum = 0;
  for (let j = 0; j < n; j++) sum += Math.exp(row[j]! * scale - max);
  return max + Math.log(sum);
}

/**
 * The token at cumulative probability u of softmax(row[0 … n−1]/τ) (inverse CDF, float64): the
 * smallest j whose running sum exceeds u · total, as the graph's fused draw does at τ = 1. Token 0
 * when every entry is −∞ (the network gave no information).
 */
export function temperedDraw(row: Float32Array, n: number, temperature: number, u: number): number {
  const inv = 1 / temperature;
  let max = -Infinity;
  for (let j = 0; j < n; j++) if (row[j]! * inv > max) max = row[j]! * inv;
  if (max === -Infinity) return 0;
  let total = 0;
  for (let j = 0; j < n; j++) total += Math.exp(row[j]! * inv - max);
  const target = u * total;
  let acc = 0;
  let last = 0;
  for (let j = 0; j < n; j++) {
    const w = Math.exp(row[j]! * inv - max);
    if (w > 0) last = j;
    acc += w;
    if (acc > target) return j;
  }
  return last; // rounding left u · total at the very end: the last token with weight
}

/** graph.maskedStep for the row with `shift` added to every entry j ≠ MASK. */
function shiftedMaskedStep(graph: AbsorbingGraph, row: Float32Array, dsigma: number, shift: number): { logK: number; pMask: number } {
  const logK = Math.log(Math.expm1(dsigma)) + shift;
  let max = -Infinity;
  for (let j = 0; j < graph.mask; j++) if (row[j]! > max) max = row[j]!;
  let sum = 0;
  if (max > -Infinity) for (let j = 0; j < graph.mask; j++) sum += Math.exp(row[j]! - max);
  const logKS = sum > 0 ? logK + max + Math.log(sum) : -Infinity;
  return { logK, pMask: Math.exp(row[graph.mask]!) - Math.exp(logKS) };
}

function clamp(x: Int32Array, template: Int32Array, mask: number, fixed?: Uint8Array): void {
  for (let i = 0; i < x.length; i++) if (template[i] !== mask || (fixed && fixed[i])) x[i] = template[i]!;
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
