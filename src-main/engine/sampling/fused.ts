/**
 * The fused draw: the analytic sampler for the absorbing graph (analytic.ts) with the categorical
 * draw done inside the network (ONNX I/O 2, models/sedd/export.py; docs/sedd.md §3 "fused draw").
 * The same chain as sampleAnalyticAbsorbing, sampled differently: only a token and a log-normaliser
 * per masked position cross from onnxruntime into JavaScript.
 */
import { checkedSetup, linspace, logExpm1, scratch, temperedDraw, type AnalyticSamplerOptions, type SampleResult, type UnmaskedToken } from './analytic';
import { bannedNow, choiceWeights, confidentPositions, drawFrom, isPlain, plainAt } from './token-choice';

/**
 * The fused network call (score-model.ts maskedDraw): at flat `positions` of tokens [batch × L],
 * every one MASK, a token drawn from softmax over j ≠ MASK of the position's log-score row by
 * inverse CDF at `uniforms`, and log_norm = log Σ_{j≠MASK} exp(row_j), computed at total noise sigma.
 */
export type MaskedDrawFn = (
  tokens: Int32Array,
  sigma: number,
  batch: number,
  positions: Int32Array,
  uniforms: Float32Array,
) => Promise<{ tokens: Int32Array; logNorm: Float32Array }>;

/** Log scores at flat masked positions (Float32Array [K × dim]) and their log normalisers (ONNX I/O 2). */
export type MaskedScoresFn = (
  tokens: Int32Array,
  sigma: number,
  batch: number,
  positions: Int32Array,
) => Promise<{ scores: Float32Array; logNorm: Float32Array }>;

export interface FusedSamplerOptions extends Omit<AnalyticSamplerOptions, 'exp' | 'score'> {
  draw: MaskedDrawFn;
  /** Needed when the token choice is not plain (temperature, nucleus, bans, confidence order): the rows at the masked positions, so that (b) is drawn here. */
  scores?: MaskedScoresFn;
  /** Uniform [0, 1) draws, one stream per batch row (e.g. Random.uniform of that row's generator). */
  uniform: (row: number) => number;
}

/** A token not drawn yet (sampleAnalyticAbsorbingFused draws it when its position unmasks). */
const PENDING = -1;

/** The largest float32 below 1 is 1 − 2^−24; uniforms are rounded down to a multiple of 2^−24. */
const U24 = 2 ** 24;

/**
 * The analytic absorbing sampler of sampleAnalyticAbsorbing with the categorical draw fused into
 * the network (ONNX I/O 2, models/sedd/export.py): the same chain, sampled differently.
 *
 * At a masked position the analytic step (graph.maskedStep) moves to token j ≠ MASK with
 * probability K·e^{row_j} and stays MASK with probability 1 − K·S (K = e^{dσ} − 1,
 * S = Σ_{j≠MASK} e^{row_j}, row_MASK = 0 at a masked position), so it factors into
 *   (a) whether the position unmasks: probability min(1, K·S) = min(1, exp(logK + log_norm)), and
 *   (b) which token it takes: softmax over j ≠ MASK of the row, independent of (a) and of dσ.
 * The network draws (b) in the graph for every masked position (one uniform each, inverse CDF),
 * and JavaScript draws (a) from log_norm; only those two numbers per masked position cross into
 * JavaScript, and the output projection runs at masked positions only. The final denoise step
 * unmasks every remaining position with its drawn token. When a network output is reused (a step
 * that unmasked nothing, see the header), the earlier draw (b) is reused too: x is unchanged, so
 * (b)'s distribution is the same, and (a) only needs log_norm with the σ shift re-applied.
 *
 * Random numbers, per row's stream: for every network call, one uniform per masked position of
 * that row (in position order) for (b); for every step, one per masked position for (a). Seeded
 * results are reproducible but differ from sampleAnalyticAbsorbing's (which draws by the
 * exponential race); the distribution is the same (fused.test.ts checks it).
 */
