/**
 * The ELBO upper bound on −log p(text) (sedd.md §4) for absorbing models with the log-linear
 * schedule, estimated by Monte Carlo over t, the same estimator as models/train/evaluate.py
 * (trainlib.bound_draw / sedd_loss):
 *
 *   −log p(x₀) ≤ ∫₀¹ E_{x_t} [ Σ_{masked i} σ̄'(t)·SE_i ] dt,
 *   SE_i = Σ_{j≠MASK} exp(out_ij) − r·out_{i,x₀ᵢ} + r·(log r − 1),  r = 1/(e^{σ̄} − 1).
 *
 * Estimators (one network call per draw):
 *  - 'k' (default, low variance): k ~ U{1..L}, a uniform k-subset masked, p | k ~ Beta(k, L−k+1)
 *    truncated to p ≤ 1−ε (the k-th smallest of L uniforms, redrawn while above), t = p/(1−ε),
 *    weight (L/k)·P(Bin(L, 1−ε) ≥ k)·t; unbiased for the same integral (see trainlib.bound_draw).
 *  - 't': t ~ U(0, 1) (at least 1e-7), each token masked independently with probability (1−ε)t.
 * The prior term at t = 1 is not included (as in the paper and evaluate.py).
 *
 * Long texts: the tokens are scored in consecutive, non-overlapping windows of the model length
 * (the last one shorter); each window is scored as an independent sequence (no context across a
 * window boundary), so the total is an upper bound for −log of the product of the window
 * probabilities, and the bound per token is somewhat looser than with overlapping context.
 *
 * Per-token contributions: the same draws, each token's w·σ̄'(t)·SE_i when masked (0 otherwise),
 * averaged over the draws; they sum to the window's estimate. Uniform-graph models are not
 * supported (their bound needs the full uniform score entropy; not implemented).
 */
import { ApiError } from '../../common/api';
import { AbsorbingGraph } from './graph';
import { LogLinearNoise } from './noise';
import type { Noise, NoiseSpec } from './noise';
import { Random } from './random';

/** Log scores of one sequence at total noise sigma → Float32Array [L × V] (sampler.ts ScoreFn with batch 1). */
export type ScoreFn = (tokens: Int32Array, sigma: number, batch: number) => Promise<Float32Array>;

export type BoundEstimator = 'k' | 't';

export interface BoundDraw {
  t: number;
  masked: Uint8Array;
  weight: number;
}

/** P(Binomial(L, x) ≥ k) for k = 0 … L (float64). */
export function binomTail(L: number, x: number): Float64Array {
  const logpmf = new Float64Array(L + 1);
  const lf = new Float64Array(L + 2);
  for (let i = 2; i <= L + 1; i++) lf[i] = lf[i - 1]! + Math.log(i - 1); // lf[i] = log((i−1)!)
  for (let j = 0; j <= L; j++) logpmf[j] = lf[L + 1]! - lf[j + 1]! - lf[L - j + 1]! + j * Math.log(x) + (L - j) * Math.log1p(-x);
  const tail = new Float64Array(L + 1);
  let acc = 0;
  for (let j = L; j >= 0; j--) {
    acc += Math.exp(logpmf[j]!);
    tail[j] = acc;
  }
  return tail;
}

/** One Monte Carlo draw (t, masked positions, weight) for a sequence of L tokens; eps is the log-linear ε. */
export function boundDraw(L: number, rng: Random, estimator: BoundEstimator, eps: number, tail: Float64Array): BoundDraw {
  const masked = new Uint8Array(L);
  if (estimator === 't') {
    const t = Math.max(rng.uniform(), 1e-7);
    for (let i = 0; i < L; i++) masked[i] = rng.uniform() < (1 - eps) * t ? 1 : 0;
    return { t, masked, weight: 1 };
  }
  const k = Math.min(L, 1 + Math.floor(rng.uniform() * L));
  const order = Array.from({ length: L }, (_, i) => i);
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(rng.uniform() * (L - i));
    [order[i], order[j]] = [order[j]!, order[i]!];
    masked[order[i]!] = 1;
  }
  let p: number;
  const u = new Float64Array(L);
  for (;;) {
    for (let i = 0; i < L; i++) u[i] = rng.uniform();
    u.sort();
    p = u[k - 1]!;
    if (p <= 1 - eps) break;
  }
  const t = Math.max(p / (1 - eps), 1e-7);
  return { t, masked, weight: (L / k) * tail[k]! * t };
}

/**
 * σ̄'(t)·SE_i at every masked position of one network output (0 elsewhere): out [L × V] log scores
 * (with the scale_by_sigma shift, as the ONNX network returns them), x0 the clean tokens, sigma the
 * total noise σ̄(t) (float64; r = 1/expm1(σ̄)), rate σ̄'(t).
 */
