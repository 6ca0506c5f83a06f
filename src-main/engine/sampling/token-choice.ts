/**
 * Token choice: which token a masked position takes when it unmasks, and in which order positions
 * unmask. Absorbing graph, analytic sampler (analytic.ts).
 *
 * The analytic step at a masked position factors into (a) whether it unmasks, with probability
 * min(1, K·S) (K = e^{dσ} − 1, S = Σ_{j≠MASK} e^{s_j}, s the log-score row), and (b) which token it
 * takes, q_j ∝ e^{s_j} over the real tokens. The variants here change (b) and the order of (a)'s
 * outcomes, never how many positions unmask per step, so the schedule of the reverse process (and
 * with it the number of network calls) stays that of the sampler:
 *
 *  - temperature τ: q_j ∝ e^{s_j/τ} (τ < 1 sharper, τ > 1 flatter), as an autoregressive model's;
 *  - nucleus p (Holtzman et al. 2020, "top-p"): q restricted to the smallest set of the likeliest
 *    tokens whose mass under q reaches p, renormalised; it cuts the long tail of unlikely tokens
 *    that small models sample into word salad. Only tokens with q_j ≥ (1 − p)/n can belong to that
 *    set (the tokens below that bound together hold less than 1 − p), so only those are sorted;
 *  - bans (joins.ts): tokens a position may not take, removed before the nucleus is formed. A ban
 *    may depend on the tokens already written around the position (no run of more than two line
 *    breaks): the samplers ask for it when the position's token is decided, with the sequence as
 *    it stands then, and draw again from the same uniform/race when a token drawn earlier (the
 *    confidence order draws before it orders) became banned meanwhile;
 *  - confidence-ordered unmasking (MaskGIT, Chang et al. 2022; LLaDA, Nie et al. 2025, "low
 *    confidence remasking"): (a) is drawn at every masked position as usual, which gives the number
 *    m of positions this step unmasks; then instead of those m positions, the m positions whose
 *    drawn token is likeliest (largest q of the token drawn for them) unmask, each with its drawn
 *    token. Positions the model is surest of are written first and the rest are decided knowing
 *    them. A position whose drawn token was unlikely waits and draws again after the next
 *    network call, so the order also sharpens the token choice, much as a lower temperature
 *    does. This is a heuristic: the sampler no longer samples the model's joint distribution
 *    exactly (the plain order does, up to the step size), which is why it is an option, measured.
 *
 * The plain choice (τ = 1, p = 1, no bans, random order) is exactly the sampler of analytic.ts.
 */

export type UnmaskingOrder = 'random' | 'confident';

export interface TokenChoice {
  /** τ > 0; 1 leaves the model's distribution as it is. */
  temperature: number;
  /** Nucleus mass p in (0, 1]; 1 keeps every token. */
  topP: number;
  /**
   * The tokens a flat position may not take (1 = banned; length ≥ the real tokens), or undefined
   * for none. `tokens`: the sampler's sequence as it stands (MASK where undecided), for bans that
   * depend on the neighbours; without it, the bans that hold whatever the neighbours.
   */
  banned?: ((position: number, tokens?: Int32Array) => Uint8Array | undefined) | undefined;
  order: UnmaskingOrder;
}

export const PLAIN_CHOICE: TokenChoice = { temperature: 1, topP: 1, order: 'random' };

/** Whether (b) at this position is the model's own softmax (τ = 1, p = 1, nothing banned there). */
export function plainAt(choice: TokenChoice, position: number): boolean {
  return choice.temperature === 1 && choice.topP >= 1 && !choice.banned?.(position);
}

/** Whether every position's choice is plain and the order random: the sampler exactly as specified. */
export function isPlain(choice: TokenChoice): boolean {
  return choice.temperature === 1 && choice.topP >= 1 && !choice.banned && choice.order === 'random';
}

/**
 * The distribution (b) at one position, as unnormalised weights over tokens 0 … n−1 written into
 * `weights` (e^{(s_j − m)/τ} for the candidates, 0 for banned tokens and those outside the
 * nucleus; m the largest candidate score), with their total and log Σ_{candidates} e^{s_j/τ}.
 * When every token is banned the bans are ignored (joins.ts never bans everything; this keeps the
 * draw defined); when every weight is 0 (all −∞) the total is 0. Tokens tied with the nucleus's
 * smallest weight are all kept (the nucleus is at least p; exact ties do not occur in practice).
 */