export async function sampleAnalyticAbsorbingFused(o: FusedSamplerOptions): Promise<SampleResult> {
  const { template, graph, noise, steps } = o;
  const { eps, batch, reuse, scaleBySigma, N, L, V, choice } = checkedSetup(o);
  const mask = graph.mask;
  const scores = o.scores;
  const plain = isPlain(choice);
  if (!plain && !scores) throw new RangeError('a token choice other than the plain one (temperature, top-p, bans, confidence order) needs the scores function');
  const fixed = o.fixed;
  const x = template.slice();
  const grid = linspace(1, eps, steps + 1);
  const dt = (1 - eps) / steps;
  /** Per position: the token drawn by the last network call, its log_norm, and (confidence order) its probability under the choice. */
  const drawn = new Int32Array(N);
  const logNorm = new Float64Array(N);
  const confidence = new Float64Array(N);
  let cachedSigma = NaN;
  let changed = true;
  let networkCalls = 0;

  const maskedPositions = (): Int32Array => {
    let n = 0;
    for (let i = 0; i < N; i++) if (x[i] === mask && !(fixed && fixed[i])) n++;
    const out = new Int32Array(n);
    n = 0;
    for (let i = 0; i < N; i++) if (x[i] === mask && !(fixed && fixed[i])) out[n++] = i;
    return out;
  };
  /** Draws (b) at t (or reuses the last ones); returns the shift to add to the stored log_norm. */
  /** The last call's rows at its masked positions (by flat position) and their uniforms, for tokens drawn on demand. */
  let pending: { scores: Float32Array; slot: Map<number, number>; uniforms: Float32Array } | null = null;
  const drawPending = (i: number): number => {
    const k = pending!.slot.get(i)!;
    const row = pending!.scores.subarray(k * V, (k + 1) * V);
    if (plainAt(choice, i) && choice.order === 'random') return temperedDraw(row, mask, 1, pending!.uniforms[k]!);
    const weights = scratch(mask);
    const { total } = choiceWeights(row, mask, choice, i, weights, x);
    const pick = drawFrom(weights, mask, total, pending!.uniforms[k]!);
    confidence[i] = pick.probability;
    return pick.token;
  };
  /** Position i's token from the last network call (drawn now when it was left pending). */
  const tokenAt = (i: number): number => {
    if (drawn[i] === PENDING) drawn[i] = drawPending(i);
    return drawn[i]!;
  };
  /**
   * The token position i is written with now. Confidence order drew it before the order was known:
   * a neighbour written since may ban it (joins.ts line-break runs), then it is drawn again from
   * the same row and uniform with the bans of now.
   */
  const decide = (i: number): number => {
    if (choice.order === 'confident' && drawn[i] !== PENDING && bannedNow(choice, i, drawn[i]!, x)) drawn[i] = drawPending(i);
    return tokenAt(i);
  };
  const evaluate = async (t: number, masked: Int32Array): Promise<number> => {
    const total = noise.total(t);
    const sigma = Math.fround(total);
    if (!changed && reuse !== 'never' && networkCalls > 0) return scaleBySigma ? logExpm1(cachedSigma) - logExpm1(sigma) : 0;
    const uniforms = new Float32Array(masked.length);
    for (let k = 0; k < masked.length; k++) uniforms[k] = Math.floor(o.uniform(Math.floor(masked[k]! / L)) * U24) / U24;
    let out: { tokens: Int32Array; logNorm: Float32Array };
    if (plain) {
      out = await o.draw(x, total, batch, masked, uniforms);
    } else {
      // (b) from the choice's distribution, drawn here with the same uniform the graph would have used.
      // In random order only the positions that unmask need their token: it is drawn when (a)
      // says so (tokenAt), from this call's row and the uniform drawn now, which gives the same
      // token as drawing it here and costs a pass over the vocabulary per unmasked position
      // instead of per masked position and call. Confidence order needs every draw at once.
      const rows = await scores!(x, total, batch, masked);
      if (rows.scores.length !== masked.length * V)
        throw new Error(`the network returned ${rows.scores.length} scores for ${masked.length} masked positions of dimension ${V}`);
      pending = { scores: rows.scores, slot: new Map(Array.from(masked, (i, k) => [i, k])), uniforms };
      const tokens = new Int32Array(masked.length);
      if (choice.order === 'confident') for (let k = 0; k < masked.length; k++) tokens[k] = drawPending(masked[k]!);
      else tokens.fill(PENDING);
      out = { tokens, logNorm: rows.logNorm };
    }
    o.checkpoint?.();
    networkCalls++;
    if (out.tokens.length !== masked.length || out.logNorm.length !== masked.length) {
      throw new Error(`the network drew ${out.tokens.length} tokens and ${out.logNorm.length} norms for ${masked.length} masked positions`);
    }
    for (let k = 0; k < masked.length; k++) {
      const i = masked[k]!;
      const token = out.tokens[k]!;
      const ln = out.logNorm[k]!;
      if (Number.isNaN(ln)) throw new Error('the network returned scores that are not numbers (NaN)');
      if (!(token >= 0 && token < mask) && token !== PENDING) throw new Error(`the network drew token ${token}, outside 0…${mask - 1}`);
      drawn[i] = token;
      logNorm[i] = ln;
    }
    cachedSigma = sigma;
    changed = false;
    return 0;
  };
  const unmaskedBy = (masked: Int32Array): UnmaskedToken[] => {
    const out: UnmaskedToken[] = [];
    for (const i of masked) if (x[i] !== mask) out.push({ row: Math.floor(i / L), position: i % L, token: x[i]! });
    if (out.length > 0) changed = true;
    return out;
  };
  const stillMasked = (masked: Int32Array): number => {
    let n = 0;
    for (const i of masked) if (x[i] === mask) n++;
    return n;
  };

  let lastStep: UnmaskedToken[] = [];
  for (let k = 0; k < steps; k++) {
    o.checkpoint?.();
    const masked = maskedPositions();
    let unmasked: UnmaskedToken[] = [];
    if (masked.length > 0) {
      const t = grid[k]!;
      const dsigma = noise.total(t) - noise.total(t - dt);
      const shift = await evaluate(t, masked);
      const logK = Math.log(Math.expm1(dsigma)) + shift;
      // (a): unmask with probability min(1, K·S); an all −∞ row (S = 0) never unmasks here.
      const unmask = Array.from(masked, (i) => o.uniform(Math.floor(i / L)) < Math.exp(logK + logNorm[i]!));
      if (choice.order === 'random') {
        masked.forEach((i, k) => {
          if (unmask[k]) x[i] = tokenAt(i);
        });
      } else {
        const chosen = confidentPositions(
          masked,
          unmask,
          Array.from(masked, (i) => (logNorm[i] === -Infinity ? -1 : confidence[i]!)),
          L,
        );
        for (const i of chosen) x[i] = decide(i);
      }
      unmasked = unmaskedBy(masked);
    }
    o.onUpdate?.(k, x);
    if (k < steps - 1) o.onStep?.(k + 1, stillMasked(masked), unmasked);
    else lastStep = unmasked;
  }

  o.checkpoint?.();
  const masked = maskedPositions();
  let unmasked: UnmaskedToken[] = [];
  if (masked.length > 0) {
    await evaluate(eps, masked);
    // The denoiser drops MASK: every remaining position takes its drawn token (token 0 if the
    // network gave no information at all, as drawMasked does).
    for (const i of masked) x[i] = logNorm[i] === -Infinity ? 0 : decide(i);
    unmasked = unmaskedBy(masked);
  }
  o.onUpdate?.(steps, x);
  o.onStep?.(steps, stillMasked(masked), [...lastStep, ...unmasked]);
  return { tokens: x, networkCalls };
}
