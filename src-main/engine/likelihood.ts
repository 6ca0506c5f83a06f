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
 *
 * Span bound (spanBound): the bound on −log p(span | context) for filled blanks, to rank
 * alternative fills and to compare blank lengths. The infill sampler defines p(span | context): it
 * runs the reverse process with the context written back at every step, so the context is never
 * noised and only span positions ever become MASK. That is itself an absorbing diffusion over the n
 * span positions with the same schedule (each span token masked independently with probability
 * (1−ε)t, the context a fixed part of the network's input), so the derivation of the bound above
 * goes through unchanged with the forward process applied to the span only:
 *
 *   −log p(span | ctx) ≤ ∫₀¹ E_{span_t} [ Σ_{masked i ∈ span} σ̄'(t)·SE_i ] dt   (prior term at t = 1 omitted),
 *
 * with SE_i computed from the network's output for (masked span, clean context). The 'k' and 't'
 * estimators are those of the header with n = span size in place of L: the 'k' weight
 * (n/k)·P(Bin(n, 1−ε) ≥ k)·t is the density ratio of the 't' process to the proposal over the pair
 * (t, masked set), so the estimate is unbiased not only for the total but for every position's term.
 *
 * Common random numbers: every row (an alternative fill of the same blanks, or the same fill in
 * another context) uses the same draws — the same k, the same masked span positions and the same
 * t. Most of the Monte Carlo variance comes from the draw itself (which positions are masked, the
 * weight and σ̄'(t) at that t), and it is shared, so a difference between two rows has a much
 * smaller error than either estimate alone (pairedStdErr measures it from the per-draw values);
 * two identical rows get identical estimates. Rows of one draw share t, hence σ̄, so they go through
 * the network together in one batched call (chunks of maxBatch rows).
 *
 * Per-token value: for each row and span position, the average over draws of w·σ̄'(t)·SE_i when
 * the position was masked (0 otherwise). These are additive: they sum to the row's estimate, and the
 * sum over any subset (one blank's positions) is an unbiased estimate of that subset's share of the
 * integral. A share is not a bound for that blank alone (its terms are computed with the other
 * blanks partly masked too), but shares of one draw set are comparable across rows.
 */
import { randomSeed } from '../common/fill-options';
import { ApiError } from '../common/api';
import { AbsorbingGraph } from './sampling/graph';
import { LogLinearNoise } from './sampling/noise';
import type { Noise, NoiseSpec } from './sampling/noise';
import { Random } from './random';

/** Log scores of one sequence at total noise sigma → Float32Array [L × V] (analytic.ts ScoreFn with batch 1). */
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

/**
 * Log scores at flat positions of tokens [batch × L] (each of them MASK) at total noise sigma:
 * scores [K × V] and logNorm [K] = log Σ_{j≠MASK} exp(score_j) (ScoreModel.maskedScores). Only K
 * rows of the output projection are computed, which makes it much cheaper than a ScoreFn.
 */
export type ScoreAtFn = (tokens: Int32Array, sigma: number, batch: number, positions: Int32Array) => Promise<{ scores: Float32Array; logNorm: Float32Array }>;

export interface SpanBoundOptions {
  /** Clean token ids of `rows` sequences of the same length L, row-major [rows × L] (no MASK). */
  tokens: Int32Array;
  rows: number;
  /** Span positions in 0 … L−1 (distinct, the same in every row): the only positions ever masked. */
  span: ArrayLike<number>;
  graph: AbsorbingGraph;
  noise: Noise;
  /** Monte Carlo draws, shared by all rows. */
  draws: number;
  seed: number;
  /** Log scores at masked positions only (preferred when the network has it). */
  scoreAt?: ScoreAtFn;
  /** Log scores everywhere, [batch × L × V]; used when scoreAt is not given. */
  score?: ScoreFn;
  estimator?: BoundEstimator;
  /** Rows per network call (default 16). */
  maxBatch?: number;
  /** Called after every network call; throw to stop. */
  checkpoint?: () => void;
  /** Called after every draw with the draws done and the total. */
  onProgress?: (done: number, total: number) => void;
}

export interface SpanBoundResult {
  /** Per row: the estimated bound on −log p(span | context) in nats. */
  nll: Float64Array;
  /** Per row: Monte Carlo standard error of nll (with one draw it cannot be estimated and equals |nll|). */
  stdErr: Float64Array;
  /** Per-position contributions [rows × n], in the order of `span`; each row sums to its nll. */
  perToken: Float64Array;
  /** Per-draw values [rows × draws] (their mean is nll), for paired comparisons (pairedStdErr). */
  values: Float64Array;
  /** Span size n. */
  spanSize: number;
  draws: number;
  networkCalls: number;
  /** Sequences sent through the network, all calls together. */
  networkRows: number;
}

/**
 * Monte Carlo bound on −log p(span | context) for each row, with common random numbers across
 * rows (see the header). Draw d uses Random(seed) consumed in order, as elboBound does for one
 * window: with rows = 1 and a span of every position, the draws (and the estimate) are elboBound's.
 */
export async function spanBound(o: SpanBoundOptions): Promise<SpanBoundResult> {
  const { tokens, rows, graph, noise, draws } = o;
  const estimator = o.estimator ?? 'k';
  if (!(noise instanceof LogLinearNoise)) {
    throw new ApiError('model_error', 'the likelihood bound is implemented for absorbing models with the log-linear noise schedule only');
  }
  if (!Number.isInteger(draws) || draws < 1) throw new RangeError(`draws must be a positive integer, got ${draws}`);
  if (!Number.isInteger(rows) || rows < 1 || tokens.length % rows !== 0 || tokens.length === 0) {
    throw new RangeError(`spanBound: ${tokens.length} tokens do not split into ${rows} rows`);
  }
  const maxBatch = o.maxBatch ?? 16;
  if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new RangeError(`maxBatch must be a positive integer, got ${maxBatch}`);
  if (!o.scoreAt && !o.score) throw new RangeError('spanBound: give scoreAt or score');
  const V = graph.dim;
  const L = tokens.length / rows;
  const n = o.span.length;
  if (n < 1) throw new RangeError('spanBound: the span is empty');
  const span = Int32Array.from(o.span);
  const inSpan = new Uint8Array(L);
  for (const p of span) {
    if (!Number.isInteger(p) || p < 0 || p >= L) throw new RangeError(`span position ${p} is outside 0…${L - 1}`);
    if (inSpan[p]) throw new RangeError(`span position ${p} is repeated`);
    inSpan[p] = 1;
  }
  for (let i = 0; i < tokens.length; i++) {
    const v = tokens[i]!;
    if (!Number.isInteger(v) || v < 0 || v >= graph.mask) throw new RangeError(`token ${v} at row ${Math.floor(i / L)}, position ${i % L} is not a text token`);
  }
  const rng = new Random(o.seed);
  const tail = binomTail(n, 1 - noise.eps);
  const perToken = new Float64Array(rows * n);
  const values = new Float64Array(rows * draws);
  let networkCalls = 0;
  let networkRows = 0;
  for (let d = 0; d < draws; d++) {
    const { t, masked, weight } = boundDraw(n, rng, estimator, noise.eps, tail);
    const slots: number[] = [];
    for (let j = 0; j < n; j++) if (masked[j]) slots.push(j);
    if (slots.length > 0) {
      const sigma = noise.total(t);
      const rate = noise.rate(t);
      const r = 1 / Math.expm1(sigma);
      const c = r * (Math.log(r) - 1);
      const fullMask = new Uint8Array(L);
      for (const j of slots) fullMask[span[j]!] = 1;
      for (let r0 = 0; r0 < rows; r0 += maxBatch) {
        const b = Math.min(maxBatch, rows - r0);
        const xt = tokens.slice(r0 * L, (r0 + b) * L);
        for (let q = 0; q < b; q++) for (const j of slots) xt[q * L + span[j]!] = graph.mask;
        // terms[q][slot] = σ̄'(t)·SE at the slot-th masked span position of row r0 + q.
        const terms = new Float64Array(b * slots.length);
        if (o.scoreAt) {
          const K = b * slots.length;
          const positions = new Int32Array(K);
          for (let q = 0; q < b; q++) slots.forEach((j, s) => (positions[q * slots.length + s] = q * L + span[j]!));
          const { scores, logNorm } = await o.scoreAt(xt, sigma, b, positions);
          if (scores.length !== K * V || logNorm.length !== K)
            throw new Error(`the network returned ${scores.length} scores and ${logNorm.length} normalisers; expected ${K} × ${V} and ${K}`);
          for (let k = 0; k < K; k++) {
            const x0 = tokens[r0 * L + positions[k]!]!;
            terms[k] = rate * (Math.exp(logNorm[k]!) - r * scores[k * V + x0]! + c);
          }
        } else {
          const out = await o.score!(xt, sigma, b);
          if (out.length !== b * L * V) throw new Error(`the network returned ${out.length} scores; expected ${b} × ${L} × ${V}`);
          for (let q = 0; q < b; q++) {
            const rowTerms = scoreEntropyTerms(
              out.subarray(q * L * V, (q + 1) * L * V),
              tokens.subarray((r0 + q) * L, (r0 + q + 1) * L),
              fullMask,
              V,
              sigma,
              rate,
            );
            slots.forEach((j, s) => (terms[q * slots.length + s] = rowTerms[span[j]!]!));
          }
        }
        networkCalls++;
        networkRows += b;
        o.checkpoint?.();
        for (let q = 0; q < b; q++) {
          const row = r0 + q;
          let value = 0;
          slots.forEach((j, s) => {
            const v = weight * terms[q * slots.length + s]!;
            perToken[row * n + j] = perToken[row * n + j]! + v / draws;
            value += v;
          });
          values[row * draws + d] = value;
        }
      }
    }
    o.onProgress?.(d + 1, draws);
  }
  const nll = new Float64Array(rows);
  const stdErr = new Float64Array(rows);
  for (let row = 0; row < rows; row++) {
    const vs = values.subarray(row * draws, (row + 1) * draws);
    const mean = vs.reduce((a, b) => a + b, 0) / draws;
    nll[row] = mean;
    stdErr[row] = draws >= 2 ? Math.sqrt(vs.reduce((a, v) => a + (v - mean) ** 2, 0) / (draws - 1) / draws) : Math.abs(mean);
  }
  return { nll, stdErr, perToken, values, spanSize: n, draws, networkCalls, networkRows };
}

/**
 * Standard error of nll[a] − nll[b] from the per-draw values of one spanBound result: with common
 * random numbers the draws pair up, and this is usually far below √(stdErr[a]² + stdErr[b]²).
 * With one draw it cannot be estimated and equals the difference's magnitude.
 */
export function pairedStdErr(result: Pick<SpanBoundResult, 'values' | 'draws'>, a: number, b: number): number {
  const D = result.draws;
  const diff = Array.from({ length: D }, (_, d) => result.values[a * D + d]! - result.values[b * D + d]!);
  const mean = diff.reduce((x, y) => x + y, 0) / D;
  return D >= 2 ? Math.sqrt(diff.reduce((x, v) => x + (v - mean) ** 2, 0) / (D - 1) / D) : Math.abs(mean);
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
  const [{ loadModelPackage }, { Tokenizer }, { ScoreModel }] = await Promise.all([
    import('./model/package'),
    import('./model/tokenizer'),
    import('./runtime/score-model'),
  ]);
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
    throw new ApiError(
      'model_error',
      `model "${m.id}" uses the ${m.graph.type} graph with ${m.noise.type} noise; ` +
        'the likelihood bound is implemented for absorbing models with log-linear noise only',
    );
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
  const seed = opts.seed ?? randomSeed();
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