export function scoreEntropyTerms(out: Float32Array, x0: ArrayLike<number>, masked: Uint8Array, V: number, sigma: number, rate: number): Float64Array {
  const L = masked.length;
  const terms = new Float64Array(L);
  const r = 1 / Math.expm1(sigma);
  const c = r * (Math.log(r) - 1);
  for (let i = 0; i < L; i++) {
    if (!masked[i]) continue;
    const row = out.subarray(i * V, (i + 1) * V);
    let pos = 0;
    for (let j = 0; j < V - 1; j++) pos += Math.exp(row[j]!);
    terms[i] = rate * (pos - r * row[x0[i]!]! + c);
  }
  return terms;
}

export interface BoundOptions {
  /** Clean token ids (no MASK). */
  tokens: ArrayLike<number>;
  graph: AbsorbingGraph;
  noise: Noise;
  /** Window length: the model's length. */
  length: number;
  draws: number;
  seed: number;
  score: ScoreFn;
  estimator?: BoundEstimator;
  /** Called after every network call; throw to stop. */
  checkpoint?: () => void;
  /** Called after every draw with the draws done and the total (windows × draws). */
  onProgress?: (done: number, total: number) => void;
}

export interface BoundResult {
  /** Upper bound on −log p (nats), the sum over windows. */
  nll: number;
  /** Monte Carlo standard error of nll (within-window variance over draws; with one draw it cannot be estimated and equals nll). */
  stdErr: number;
  /** Per-token contributions (nats), summing to nll. */
  perToken: Float64Array;
  windows: number;
  networkCalls: number;
}

/** Monte Carlo ELBO bound over consecutive windows (see the header). Draw d of window w uses Random(seed) consumed in order. */
export async function elboBound(o: BoundOptions): Promise<BoundResult> {
  const { tokens, graph, noise, length, draws } = o;
  const estimator = o.estimator ?? 'k';
  if (!(noise instanceof LogLinearNoise)) {
    throw new ApiError('model_error', 'the likelihood bound is implemented for absorbing models with the log-linear noise schedule only');
  }
  if (!Number.isInteger(draws) || draws < 1) throw new RangeError(`draws must be a positive integer, got ${draws}`);
  const V = graph.dim;
  const n = tokens.length;
  for (let i = 0; i < n; i++) {
    const v = tokens[i]!;
    if (!Number.isInteger(v) || v < 0 || v >= graph.mask) throw new RangeError(`token ${v} at position ${i} is not a text token`);
  }
  const rng = new Random(o.seed);
  const perToken = new Float64Array(n);
  let nll = 0;
  let variance = 0;
  let networkCalls = 0;
  let windows = 0;
  const total = Math.ceil(n / length) * draws;
  let done = 0;
  for (let start = 0; start < n; start += length) {
    const L = Math.min(length, n - start);
    const x0 = Int32Array.from({ length: L }, (_, i) => tokens[start + i]!);
    const tail = binomTail(L, 1 - noise.eps);
    const values = new Float64Array(draws);
    for (let d = 0; d < draws; d++) {
      const { t, masked, weight } = boundDraw(L, rng, estimator, noise.eps, tail);
      const xt = x0.map((v, i) => (masked[i] ? graph.mask : v));
      const sigma = noise.total(t);
      let value = 0;
      if (masked.some((m) => m === 1)) {
        const out = await o.score(xt, sigma, 1);
        o.checkpoint?.();
        networkCalls++;
        if (out.length !== L * V) throw new Error(`the network returned ${out.length} scores; expected ${L} × ${V}`);
        const terms = scoreEntropyTerms(out, x0, masked, V, sigma, noise.rate(t));
        for (let i = 0; i < L; i++) {
          const c = (weight * terms[i]!) / draws;
          perToken[start + i] = perToken[start + i]! + c;
          value += weight * terms[i]!;
        }
      }
      values[d] = value;
      o.onProgress?.(++done, total);
    }
    const mean = values.reduce((a, b) => a + b, 0) / draws;
    nll += mean;
    if (draws >= 2) variance += values.reduce((a, v) => a + (v - mean) ** 2, 0) / (draws - 1) / draws;
    windows++;
  }
  return { nll, stdErr: draws >= 2 ? Math.sqrt(variance) : Math.abs(nll), perToken, windows, networkCalls };
}

/** The parts of a Tokenizer needed to map tokens back to text. */
export interface Decoder {
  decode(ids: ArrayLike<number>): string;
}

/**
 * Character spans [start, end) in `text` of each token of `ids` (= encode(text)), from decoded
 * lengths: a token that decodes on its own to whole characters takes their length; a run of tokens
 * that split a multi-byte character is decoded as prefixes of the run and matched against the text,
 * and a token that holds part of a character gets that whole character (adjacent spans then overlap
 * by it).
 */
