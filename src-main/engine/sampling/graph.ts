/**
 * The absorbing diffusion graph (sedd.md §2–3; official graph_lib.py, class Absorbing).
 *
 * States are token ids 0 … dim−1; the last one, dim−1, is MASK. Forward in time each token
 * independently jumps to MASK; backward, the sampler unmasks.
 *
 * `staggeredScore` and `transpTransition` are the general formulas, over a whole row of the
 * vocabulary, exactly as the official code writes them. The sampler uses `maskedStep`, their
 * product in closed form at a masked position, which needs one pass over the row and no
 * temporary vectors; the unit tests check the two agree.
 */

export class AbsorbingGraph {
  readonly absorb = true;
  /** MASK, the absorbing state. */
  readonly mask: number;

  constructor(readonly dim: number) {
    if (!Number.isInteger(dim) || dim < 2) throw new RangeError(`absorbing graph dimension must be an integer ≥ 2, got ${dim}`);
    this.mask = dim - 1;
  }

  /**
   * Staggered score at step size dσ: s·e^{dσ}, then entry MASK += (1 − e^{dσ})·Σ s
   * (the sum taken over the unscaled scores, MASK included).
   */
  staggeredScore(score: ArrayLike<number>, dsigma: number): Float64Array {
    const out = new Float64Array(this.dim);
    const e = Math.exp(dsigma);
    let sum = 0;
    for (let j = 0; j < this.dim; j++) {
      const s = score[j]!;
      sum += s;
      out[j] = s * e;
    }
    out[this.mask] = out[this.mask]! + (1 - e) * sum;
    return out;
  }

  /**
   * Transposed transition Pᵀ(x, dσ) = e^{−dσ}·onehot(x) + [x = MASK]·(1 − e^{−dσ}) on every entry:
   * the probability of having come from each state, given state x after noise dσ.
   */
  transpTransition(x: number, dsigma: number): Float64Array {
    const out = new Float64Array(this.dim);
    if (x === this.mask) out.fill(-Math.expm1(-dsigma));
    out[x] = out[x]! + Math.exp(-dsigma);
    return out;
  }

  /**
   * The analytic (Tweedie τ-leaping) step weights p = staggeredScore(s, dσ) ⊙ Pᵀ(MASK, dσ) at a
   * masked position, in closed form. With K = e^{dσ} − 1 and S = Σ_{j≠MASK} s_j:
   *
   *   p_j    = s_j·e^{dσ}·(1 − e^{−dσ})                    = K·s_j          (j ≠ MASK)
   *   p_MASK = s_MASK·e^{dσ} + (1 − e^{dσ})·(S + s_MASK)   = s_MASK − K·S
   *
   * (s_MASK = 1 for a network that writes out[x] = 0 at the input token, as SEDD does; then Σ p = 1.)
   * p_MASK can be negative when the scores over-claim; such an entry can never win the draw.
   *
   * Everything is returned in the log domain so that rows of large log scores neither overflow nor
   * underflow: log p_j = row[j] + logK for j ≠ MASK, and pMask as a plain number.
   *
   * For the log-linear schedule, K = (1−ε)(t−s)/(1−(1−ε)t) and, with scale_by_sigma,
   * p_j = e^{raw_j}/(V−1)·(t−s)/t — sedd.md's closed form.
   *
   * @param row the log scores of one position, length dim (row[j] = log s_j)
   */
  maskedStep(row: ArrayLike<number>, dsigma: number): { logK: number; pMask: number } {
    const logK = Math.log(Math.expm1(dsigma));
    let max = -Infinity;
    for (let j = 0; j < this.dim; j++) if (j !== this.mask && row[j]! > max) max = row[j]!;
    let sum = 0;
    if (max > -Infinity) for (let j = 0; j < this.dim; j++) if (j !== this.mask) sum += Math.exp(row[j]! - max);
    // K·S = exp(logK + max + log Σ e^{row_j − max})
    const logKS = sum > 0 ? logK + max + Math.log(sum) : -Infinity;
    const pMask = Math.exp(row[this.mask]!) - Math.exp(logKS);
    return { logK, pMask };
  }
}

/**
 * Reverse rate for the Euler predictor (official graph_lib.py, Graph.reverse_rate):
 * Q̄(x, ·)_j = s_j·Qᵀ(x)_j for j ≠ x and Q̄(x, ·)_x = −Σ_{j≠x} Q̄(x, ·)_j, where Qᵀ(x) = transp_rate(x)
 * is row x of the transposed generator. Absorbing: Qᵀ(MASK)_j = 1 for j ≠ MASK (0 elsewhere; a real
 * token has no incoming rate). Uniform: Qᵀ(x)_j = 1/N for j ≠ x.
 *
 * @param score the concrete scores s (not logs) of one position, length dim
 */
export function reverseRate(graph: Graph, x: number, score: ArrayLike<number>): Float64Array {
  const out = new Float64Array(graph.dim);
  if (graph.absorb && x !== graph.dim - 1) return out;
  const q = graph.absorb ? 1 : 1 / graph.dim;
  const last = graph.absorb ? graph.dim - 1 : graph.dim;
  let sum = 0;
  for (let j = 0; j < last; j++) {
    if (j === x) continue;
    const r = q * score[j]!;
    out[j] = r;
    sum += r;
  }
  out[x] = -sum;
  return out;
}

/**
 * The uniform diffusion graph (sedd.md §2; official graph_lib.py, class Uniform): dim = N states,
 * no MASK. Forward in time, with probability 1 − e^{−σ̄} a token is replaced by a uniformly drawn one
 * (possibly itself).
 */
export class UniformGraph {
  readonly absorb = false;

  constructor(readonly dim: number) {
    if (!Number.isInteger(dim) || dim < 2) throw new RangeError(`uniform graph dimension must be an integer ≥ 2, got ${dim}`);
  }

  /**
   * Staggered score s·e^{dσ} + (1 − e^{dσ})/N·Σ s (the official code writes the same as
   * ((e^{−dσ} − 1)/(N·e^{−dσ}))·Σ s + s/e^{−dσ}).
   */
  staggeredScore(score: ArrayLike<number>, dsigma: number): Float64Array {
    const out = new Float64Array(this.dim);
    const e = Math.exp(dsigma);
    let sum = 0;
    for (let j = 0; j < this.dim; j++) sum += score[j]!;
    const c = ((1 - e) / this.dim) * sum;
    for (let j = 0; j < this.dim; j++) out[j] = score[j]! * e + c;
    return out;
  }

  /**
   * Transposed transition Pᵀ(x, σ): (1 − e^{−σ})/N at every j ≠ x and 1 − (N − 1)(1 − e^{−σ})/N at x
   * (written as 1 − Σ_{j≠x}, as the official code does).
   */
  transpTransition(x: number, sigma: number): Float64Array {
    const out = new Float64Array(this.dim);
    const a = (1 - Math.exp(-sigma)) / this.dim;
    out.fill(a);
    out[x] = 1 - a * (this.dim - 1);
    return out;
  }
}

/** A forward-process graph: absorbing (MASK = dim − 1) or uniform. */
export type Graph = AbsorbingGraph | UniformGraph;

export function graphFromSpec(type: 'absorb' | 'uniform', dim: number): Graph {
  return type === 'absorb' ? new AbsorbingGraph(dim) : new UniformGraph(dim);
}
