/**
 * Which sampler a model runs, and one window of a fill sampled with it (docs/sedd.md §3).
 *
 * Absorbing + log-linear models use the exact analytic sampler: with the categorical draw fused
 * into the network when the ONNX graph has it (fused.ts; ONNX I/O 2: projection at masked positions
 * only, token ids and log-normalisers back), else on the full output by the exponential race
 * (analytic.ts). For this pair Euler and analytic give the same step, so a manifest asking for
 * "euler" runs it too. Every other model (uniform graph, geometric noise) runs the general dense
 * sampler (predictor.ts samplePc) with the manifest's predictor, the same windows, batch of
 * alternatives and per-alternative Exp(1) streams; output reuse does not apply there, so a uniform
 * model makes steps + 1 network calls per window.
 *
 * Progress: for absorbing models each step reports the positions that left MASK in it. A uniform
 * model has no MASK and every generated token may change until the window's last step, so its
 * steps report nothing until the last, which lists the window's generated positions with their
 * final tokens.
 */
import type { AbsorbingGraph, Graph } from './graph';
import { graphFromSpec } from './graph';
import { type Noise, type NoiseSpec, noiseFromSpec } from './noise';
import { sampleAnalyticAbsorbing, type ExpNoise, type OutputReuse, type SampleResult, type ScoreFn, type UnmaskedToken } from './analytic';
import { sampleAnalyticAbsorbingFused, type MaskedDrawFn, type MaskedScoresFn } from './fused';
import { samplePc, type Predictor } from './predictor';
import type { TokenChoice } from './token-choice';

/** The parts of a model manifest (model/package.ts Manifest) that choose the sampler. */
export interface SamplerManifest {
  graph: { type: 'absorb' | 'uniform' };
  noise: NoiseSpec;
  vocab_size: number;
  sampling?: { sampler?: string | undefined } | undefined;
}

export interface SamplerChoice {
  graph: Graph;
  noise: Noise;
  predictor: Predictor;
  /** True for absorb + log-linear: the analytic sampler (analytic.ts, fused.ts) is exact for it; false: samplePc. */
  fast: boolean;
}

/** Whether fills take a token choice other than the plain one: absorb + log-linear (samplePc has none). */
export function supportsTemperature(m: Pick<SamplerManifest, 'graph' | 'noise'>): boolean {
  return m.graph.type === 'absorb' && m.noise.type === 'loglinear';
}

/** Graph, noise and predictor from a manifest (sampling.sampler: "analytic" (default) or "euler"). */
export function chooseSampler(m: SamplerManifest): SamplerChoice {
  const name = m.sampling?.sampler ?? 'analytic';
  if (name !== 'analytic' && name !== 'euler') {
    throw new RangeError(`unknown sampler "${name}" in the model manifest (sampling.sampler must be "analytic" or "euler")`);
  }
  return { graph: graphFromSpec(m.graph.type, m.vocab_size), noise: noiseFromSpec(m.noise), predictor: name, fast: supportsTemperature(m) };
}

/** The network calls the samplers make (runtime/score-model.ts ScoreModel). */
export interface SamplerNetwork {
  /** Whether the graph draws tokens itself (ONNX I/O 2). */
  readonly fusedDraw: boolean;
  scoreBatch: ScoreFn;
  maskedDraw: MaskedDrawFn;
  maskedScores: MaskedScoresFn;
}

/** One window of a fill: `batch` rows of the window's tokens, sampled together. */
export interface WindowSampling {
  sampler: SamplerChoice;
  network: SamplerNetwork;
  /** Never the fused draw (EngineOptions.sampling 'reference'). */
  reference: boolean;
  /** [batch × L] tokens: the text, MASK (absorbing) or UNKNOWN (uniform) where generated. */
  template: Int32Array;
  batch: number;
  /** Positions held as they are (a later blank's MASK in this window's context; absorbing only). */
  fixed: Uint8Array;
  /** [L]: the positions of the window this fill generates (per row). */
  generate: Uint8Array;
  steps: number;
  reuse: OutputReuse;
  scaleBySigma: boolean;
  /** Exp(1) draws, one stream per row (analytic.ts, predictor.ts). */
  exp: ExpNoise;
  /** Uniform draws, one stream per row (fused.ts). */
  uniform: (row: number) => number;
  /** The token choice with this window's join bans (absorbing + log-linear only). */
  choice: TokenChoice;
  /** The join bans for samplePc. */
  banned: NonNullable<TokenChoice['banned']>;
  /** After each step (steps: the last one, with the denoise): the positions that took a token in it. */
  progress: (step: number, unmasked: readonly UnmaskedToken[]) => void;
  checkpoint: () => void;
}

/** Samples one window with the model's sampler. */
export async function sampleWindow(w: WindowSampling): Promise<SampleResult> {
  const { sampler, network, template, batch, fixed, steps, checkpoint } = w;
  const L = template.length / batch;
  const onStep = (step: number, _masked: unknown, unmasked: readonly UnmaskedToken[]): void => w.progress(step, unmasked);
  const score = (tokens: Int32Array, sigma: number, rows: number): Promise<Float32Array> => network.scoreBatch(tokens, sigma, rows);
  if (sampler.fast) {
    const common = {
      template,
      batch,
      fixed,
      reuse: w.reuse,
      scaleBySigma: w.scaleBySigma,
      graph: sampler.graph as AbsorbingGraph,
      noise: sampler.noise,
      steps,
      choice: w.choice,
      onStep,
      checkpoint,
    };
    if (network.fusedDraw && !w.reference) {
      return sampleAnalyticAbsorbingFused({
        ...common,
        uniform: w.uniform,
        draw: (tokens, sigma, rows, positions, uniforms) => network.maskedDraw(tokens, sigma, rows, positions, uniforms),
        scores: (tokens, sigma, rows, positions) => network.maskedScores(tokens, sigma, rows, positions),
      });
    }
    return sampleAnalyticAbsorbing({ ...common, exp: w.exp, score });
  }
  const pc = {
    template,
    batch,
    graph: sampler.graph,
    noise: sampler.noise,
    steps,
    predictor: sampler.predictor,
    exp: w.exp,
    score,
    banned: w.banned,
    checkpoint,
  };
  if (sampler.graph.absorb) {
    // samplePc reports x after every update; the positions that left MASK since the last progress
    // event are that event's `unmasked` (the last step and the denoise share one, as in analytic.ts).
    const mask = sampler.graph.mask;
    const prev = template.slice();
    let pending: UnmaskedToken[] = [];
    return samplePc({
      ...pc,
      fixed,
      onUpdate: (_call, x) => {
        for (let i = 0; i < x.length; i++) {
          if (prev[i] === mask && x[i] !== mask && !fixed[i]) pending.push({ row: Math.floor(i / L), position: i % L, token: x[i]! });
        }
        prev.set(x);
      },
      onStep: (step) => {
        const unmasked = pending;
        pending = [];
        w.progress(step, unmasked);
      },
    });
  }
  const result = await samplePc({
    ...pc,
    onStep: (step) => {
      if (step < steps) w.progress(step, []);
    },
  });
  // Final only now: every generated position of the window, in one event.
  const final: UnmaskedToken[] = [];
  for (let a = 0; a < batch; a++) for (let i = 0; i < L; i++) if (w.generate[i]) final.push({ row: a, position: i, token: result.tokens[a * L + i]! });
  w.progress(steps, final);
  return result;
}
