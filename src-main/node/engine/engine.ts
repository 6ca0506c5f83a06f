/**
 * The engine in-process: model loading (cached per package folder), one fill at a time, progress
 * per step, cancellation between steps. The app runs it inside the engine host process
 * (engine-host.ts) behind EngineClient; tests and tools may use it directly.
 */
import { randomInt } from 'node:crypto';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ApiError } from '../../common/api';
import { AbsorbingGraph } from './graph';
import { decodeFills, parseFillText, planInfill, spliceFills } from './infill';
import { loadModelPackage, type ModelPackage } from './model-package';
import { noiseFromSpec, type Noise } from './noise';
import { Random } from './random';
import { sampleAnalyticAbsorbing, streamExpNoise } from './sampler';
import { ScoreModel } from './score-model';
import { Tokenizer } from './tokenizer';
import type { EngineService, FillJob, FillOutcome, FillProgressInfo } from './types';

export const FALLBACK_STEPS = 64;
export const MAX_STEPS = 4096;

export interface EngineOptions {
  /** onnxruntime intra-op threads; default: physical cores. */
  threads?: number;
}

export interface LoadedModel {
  pkg: ModelPackage;
  tokenizer: Tokenizer;
  network: ScoreModel;
  graph: AbsorbingGraph;
  noise: Noise;
}

interface JobState {
  cancelled: boolean;
}

export class Engine implements EngineService {
  private readonly models = new Map<string, Promise<LoadedModel>>();
  private readonly jobs = new Map<string, JobState>();
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(private readonly options: EngineOptions = {}) {}

  fill(job: FillJob, onProgress?: (p: FillProgressInfo) => void): Promise<FillOutcome> {
    if (this.closed) return Promise.reject(new ApiError('cancelled', 'the engine is shutting down'));
    if (this.jobs.has(job.requestId)) {
      return Promise.reject(new ApiError('bad_request', `a fill with request id "${job.requestId}" is already running`));
    }
    const state: JobState = { cancelled: false };
    this.jobs.set(job.requestId, state);
    const run = this.tail.then(() => this.run(job, state, onProgress));
    this.tail = run.catch(() => undefined);
    return run.finally(() => this.jobs.delete(job.requestId));
  }

  cancel(requestId: string): void {
    const state = this.jobs.get(requestId);
    if (state) state.cancelled = true;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const state of this.jobs.values()) state.cancelled = true;
    await this.tail;
    const models = [...this.models.values()];
    this.models.clear();
    for (const m of models) {
      const loaded = await m.catch(() => null);
      await loaded?.network.release().catch(() => undefined);
    }
  }

  /** Load (or reuse) a model package: manifest, file hashes, tokenizer, network. */
  load(modelDir: string): Promise<LoadedModel> {
    const key = resolve(modelDir);
    let p = this.models.get(key);
    if (!p) {
      p = this.loadUncached(key);
      this.models.set(key, p);
      p.catch(() => {
        if (this.models.get(key) === p) this.models.delete(key);
      });
    }
    return p;
  }

  private async loadUncached(dir: string): Promise<LoadedModel> {
    const pkg = await loadModelPackage(dir);
    const m = pkg.manifest;
    if (m.graph.type !== 'absorb' || m.mask_id === null) {
      throw new ApiError('model_error', `model "${m.id}" uses the ${m.graph.type} graph, which this version of Lacuna cannot sample yet`);
    }
    let tokenizer: Tokenizer;
    try {
      tokenizer = await Tokenizer.fromFile(pkg.tokenizerPath);
    } catch (e) {
      throw new ApiError('model_error', `model package ${dir}: bad tokenizer: ${(e as Error).message}`);
    }
    if (tokenizer.size > m.mask_id) {
      throw new ApiError('model_error', `model package ${dir}: the tokenizer has ${tokenizer.size} ids but MASK is ${m.mask_id}; tokenizer ids must lie below MASK`);
    }
    const network = await ScoreModel.load(pkg.networkPath, m.vocab_size, { threads: this.options.threads });
    return { pkg, tokenizer, network, graph: new AbsorbingGraph(m.vocab_size), noise: noiseFromSpec(m.noise) };
  }

  private async run(job: FillJob, state: JobState, onProgress?: (p: FillProgressInfo) => void): Promise<FillOutcome> {
    const started = performance.now();
    const checkpoint = (): void => {
      if (state.cancelled) throw new ApiError('cancelled', `fill ${job.requestId} was cancelled`);
    };
    checkpoint();
    if (job.steps !== undefined && !(Number.isInteger(job.steps) && job.steps >= 1 && job.steps <= MAX_STEPS)) {
      throw new ApiError('bad_request', `steps must be an integer from 1 to ${MAX_STEPS}, got ${job.steps}`);
    }
    if (job.seed !== undefined && !(Number.isInteger(job.seed) && job.seed >= 0 && job.seed < 2 ** 32)) {
      throw new ApiError('bad_request', `seed must be an integer from 0 to 2^32 − 1, got ${job.seed}`);
    }
    parseFillText(job.text); // syntax errors and "no blank" before any model is loaded

    const model = await this.load(job.modelDir);
    checkpoint();
    const m = model.pkg.manifest;
    const plan = planInfill(job.text, model.tokenizer, { maskId: model.graph.mask, maxLength: m.length });
    const steps = job.steps ?? m.sampling?.default_steps ?? FALLBACK_STEPS;
    const seed = job.seed ?? randomInt(0, 2 ** 32);

    let result;
    try {
      result = await sampleAnalyticAbsorbing({
        template: plan.template,
        graph: model.graph,
        noise: model.noise,
        steps,
        exp: streamExpNoise(new Random(seed)),
        score: (tokens, sigma) => model.network.score(tokens, sigma),
        onStep: (step, masked) => {
          try {
            onProgress?.({ step, steps, masked });
          } catch {
            // a failing progress listener must not fail the fill
          }
        },
        checkpoint,
      });
    } catch (e) {
      if (e instanceof ApiError) throw e;
      throw new ApiError('model_error', `sampling failed: ${(e as Error).message}`);
    }
    const fills = decodeFills(plan, result.tokens, model.tokenizer);
    return {
      text: spliceFills(job.text, plan, fills),
      fills,
      steps,
      seed,
      device: model.network.device,
      networkCalls: result.networkCalls,
      durationMs: performance.now() - started,
    };
  }
}
