/**
 * The engine in-process: model loading (cached per package folder), one fill at a time, progress
 * per step, cancellation between steps. The app runs it inside the engine host process
 * (engine-host.ts) behind EngineClient; tests and tools may use it directly.
 *
 * A fill: the text is planned (infill.ts: tokens, blanks, context windows); the windows are
 * sampled in document order, each as one batch of `alternatives` rows, each alternative keeping its
 * own document (a later window sees that alternative's earlier fills) and its own Exp(1) stream,
 * seeded with alternativeSeed(seed, a). Progress comes once per step (steps × windows in all) with
 * the positions that step unmasked. Cancellation is checked at every step, between windows and
 * after every network call; one network call in flight is not interruptible, so a cancel takes
 * effect at the latest when it returns.
 *
 * Network-output reuse (analytic.ts): exact for models whose manifest says time_conditioned: false;
 * with mode 'fast' also (approximately) for σ-conditioned weights; never otherwise.
 *
 * Samplers and what their progress reports: sampling/choice.ts (chooseSampler, sampleWindow).
 * A later blank that reaches into a window is context MASK there (absorbing, fixed); under the
 * uniform graph, which has no MASK, its positions are sampled along with the window and discarded
 * (its own window generates it afterwards).
 *
 * Progress (types.ts FillProgressInfo): for absorbing models `masked` counts positions still MASK
 * and `unmasked` the positions that left MASK in the step. A uniform model has no MASK and every
 * generated token may change until the window's last step, so there `masked` counts all blank
 * positions of the current and later windows until a window's last step, which drops it by that
 * window's positions (0 at the end), and `unmasked` is empty except at that last step, which lists
 * the window's blank positions with their final tokens.
 *
 * Token choice and joins: every blank position samples with the request's token choice
 * (token-choice.ts: temperature, top-p, unmasking order; defaults from the manifest) and the join
 * bans of its blank (joins.ts planBans), so fills sit in their text as typed text does.
 *
 * Ranking and auto length (issue 14). When there is a choice to make, i.e. several alternatives or
 * a blank of 'auto' length, each alternative's fills are scored by the model's own bound on
 * −log p(fill | everything else) (likelihood.ts spanBound: RANK_DRAWS Monte Carlo draws, common
 * random numbers across alternatives, batched), in nats per blank. Auto blanks are sampled once per
 * length of autoLengths (one attempt per length, every attempt a full fill of all blanks, exact
 * blanks identical in each); per alternative and auto blank the attempt with the lowest
 * lengthScore (bound per token, less the writer's bias) is kept. Alternatives are then ordered by
 * their bound per filled token, most natural first. Models the bound does not cover (anything but
 * absorbing + log-linear) keep the sampler's order and give auto blanks the typical length.
 *
 * Scoring (score): the ELBO bound of likelihood.ts on the cached network, queued behind the fills
 * (job-queue.ts: a waiting fill goes first, even in the middle of a score, between its network
 * calls) and cancellable between draws by the same cancel path (request ids are shared with fills).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ApiError } from '../common/api';
import { DEFAULT_DRAWS, DEFAULT_STEPS, FILL_OPTIONS, optionsProblem, randomSeed, SCORE_OPTIONS } from '../common/fill-options';
import { AUTO_BLANK_LENGTHS, DEFAULT_BLANK_TOKENS } from '../common/blanks';
import type { AbsorbingGraph } from './sampling/graph';
import { decodeFills, parseFillText, planInfill, spliceFills, type InfillPlan } from './infill';
import { planBans } from './joins';
import { scoreText, spanBound } from './likelihood';
import { MANIFEST_FILE, loadModelPackage, type ModelPackage } from './model/package';
import { Random } from './random';
import { streamExpNoise, type OutputReuse, type UnmaskedToken } from './sampling/analytic';
import { chooseSampler, sampleWindow, type SamplerChoice, type SamplerNetwork } from './sampling/choice';
import { UNKNOWN } from './sampling/predictor';
import type { DeviceChoice } from '../common/fill-options';
import { REMOTE_DEVICE, type RemoteServer } from '../common/inference-server';
import { connectRemote } from './runtime/remote-session';
import { serverModelName } from './model/server-export';
import { ScoreModel } from './runtime/score-model';
import { isPlain, type TokenChoice } from './sampling/token-choice';
import { Tokenizer } from './model/tokenizer';
import { JobQueue } from './job-queue';
import { int8Problem } from './model/quantize';
import type {
  EngineService,
  FillJob,
  FillOutcome,
  FillProgressInfo,
  ScoreJob,
  ScoreOutcome,
  ScoreProgressInfo,
  UnmaskedInfo,
  WarmJob,
  WarmOutcome,
} from './types';

/**
 * The seed of alternative a's Exp(1) stream: the request's seed itself for a = 0 (so one
 * alternative reproduces a plain fill), else MurmurHash3's fmix32 of (seed + a·0x9E3779B9) mod 2^32.
 */