export function choiceWeights(
  row: ArrayLike<number>,
  n: number,
  choice: TokenChoice,
  position: number,
  weights: Float64Array,
  tokens?: Int32Array,
): { total: number; logTotal: number } {
  const inv = 1 / choice.temperature;
  let banned = choice.banned?.(position, tokens);
  let max = -Infinity;
  for (let j = 0; j < n; j++) if (!(banned && banned[j]) && row[j]! * inv > max) max = row[j]! * inv;
  if (max === -Infinity && banned) {
    banned = undefined;
    for (let j = 0; j < n; j++) if (row[j]! * inv > max) max = row[j]! * inv;
  }
  if (max === -Infinity) {
    weights.fill(0, 0, n);
    return { total: 0, logTotal: -Infinity };
  }
  let total = 0;
  let count = 0;
  for (let j = 0; j < n; j++) {
    const v = banned && banned[j] ? 0 : Math.exp(row[j]! * inv - max);
    weights[j] = v;
    total += v;
    if (v > 0) count++;
  }
  if (choice.topP >= 1) return { total, logTotal: max + Math.log(total) };
  // Nucleus: only tokens with w_j ≥ (1 − p)·total/count can be in it (see the header).
  const floor = ((1 - choice.topP) * total) / count;
  const cand: number[] = [];
  for (let j = 0; j < n; j++) if (weights[j]! > 0 && weights[j]! >= floor) cand.push(weights[j]!);
  cand.sort((a, b) => b - a);
  const target = choice.topP * total;
  let acc = 0;
  let threshold = cand[cand.length - 1] ?? 0;
  for (const w of cand) {
    acc += w;
    if (acc >= target) {
      threshold = w;
      break;
    }
  }
  let kept = 0;
  for (let j = 0; j < n; j++) {
    if (weights[j]! < threshold) weights[j] = 0;
    else kept += weights[j]!;
  }
  return { total: kept, logTotal: max + Math.log(kept) };
}

/** Whether `token` became banned at `position` given the sequence as it stands (a neighbour-dependent ban). */
export function bannedNow(choice: TokenChoice, position: number, token: number, tokens: Int32Array): boolean {
  const banned = choice.banned?.(position, tokens);
  return !!banned && banned[token] === 1;
}

/** The token at cumulative probability u ∈ [0, 1) of choiceWeights' weights (inverse CDF; token 0 when the total is 0) and its probability. */
export function drawFrom(weights: Float64Array, n: number, total: number, u: number): { token: number; probability: number } {
  if (!(total > 0)) return { token: 0, probability: 0 };
  const target = u * total;
  let acc = 0;
  let last = 0;
  for (let j = 0; j < n; j++) {
    const w = weights[j]!;
    if (w <= 0) continue;
    last = j;
    acc += w;
    if (acc > target) return { token: j, probability: w / total };
  }
  return { token: last, probability: weights[last]! / total }; // rounding left u·total at the very end
}

/**
 * Confidence order for one step: given the masked positions, whether (a) unmasked each, and the
 * probability of each one's drawn token, the positions that unmask instead: as many as (a)
 * unmasked, the likeliest drawn tokens first (ties: lower position first). Per batch row: rows are
 * independent fills, so each row keeps its own count.
 */
export function confidentPositions(masked: ArrayLike<number>, unmask: ArrayLike<boolean>, confidence: ArrayLike<number>, rowLength: number): Set<number> {
  const byRow = new Map<number, { count: number; items: number[] }>();
  for (let k = 0; k < masked.length; k++) {
    const row = Math.floor(masked[k]! / rowLength);
    let r = byRow.get(row);
    if (!r) byRow.set(row, (r = { count: 0, items: [] }));
    if (unmask[k]) r.count++;
    r.items.push(k);
  }
  const out = new Set<number>();
  for (const r of byRow.values()) {
    r.items.sort((a, b) => confidence[b]! - confidence[a]! || masked[a]! - masked[b]!);
    for (let i = 0; i < r.count; i++) out.add(masked[r.items[i]!]!);
  }
  return out;
}