export function tokenSpans(tok: Decoder, ids: ArrayLike<number>, text: string): { start: number; end: number }[] {
  const spans: { start: number; end: number }[] = [];
  let pos = 0;
  let i = 0;
  while (i < ids.length) {
    const s = tok.decode([ids[i]!]);
    if (!s.includes('\uFFFD') && text.startsWith(s, pos)) {
      spans.push({ start: pos, end: pos + s.length });
      pos += s.length;
      i++;
      continue;
    }
    // A run starting at a character boundary: decode growing prefixes until they end on one.
    const runStart = pos;
    let complete = runStart;
    let k = i;
    for (; k < ids.length; k++) {
      const decoded = tok.decode(Array.prototype.slice.call(ids, i, k + 1) as number[]);
      let m = 0;
      while (m < decoded.length && runStart + m < text.length && decoded[m] === text[runStart + m]) m++;
      const partial = m < decoded.length;
      const end = runStart + m;
      spans.push({ start: complete, end: Math.min(text.length, Math.max(end + (partial ? 1 : 0), complete + (partial ? 1 : 0))) });
      complete = end;
      if (!partial) break;
    }
    pos = complete;
    i = k + 1;
  }
  return spans;
}

export interface ScoreTextOutcome {
  tokens: number;
  draws: number;
  seed: number;
  nll: number;
  nllStdErr: number;
  perplexityBound: number;
  perToken: { start: number; end: number; text: string; nll: number }[];
  /** Windows of the model length the text was scored in. */
  windows: number;
  networkCalls: number;
  durationMs: number;
}

/** A model already loaded elsewhere (the engine's cache), used by scoreText instead of loading the package. */
export interface LoadedScorer {
  manifest: { id: string; graph: { type: 'absorb' | 'uniform' }; noise: NoiseSpec; vocab_size: number; length: number };
  tokenizer: Decoder & { encode(text: string): number[] };
  /** Log scores of one sequence (batch 1) on the loaded network. */
  score: ScoreFn;
}

export interface ScoreTextOptions {
  draws?: number;
  seed?: number;
  estimator?: BoundEstimator;
  /** Called after every network call (between draws); throw to stop. */
  checkpoint?: () => void;
  /** Called after every draw with the draws done and the total. */
  onProgress?: (done: number, total: number) => void;
}

/**
 * Score a plain text with a model package: load (manifest, hashes, tokenizer, network), encode,
 * elboBound over windows of the model length, map the per-token contributions to character spans.
 * Loads the network for this one call and releases it, unless `loaded` gives a model already
 * loaded (the engine process passes its cached one; it is not released here).
 */
export async function scoreText(modelDir: string, text: string, opts: ScoreTextOptions = {}, loaded?: LoadedScorer): Promise<ScoreTextOutcome> {
  const started = Date.now();
  if (loaded) return scoreLoaded(loaded, text, opts, started);
  const [{ loadModelPackage }, { Tokenizer }, { ScoreModel }] = await Promise.all([import('./model-package'), import('./tokenizer'), import('./score-model')]);
  const pkg = await loadModelPackage(modelDir);
  const m = pkg.manifest;
  checkBoundModel(m);
  const tokenizer = await Tokenizer.fromFile(pkg.tokenizerPath);
  if (tokenizer.encode(text).length === 0) throw new ApiError('bad_request', 'text: nothing to score');
  const model = await ScoreModel.load(pkg.networkPath, m.vocab_size);
  try {
    return await scoreLoaded({ manifest: m, tokenizer, score: (t, sigma) => model.score(t, sigma) }, text, opts, started);
  } finally {
    await model.release().catch(() => undefined);
  }
}

/** The log-linear ε of a model the bound supports; model_error for any other. */
function checkBoundModel(m: LoadedScorer['manifest']): number {
  if (m.graph.type !== 'absorb' || m.noise.type !== 'loglinear') {
    throw new ApiError('model_error', `model "${m.id}" uses the ${m.graph.type} graph with ${m.noise.type} noise; the likelihood bound is implemented for absorbing models with log-linear noise only`);
  }
  return m.noise.eps;
}

async function scoreLoaded(loaded: LoadedScorer, text: string, opts: ScoreTextOptions, started: number): Promise<ScoreTextOutcome> {
  const m = loaded.manifest;
  const eps = checkBoundModel(m);
  const tok = loaded.tokenizer;
  const ids = tok.encode(text);
  if (ids.length === 0) throw new ApiError('bad_request', 'text: nothing to score');
  const draws = opts.draws ?? 16;
  const seed = opts.seed ?? Math.floor(Math.random() * 2 ** 32);
  const bound = await elboBound({
    tokens: ids,
    graph: new AbsorbingGraph(m.vocab_size),
    noise: new LogLinearNoise(eps),
    length: m.length,
    draws,
    seed,
    score: (t, sigma) => loaded.score(t, sigma, 1),
    ...(opts.estimator ? { estimator: opts.estimator } : {}),
    ...(opts.checkpoint ? { checkpoint: opts.checkpoint } : {}),
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
  });
  const spans = tokenSpans(tok, ids, text);
  return {
    tokens: ids.length,
    draws,
    seed,
    nll: bound.nll,
    nllStdErr: bound.stdErr,
    perplexityBound: Math.exp(bound.nll / ids.length),
    perToken: spans.map((s, i) => ({ start: s.start, end: s.end, text: text.slice(s.start, s.end), nll: bound.perToken[i]! })),
    windows: bound.windows,
    networkCalls: bound.networkCalls,
    durationMs: Date.now() - started,
  };
}