export function alternativeSeed(seed: number, a: number): number {
  if (a === 0) return seed >>> 0;
  let h = (seed + Math.imul(a, 0x9e3779b9)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Monte Carlo draws of the likelihood bound that ranks alternatives and chooses auto lengths (likelihood.ts spanBound). */
export const RANK_DRAWS = 8;
/** How far the writer's length bias can move an auto blank's choice: nats per token for each doubling of the length. */
export const LENGTH_BIAS_NATS = 0.25;

/** The lengths an auto blank is tried at on a model that reads `length` tokens at once. */
export function autoLengths(length: number): number[] {
  const fit = AUTO_BLANK_LENGTHS.filter((n) => n <= length);
  return fit.length > 0 ? fit : [length];
}

/**
 * What an auto blank's length is chosen by, lower is better: the fill's likelihood bound per token,
 * less the writer's pull toward long (bias > 0) or short (bias < 0) fills, bias·LENGTH_BIAS_NATS
 * for each doubling of the length (0 at the typical length).
 */
export function lengthScore(nllPerToken: number, length: number, bias: number): number {
  return nllPerToken - bias * LENGTH_BIAS_NATS * Math.log2(length / DEFAULT_BLANK_TOKENS);
}

export interface EngineOptions {
  /** onnxruntime intra-op threads; default: physical cores. */
  threads?: number;
  /** Execution provider ('auto', 'cpu', 'cuda', 'dml', 'coreml', 'webgpu'); LACUNA_DEVICE overrides it. */
  device?: DeviceChoice;
  /**
   * Absorbing + log-linear models: 'fused' (default) draws tokens inside the network when its
   * graph has the fused draw (fused.ts sampleAnalyticAbsorbingFused; projection at masked
   * positions only); 'reference' always uses the exponential-race sampler on the full output
   * (sampleAnalyticAbsorbing; token-for-token the PyTorch reference given the same noise).
   */
  sampling?: 'fused' | 'reference';
}

export interface LoadedModel {
  pkg: ModelPackage;
  tokenizer: Tokenizer;
  network: ScoreModel;
  /** Graph, noise and sampler from the manifest (sampling/choice.ts). */
  sampler: SamplerChoice;
}

interface JobState {
  cancelled: boolean;
  /** Aborted with the job: stops a remote network call in flight (a local one runs to its end). */
  abort: AbortController;
}

function jobState(): JobState {
  return { cancelled: false, abort: new AbortController() };
}

/** Stops a job: between steps (its checkpoint) and, on a remote device, inside the network call. */
function stop(state: JobState): void {
  state.cancelled = true;
  state.abort.abort();
}

/** The network's calls for one job: each carries the job's signal. */
function jobNetwork(network: ScoreModel, signal: AbortSignal): SamplerNetwork {
  return {
    fusedDraw: network.fusedDraw,
    scoreBatch: (tokens, sigma, batch) => network.scoreBatch(tokens, sigma, batch, signal),
    maskedDraw: (tokens, sigma, batch, positions, uniforms) => network.maskedDraw(tokens, sigma, batch, positions, uniforms, signal),
    maskedScores: (tokens, sigma, batch, positions) => network.maskedScores(tokens, sigma, batch, positions, signal),
  };
}

export class Engine implements EngineService {
  private readonly models = new Map<string, Promise<LoadedModel>>();
  private readonly jobs = new Map<string, JobState>();
  /** One job at a time on the network; fills go before scores (job-queue.ts). */
  private readonly queue = new JobQueue();
  private closed = false;

  constructor(private readonly options: EngineOptions = {}) {}

  fill(job: FillJob, onProgress?: (p: FillProgressInfo) => void): Promise<FillOutcome> {
    if (this.closed) return Promise.reject(new ApiError('cancelled', 'the engine is shutting down'));
    if (this.jobs.has(job.requestId)) {
      return Promise.reject(new ApiError('bad_request', `a fill with request id "${job.requestId}" is already running`));
    }
    const state = jobState();
    this.jobs.set(job.requestId, state);
    return this.queue.run('fill', () => this.run(job, state, onProgress)).finally(() => this.jobs.delete(job.requestId));
  }

  score(job: ScoreJob, signal?: AbortSignal, onProgress?: (p: ScoreProgressInfo) => void): Promise<ScoreOutcome> {
    if (this.closed) return Promise.reject(new ApiError('cancelled', 'the engine is shutting down'));
    if (signal?.aborted) return Promise.reject(new ApiError('cancelled', `score ${job.requestId} was cancelled`));
    if (this.jobs.has(job.requestId)) {
      return Promise.reject(new ApiError('bad_request', `a job with request id "${job.requestId}" is already running`));
    }
    const state = jobState();
    this.jobs.set(job.requestId, state);
    const onAbort = (): void => stop(state);
    signal?.addEventListener('abort', onAbort, { once: true });
    return this.queue
      .run('score', () => this.runScore(job, state, onProgress))
      .finally(() => {
        signal?.removeEventListener('abort', onAbort);
        this.jobs.delete(job.requestId);
      });
  }

  async warm(job: WarmJob): Promise<WarmOutcome> {
    if (this.closed) throw new ApiError('cancelled', 'the engine is shutting down');
    // Through the queue like a fill: it loads (possibly replacing a model in use) and runs the network.
    return this.queue.run('fill', () => this.runWarm(job));
  }

  private async runWarm(job: WarmJob): Promise<WarmOutcome> {
    const started = performance.now();
    const model = await this.load(job.modelDir, job.device ?? this.options.device, job.server);
    // One short network call: onnxruntime sets up its kernels and buffers on the first run.
    const m = model.pkg.manifest;
    const token = m.mask_id ?? 0;
    await model.network.score(new Array<number>(Math.min(16, m.length)).fill(token), 1);
    return { device: model.network.device, durationMs: performance.now() - started };
  }

  cancel(requestId: string): void {
    const state = this.jobs.get(requestId);
    if (state) stop(state);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const state of this.jobs.values()) stop(state);
    await this.queue.idle();
    const models = [...this.models.values()];
    this.models.clear();
    for (const m of models) {
      const loaded = await m.catch(() => null);
      await loaded?.network.release().catch(() => undefined);
    }
  }

  /**
   * Load (or reuse) a model package: manifest, file hashes, tokenizer, network. A loaded package is
   * reused while its manifest.json is unchanged; a package replaced in the same folder (removed and
   * imported again with other weights: its manifest lists other hashes) is loaded afresh and the
   * old network released.
   */
  async load(modelDir: string, device: DeviceChoice | undefined = this.options.device, server?: RemoteServer): Promise<LoadedModel> {
    const dir = resolve(modelDir);
    const manifest = await readFile(join(dir, MANIFEST_FILE)).catch(() => null);
    const where =
      device === REMOTE_DEVICE ? `${REMOTE_DEVICE}\0${server ? createHash('sha256').update(JSON.stringify(server)).digest('hex') : ''}` : (device ?? 'auto');
    const key = `${dir}\0${manifest ? createHash('sha256').update(manifest).digest('hex') : ''}\0${where}`;
    let p = this.models.get(key);
    if (!p) {
      for (const [k, old] of this.models) {
        // The same folder with another manifest (replaced in place) or on another device.
        if (!k.startsWith(`${dir}\0`)) continue;
        this.models.delete(k);
        // Released once no job runs or waits: a job (or a score paused for a fill) may still be
        // using it, and disposing a session mid-run fails that job ("Session already disposed").
        void this.queue
          .idle()
          .then(() => old)
          .then((m) => m.network.release())
          .catch(() => undefined);
      }
      p = this.loadUncached(dir, device, server);
      this.models.set(key, p);
      p.catch(() => {
        if (this.models.get(key) === p) this.models.delete(key);
      });
    }
    return p;
  }

  private async loadUncached(dir: string, device: DeviceChoice | undefined, server: RemoteServer | undefined): Promise<LoadedModel> {
    const pkg = await loadModelPackage(dir);
    const m = pkg.manifest;
    let choice;
    try {
      choice = chooseSampler(m);
    } catch (e) {
      throw new ApiError('model_error', `model package ${dir}: ${(e as Error).message}`);
    }
    let tokenizer: Tokenizer;
    try {
      tokenizer = await Tokenizer.fromFile(pkg.tokenizerPath);
    } catch (e) {
      throw new ApiError('model_error', `model package ${dir}: bad tokenizer: ${(e as Error).message}`);
    }
    // Absorbing: text ids lie below MASK (the last id). Uniform: every state is a text token.
    const limit = m.mask_id ?? m.vocab_size;
    if (tokenizer.size > limit) {
      const what = m.mask_id === null ? `the vocabulary has ${m.vocab_size}` : `MASK is ${m.mask_id}; tokenizer ids must lie below MASK`;
      throw new ApiError('model_error', `model package ${dir}: the tokenizer has ${tokenizer.size} ids but ${what}`);
    }
    const int8 = int8Problem(m);
    if (int8) throw new ApiError('model_error', int8);
    let network: ScoreModel;
    if (device === REMOTE_DEVICE) {
      if (!server)
        throw new ApiError(
          'bad_request',
          'the remote device needs an inference server; set one first (Models and devices → Inference server in the app, or `lacuna server set URL`)',
        );
      const remote = await connectRemote({ server, model: serverModelName(m), networkPath: pkg.networkPath, vocabSize: m.vocab_size });
      network = remote.model;
    } else {
      network = await ScoreModel.load(pkg.networkPath, m.vocab_size, { threads: this.options.threads, ...(device ? { device } : {}) });
    }
    return { pkg, tokenizer, network, sampler: choice };
  }

  /**
   * A fill, as the algorithm goes: check the options, load the model, settle the sampling settings,
   * plan one attempt per blank length tried, sample every attempt, score the fills where there is a
   * choice to make, and build each alternative from the best attempt per blank.
   */
  private async run(job: FillJob, state: JobState, onProgress?: (p: FillProgressInfo) => void): Promise<FillOutcome> {
    const started = performance.now();
    const checkpoint = (): void => {
      if (state.cancelled) throw new ApiError('cancelled', `fill ${job.requestId} was cancelled`);
    };
    checkpoint();
    checkOptions(FILL_OPTIONS, job);
    const segments = parseFillText(job.text); // syntax errors and "no blank" before any model is loaded
    const model = await this.load(job.modelDir, job.device ?? this.options.device, job.server);
    checkpoint();
    const settings = samplingSettings(job, model);
    const { plans, auto } = planAttempts(job, job.text, segments, model);
    const network = jobNetwork(model.network, state.abort.signal);
    const sampled = await this.sampleAttempts(model, network, plans, auto, settings, checkpoint, onProgress);
    // Ranked where there is a choice to make (lengths of auto blanks, or the order of alternatives)
    // and the model has a bound to rank by (likelihood.ts: absorbing + log-linear only).
    const ranked = model.sampler.fast && (plans.length > 1 || settings.B > 1);
    let networkCalls = sampled.networkCalls;
    let nll: Float64Array[][] | undefined;
    if (ranked) {
      nll = [];
      for (const [t, plan] of plans.entries()) {
        checkpoint();
        const scored = await this.scoreBlanks(model, network, plan, sampled.attempts[t]!, settings.seed, checkpoint);
        networkCalls += scored.networkCalls;
        nll.push(scored.nll);
      }
    }
    const alternatives = chooseAlternatives(job.text, plans, sampled.attempts, nll, job.lengthBias ?? 0, model.tokenizer, settings.B);
    return {
      text: alternatives[0]!.text,
      fills: alternatives[0]!.fills,
      alternatives,
      windows: plans[plans.length - 1]!.windows.length,
      steps: settings.steps,
      seed: settings.seed,
      temperature: settings.choice.temperature,
      topP: settings.choice.topP,
      unmasking: settings.choice.order,
      device: model.network.device,
      deviceNotes: model.network.fallbacks.map((f) => f.reason),
      networkCalls,
      durationMs: performance.now() - started,
    };
  }

  /** Every planned attempt sampled in turn, with progress over all of them (steps × windows per attempt). */
  private async sampleAttempts(
    model: LoadedModel,
    network: SamplerNetwork,
    plans: InfillPlan[],
    auto: boolean,
    settings: SamplingSettings,
    checkpoint: () => void,
    onProgress?: (p: FillProgressInfo) => void,
  ): Promise<{ attempts: Int32Array[][]; networkCalls: number }> {
    const { B, steps } = settings;
    const totalSteps = steps * plans.reduce((n, p) => n + p.windows.length, 0);
    let remaining = B * plans.reduce((n, p) => n + p.blanks.reduce((k, b) => k + b.length, 0), 0);
    let stepsDone = 0;
    let networkCalls = 0;
    const emit = (info: FillProgressInfo): void => {
      if (!onProgress) return;
      try {
        onProgress(info);
      } catch {
        // a failing progress listener must not fail the fill
      }
    };
    const attempts: Int32Array[][] = [];
    for (const plan of plans) {
      const lengths = auto ? plan.blanks.map((b) => b.length) : undefined;
      const out = await this.sampleAttempt(model, network, plan, {
        ...settings,
        bans: planBans(plan.blanks, model.tokenizer),
        checkpoint,
        progress: (step, unmasked) => {
          remaining -= unmasked.length;
          emit({ step: stepsDone + step, steps: totalSteps, masked: remaining, unmasked, ...(lengths ? { lengths } : {}) });
        },
      });
      stepsDone += steps * plan.windows.length;
      networkCalls += out.networkCalls;
      attempts.push(out.docs);
    }
    return { attempts, networkCalls };
  }

  /**
   * One planned text sampled: its windows in document order, each as one batch of B alternatives
   * (alternative a with its own Exp(1)/uniform stream seeded alternativeSeed(seed, a)). Returns
   * each alternative's whole token sequence.
   */
  private async sampleAttempt(
    model: LoadedModel,
    network: SamplerNetwork,
    plan: InfillPlan,
    o: SamplingSettings & {
      /** joins.ts planBans of the plan (by document position). */
      bans: ReturnType<typeof planBans>;
      checkpoint: () => void;
      progress: (step: number, unmasked: UnmaskedInfo[]) => void;
    },
  ): Promise<{ docs: Int32Array[]; networkCalls: number }> {
    const { B, seed, steps, reuse, checkpoint } = o;
    const m = model.pkg.manifest;
    const graph = model.sampler.graph;
    const mask = graph.absorb ? graph.mask : -2; // no MASK under the uniform graph
    // Document position → (blank, index in the blank), for progress events.
    const N = plan.template.length;
    const blankOf = new Int32Array(N).fill(-1);
    const indexOf = new Int32Array(N);
    plan.blanks.forEach((b, bi) => {
      for (let k = 0; k < b.length; k++) {
        blankOf[b.start + k] = bi;
        indexOf[b.start + k] = k;
      }
    });
    const docs = Array.from({ length: B }, () => plan.template.slice());
    const streams = Array.from({ length: B }, (_, a) => streamExpNoise(new Random(alternativeSeed(seed, a))));
    let networkCalls = 0;

    for (const [w, win] of plan.windows.entries()) {
      checkpoint();
      const Lw = win.end - win.start;
      const generate = new Uint8Array(Lw);
      for (const bi of win.blanks) {
        const b = plan.blanks[bi]!;
        generate.fill(1, b.start - win.start, b.start - win.start + b.length);
      }
      const template = new Int32Array(B * Lw);
      const fixed = new Uint8Array(B * Lw);
      for (let a = 0; a < B; a++) {
        template.set(docs[a]!.subarray(win.start, win.end), a * Lw);
        // A later blank reaching into this window: context MASK under the absorbing graph. The
        // uniform graph has no MASK; those UNKNOWN positions are sampled with the window and dropped.
        if (graph.absorb) for (let i = 0; i < Lw; i++) if (!generate[i] && template[a * Lw + i] === mask) fixed[a * Lw + i] = 1;
      }
      const info = (unmasked: readonly UnmaskedToken[]): UnmaskedInfo[] =>
        unmasked.map((u) => {
          const pos = win.start + u.position;
          return { alternative: u.row, blank: blankOf[pos]!, index: indexOf[pos]!, token: u.token, text: model.tokenizer.decode(Int32Array.of(u.token)) };
        });
      const progress = (step: number, unmasked: readonly UnmaskedToken[]): void => o.progress(w * steps + step, info(unmasked));
      // The window's flat positions (row a, position i) → the document position's bans (generated positions only).
      // The neighbours a ban may look at: the row's tokens in this window as the sampler has them (−1: MASK or outside).
      const banned = (position: number, tokens?: Int32Array): Uint8Array | undefined => {
        const i = position % Lw;
        if (!generate[i]) return undefined;
        const row = position - i;
        const near = tokens
          ? (offset: number): number => {
              const j = i + offset;
              const t = j >= 0 && j < Lw ? tokens[row + j]! : -1;
              return t === mask ? -1 : t;
            }
          : undefined;
        return o.bans(win.start + i, near);
      };
      const exp = { fill: (call: number, position: number, out: Float64Array) => streams[Math.floor(position / Lw)]!.fill(call, position % Lw, out) };
      const rngs = Array.from({ length: B }, (_, a) => new Random(alternativeSeed(seed, a)));
      let result;
      try {
        result = await sampleWindow({
          sampler: model.sampler,
          network,
          reference: this.options.sampling === 'reference',
          template,
          batch: B,
          fixed,
          generate,
          steps,
          reuse,
          scaleBySigma: m.scale_by_sigma,
          exp,
          uniform: (row) => rngs[row]!.uniform(),
          choice: { ...o.choice, banned },
          banned,
          progress,
          checkpoint,
        });
      } catch (e) {
        if (e instanceof ApiError) throw e;
        throw new ApiError('model_error', `sampling failed: ${(e as Error).message}`);
      }
      networkCalls += result.networkCalls;
      for (let a = 0; a < B; a++) {
        const row = result.tokens.subarray(a * Lw, (a + 1) * Lw);
        for (let i = 0; i < Lw; i++) if (generate[i]) docs[a]![win.start + i] = row[i]!;
      }
    }
    return { docs, networkCalls };
  }

  /**
   * The likelihood bound of each alternative's fill of each blank in its context (nats, likelihood.ts
   * spanBound), window by window, with the same draws for every alternative so that they compare
   * fairly. Uniform-graph and geometric-noise models have no such bound here: their blanks score
   * 0, so their alternatives keep the sampler's order and auto blanks take the middle length.
   */
  private async scoreBlanks(
    model: LoadedModel,
    network: SamplerNetwork,
    plan: InfillPlan,
    docs: Int32Array[],
    seed: number,
    checkpoint: () => void,
  ): Promise<{ nll: Float64Array[]; networkCalls: number }> {
    const B = docs.length;
    const nll = Array.from({ length: B }, () => new Float64Array(plan.blanks.length));
    if (!model.sampler.fast) return { nll, networkCalls: 0 };
    let networkCalls = 0;
    for (const win of plan.windows) {
      const Lw = win.end - win.start;
      const rows = new Int32Array(B * Lw);
      docs.forEach((d, a) => rows.set(d.subarray(win.start, win.end), a * Lw));
      const positions: number[] = [];
      const owner: number[] = [];
      for (const bi of win.blanks) {
        const b = plan.blanks[bi]!;
        for (let k = 0; k < b.length; k++) {
          positions.push(b.start - win.start + k);
          owner.push(bi);
        }
      }
      const out = await spanBound({
        tokens: rows,
        rows: B,
        span: positions,
        graph: model.sampler.graph as AbsorbingGraph,
        noise: model.sampler.noise,
        draws: RANK_DRAWS,
        seed: (seed ^ 0x5bd1e995) >>> 0,
        ...(network.fusedDraw
          ? { scoreAt: (tokens: Int32Array, sigma: number, batch: number, at: Int32Array) => network.maskedScores(tokens, sigma, batch, at) }
          : { score: (tokens: Int32Array, sigma: number, batch: number) => network.scoreBatch(tokens, sigma, batch) }),
        checkpoint,
      });
      networkCalls += out.networkCalls;
      for (let a = 0; a < B; a++) positions.forEach((_, k) => (nll[a]![owner[k]!]! += out.perToken[a * positions.length + k]!));
    }
    return { nll, networkCalls };
  }

  private async runScore(job: ScoreJob, state: JobState, onProgress?: (p: ScoreProgressInfo) => void): Promise<ScoreOutcome> {
    const started = performance.now();
    const checkpoint = (): void => {
      if (state.cancelled) throw new ApiError('cancelled', `score ${job.requestId} was cancelled`);
    };
    checkpoint();
    checkOptions(SCORE_OPTIONS, job);
    const draws = job.draws ?? DEFAULT_DRAWS;
    if (job.estimator !== undefined && job.estimator !== 'k' && job.estimator !== 't') {
      throw new ApiError('bad_request', `estimator must be "k" or "t", got ${String(job.estimator)}`);
    }
    if (typeof job.text !== 'string' || job.text.length === 0) throw new ApiError('bad_request', 'text: nothing to score');

    const model = await this.load(job.modelDir, job.device ?? this.options.device, job.server);
    checkpoint();
    const seed = job.seed ?? randomSeed();
    let out;
    try {
      out = await scoreText(
        model.pkg.dir,
        job.text,
        {
          draws,
          seed,
          checkpoint,
          ...(job.estimator ? { estimator: job.estimator } : {}),
          ...(onProgress
            ? {
                onProgress: (done: number, total: number) => {
                  try {
                    onProgress({ done, total });
                  } catch {
                    // a failing progress listener must not fail the scoring
                  }
                },
              }
            : {}),
        },
        {
          manifest: model.pkg.manifest,
          tokenizer: model.tokenizer,
          // Between network calls a long score lets waiting fills go first (job-queue.ts).
          score: async (tokens, sigma, batch) => {
            await this.queue.yieldToFills();
            checkpoint();
            return model.network.scoreBatch(tokens, sigma, batch, state.abort.signal);
          },
        },
      );
    } catch (e) {
      if (e instanceof ApiError) throw e;
      throw new ApiError('model_error', `scoring failed: ${(e as Error).message}`);
    }
    return { ...out, device: model.network.device, durationMs: performance.now() - started };
  }
}

/** How a fill samples: the request's options, else the model's recommended values, else the defaults. */
export interface SamplingSettings {
  /** Alternatives, sampled as one batch. */
  B: number;
  seed: number;
  steps: number;
  reuse: OutputReuse;
  choice: TokenChoice;
}

function samplingSettings(job: FillJob, model: LoadedModel): SamplingSettings {
  const m = model.pkg.manifest;
  const choice: TokenChoice = {
    temperature: job.temperature ?? m.sampling?.temperature ?? 1,
    topP: job.topP ?? m.sampling?.top_p ?? 1,
    order: job.unmasking ?? m.sampling?.unmasking ?? 'random',
  };
  if (!isPlain(choice) && !model.sampler.fast) {
    throw new ApiError(
      'bad_request',
      `model ${m.id} samples with the ${m.graph.type} graph and ${m.noise.type} noise, ` +
        'which take no temperature, top-p or unmasking order; leave them at 1, 1 and random',
    );
  }
  return {
    B: job.alternatives ?? 1,
    seed: job.seed ?? randomSeed(),
    steps: job.steps ?? m.sampling?.default_steps ?? DEFAULT_STEPS,
    reuse: m.time_conditioned === false ? 'exact' : (job.mode ?? m.sampling?.mode ?? 'exact') === 'fast' ? 'approximate' : 'never',
    choice,
  };
}

/**
 * One plan per attempt (infill.ts planInfill): one per length tried for the auto blanks, one when
 * every blank is exact. Models without a likelihood bound here (likelihood.ts: absorbing +
 * log-linear only) cannot compare lengths: their auto blanks take the typical length.
 */
/** The window the network sees (FillRequest.context): the request's, else the model's, never over its trained length. */
export function contextTokens(job: Pick<FillJob, 'context'>, m: Pick<LoadedModel['pkg']['manifest'], 'length' | 'sampling'>): number {
  return Math.min(m.length, job.context ?? m.sampling?.context ?? m.length);
}

function planAttempts(job: FillJob, text: string, segments: ReturnType<typeof parseFillText>, model: LoadedModel): { plans: InfillPlan[]; auto: boolean } {
  const m = model.pkg.manifest;
  const graph = model.sampler.graph;
  // Blank positions hold MASK (absorbing) or UNKNOWN (uniform) in the template.
  const blankId = graph.absorb ? graph.mask : UNKNOWN;
  const auto = segments.some((s) => s.kind === 'blank' && s.tokens === 'auto');
  const window = contextTokens(job, m);
  const tried = !auto ? [undefined] : model.sampler.fast ? autoLengths(window) : [Math.min(DEFAULT_BLANK_TOKENS, window)];
  const plans = tried.map((autoLength) => planInfill(text, model.tokenizer, { maskId: blankId, maxLength: window, ...(autoLength ? { autoLength } : {}) }));
  return { plans, auto };
}

/**
 * The alternatives of a fill: per alternative and blank, the attempt whose fill is best per token
 * (lengthScore with the writer's lean; the only attempt when nothing is ranked), spliced into the
 * text; ranked alternatives ordered most natural first (bound per filled token).
 */
function chooseAlternatives(
  text: string,
  plans: InfillPlan[],
  attempts: Int32Array[][],
  nll: Float64Array[][] | undefined,
  bias: number,
  tokenizer: Tokenizer,
  B: number,
): FillOutcome['alternatives'] {
  const alternatives = Array.from({ length: B }, (_, a) => {
    const pick = plans[0]!.blanks.map((_, bi) => {
      if (!nll) return 0;
      let best = 0;
      let bestScore = Infinity;
      plans.forEach((plan, t) => {
        const len = plan.blanks[bi]!.length;
        const score = lengthScore(nll[t]![a]![bi]! / len, len, bias);
        if (score < bestScore) {
          bestScore = score;
          best = t;
        }
      });
      return best;
    });
    const fills = pick.map((t, bi) => decodeFills(plans[t]!, attempts[t]![a]!, tokenizer)[bi]!);
    const lengths = pick.map((t, bi) => plans[t]!.blanks[bi]!.length);
    const tokens = lengths.reduce((n, l) => n + l, 0);
    const total = nll ? pick.reduce((n, t, bi) => n + nll[t]![a]![bi]!, 0) : NaN;
    return { text: spliceFills(text, plans[0]!, fills), fills, lengths, ...(nll ? { nll: total / tokens } : {}) };
  });
  if (nll) alternatives.sort((x, y) => x.nll! - y.nll!);
  return alternatives;
}

/** A job's options within the contract's ranges (common/fill-options.ts): jobs also come from outside the API (tests, benchmarks). */
function checkOptions(options: typeof FILL_OPTIONS | typeof SCORE_OPTIONS, job: object): void {
  const problem = optionsProblem(options, job);
  if (problem) throw new ApiError('bad_request', problem);
}
