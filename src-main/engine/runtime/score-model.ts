/**
 * The score network (models/FORMAT.md "Network I/O") run by onnxruntime-node. Two graph forms:
 *
 *  - I/O 2 (models/sedd/export.py): indices int64 [B, L], sigma float32 [B] (total noise σ̄(t)),
 *    positions int64 [K] (flat b·L + l) and, for absorbing models, uniforms float32 [K] →
 *    log_score float32 [K, V] at those positions, and (absorbing) token int64 [K], a draw from
 *    softmax over j ≠ MASK of each row, and log_norm float32 [K] = logsumexp over j ≠ MASK. The
 *    output projection runs at the K positions only; `maskedDraw` fetches just token and
 *    log_norm, so a sampling step brings two numbers per masked position into JavaScript.
 *  - I/O 1 (packages made before it): indices, sigma → log_score [B, L, V] everywhere.
 *
 * Where the network runs is a NetworkSession: onnxruntime-node in this process (`ScoreModel.load`;
 * the execution provider chosen by providers.ts: CUDA/DirectML/CoreML/WebGPU where they work, CPU
 * otherwise, LACUNA_DEVICE overrides), or an inference server speaking the KServe v2 protocol
 * (remote-session.ts, `ScoreModel.over`). The calls, their checks and the sampler are the same
 * either way. onnxruntime's native code can crash the process it runs in, so the app runs this
 * inside the engine host process (engine-host.ts).
 */
import { performance } from 'node:perf_hooks';
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { ApiError } from '../../common/api';
import { cpuThreads, selectProvider, type LocalDeviceChoice, type ProviderAttempt } from './providers';

export const INPUT_INDICES = 'indices';
export const INPUT_SIGMA = 'sigma';
export const OUTPUT_LOG_SCORE = 'log_score';
export const INPUT_POSITIONS = 'positions';
export const INPUT_UNIFORMS = 'uniforms';
export const OUTPUT_TOKEN = 'token';
export const OUTPUT_LOG_NORM = 'log_norm';

/** A tensor going into or coming out of the network (onnxruntime's Tensor has this shape). */
export interface NetworkTensor {
  /** 'int64' or 'float32' for the tensors of models/FORMAT.md. */
  readonly type: string;
  readonly data: ArrayLike<unknown>;
  readonly dims: readonly number[];
}

/** Where the network runs: one call with named inputs, fetching named outputs. */
export interface NetworkSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** `signal` aborts a call that can be aborted (a remote one); a local call runs to its end. */
  run(feeds: Record<string, NetworkTensor>, fetches: readonly string[], signal?: AbortSignal): Promise<Record<string, NetworkTensor | undefined>>;
  release(): Promise<void>;
  /** Bytes sent and received for the calls so far (remote sessions). */
  readonly traffic?: { sent: number; received: number };
}

/** What the fused draw returns at K masked positions. */
export interface MaskedDraw {
  /** A token drawn from softmax over j ≠ MASK of each position's log scores (Int32Array [K]). */
  tokens: Int32Array;
  /** log Σ_{j≠MASK} exp(log_score_j) at each position (Float32Array [K]). */
  logNorm: Float32Array;
}

export interface ScoreModelOptions {
  /** Threads for one operator; default: providers.ts cpuThreads() (physical cores, capped). */
  threads?: number;
  /** Wanted execution provider; default 'auto'. LACUNA_DEVICE overrides it. */
  device?: LocalDeviceChoice;
}

export class ScoreModel {
  private constructor(
    private readonly session: NetworkSession,
    readonly path: string,
    readonly vocabSize: number,
    /** Where the network runs: an execution provider ('cpu', 'cuda', …) or 'remote:<server>'. */
    readonly device: string,
    /** Providers passed over before `device`, each with its human-readable reason. */
    readonly fallbacks: readonly ProviderAttempt[],
    /** I/O 2: the graph takes `positions` and projects only there. */
    readonly gathered: boolean,
    /** I/O 2, absorbing: the graph also gives `token` and `log_norm` (the fused draw). */
    readonly fusedDraw: boolean,
  ) {}

  /** The network in `path` on this computer, on the provider providers.ts picks. */
  static async load(path: string, vocabSize: number, options: ScoreModelOptions = {}): Promise<ScoreModel> {
    let chosen;
    try {
      chosen = await selectProvider({ model: path, device: options.device, threads: options.threads ?? cpuThreads() });
    } catch (e) {
      if (e instanceof ApiError) throw new ApiError('model_error', `cannot load the network ${path}: ${e.message}`);
      throw new ApiError('model_error', `cannot load the network ${path}: ${errorText(e)}`);
    }
    return ScoreModel.over(await localSession(chosen.session), { path, vocabSize, device: chosen.id, fallbacks: chosen.attempts });
  }

  /**
   * The network behind `session` (local or remote), after checking it has the inputs and outputs of
   * models/FORMAT.md; released and refused with ApiError('model_error') when it has not.
   */
  static async over(
    session: NetworkSession,
    o: { path: string; vocabSize: number; device: string; fallbacks?: readonly ProviderAttempt[] },
  ): Promise<ScoreModel> {
    const missing = [INPUT_INDICES, INPUT_SIGMA].filter((n) => !session.inputNames.includes(n));
    if (missing.length || !session.outputNames.includes(OUTPUT_LOG_SCORE)) {
      const found = `inputs ${session.inputNames.join(', ')}; outputs ${session.outputNames.join(', ')}`;
      await session.release().catch(() => undefined);
      throw new ApiError(
        'model_error',
        `the network ${o.path} must take "${INPUT_INDICES}" and "${INPUT_SIGMA}" and give "${OUTPUT_LOG_SCORE}" (it has ${found})`,
      );
    }
    const gathered = session.inputNames.includes(INPUT_POSITIONS);
    const fusedDraw =
      gathered && session.inputNames.includes(INPUT_UNIFORMS) && session.outputNames.includes(OUTPUT_TOKEN) && session.outputNames.includes(OUTPUT_LOG_NORM);
    return new ScoreModel(session, o.path, o.vocabSize, o.device, o.fallbacks ?? [], gathered, fusedDraw);
  }

  private allPositions: BigInt64Array = new BigInt64Array(0);

  /** The last token ids sent by maskedDraw and their int64 copy: a sampling step changes few ids, so only those are converted again. */
  private lastTokens: Int32Array = new Int32Array(0);
  private lastIndices: BigInt64Array = new BigInt64Array(0);

  private indicesOf(tokens: Int32Array): BigInt64Array {
    if (this.lastTokens.length !== tokens.length) {
      this.lastTokens = tokens.slice();
      this.lastIndices = toIndices(tokens);
      return this.lastIndices;
    }
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i]!;
      if (t !== this.lastTokens[i]) {
        this.lastTokens[i] = t;
        this.lastIndices[i] = BigInt(t);
      }
    }
    return this.lastIndices;
  }

  /** Network calls made and the wall time spent in them (for benchmarks and diagnostics). */
  readonly stats = { calls: 0, runMs: 0 };

  /** Bytes sent to and received from an inference server so far (zero for a local network). */
  get traffic(): { sent: number; received: number } {
    return { ...(this.session.traffic ?? { sent: 0, received: 0 }) };
  }

  private async timedRun(feeds: Record<string, NetworkTensor>, fetches: string[], signal?: AbortSignal): Promise<Record<string, NetworkTensor | undefined>> {
    const t0 = performance.now();
    try {
      return await this.session.run(feeds, fetches, signal);
    } finally {
      this.stats.calls++;
      this.stats.runMs += performance.now() - t0;
    }
  }

  /** Feeds for I/O 2 at flat positions (every input the graph has; uniforms default to 0). */
  private feeds(
    indices: BigInt64Array,
    sigma: Float32Array,
    batch: number,
    length: number,
    positions: BigInt64Array,
    uniforms?: Float32Array,
  ): Record<string, NetworkTensor> {
    const feeds: Record<string, NetworkTensor> = {
      [INPUT_INDICES]: { type: 'int64', data: indices, dims: [batch, length] },
      [INPUT_SIGMA]: { type: 'float32', data: sigma, dims: [batch] },
      [INPUT_POSITIONS]: { type: 'int64', data: positions, dims: [positions.length] },
    };
    if (this.session.inputNames.includes(INPUT_UNIFORMS)) {
      feeds[INPUT_UNIFORMS] = { type: 'float32', data: uniforms ?? new Float32Array(positions.length), dims: [positions.length] };
    }
    return feeds;
  }

  /**
   * The fused draw (I/O 2, absorbing graph): at flat `positions` of tokens [batch × length], all of
   * them MASK, at total noise sigma (one for all rows, or one per row), one token per position drawn from softmax over j ≠ MASK of its log scores by inverse
   * CDF at `uniforms` (each in [0, 1)), and the log normaliser. Only these 2·K numbers come back.
   * `signal` stops a remote call in flight (ApiError 'cancelled').
   */
  async maskedDraw(
    tokens: Int32Array,
    sigma: number | Float32Array,
    batch: number,
    positions: Int32Array,
    uniforms: Float32Array,
    signal?: AbortSignal,
  ): Promise<MaskedDraw> {
    if (positions.length !== uniforms.length) throw new RangeError(`maskedDraw: ${positions.length} positions, ${uniforms.length} uniforms`);
    const result = await this.runAtPositions('maskedDraw', tokens, sigma, batch, positions, uniforms, [OUTPUT_TOKEN, OUTPUT_LOG_NORM], signal);
    const token = result[OUTPUT_TOKEN];
    const logNorm = result[OUTPUT_LOG_NORM];
    const K = positions.length;
    if (!token || token.type !== 'int64' || token.data.length !== K || !logNorm || logNorm.type !== 'float32' || logNorm.data.length !== K) {
      throw new ApiError(
        'model_error',
        `the network's fused draw returned ${token?.type ?? 'nothing'} [${token?.dims.join(', ') ?? ''}] ` +
          `and ${logNorm?.type ?? 'nothing'} [${logNorm?.dims.join(', ') ?? ''}]; expected int64 and float32 [${K}]`,
      );
    }
    const ids = token.data as BigInt64Array;
    const out = new Int32Array(K);
    for (let i = 0; i < K; i++) out[i] = Number(ids[i]!);
    return { tokens: out, logNorm: logNorm.data as Float32Array };
  }

  /**
   * The same network call as maskedDraw without the draw: the log scores at the K masked flat
   * `positions` (Float32Array [K × vocabSize]) and their log normalisers, for a token choice made
   * in JavaScript (analytic.ts, temperature ≠ 1). K rows cross into JS instead of 2·K numbers.
   */
  async maskedScores(
    tokens: Int32Array,
    sigma: number | Float32Array,
    batch: number,
    positions: Int32Array,
    signal?: AbortSignal,
  ): Promise<{ scores: Float32Array; logNorm: Float32Array }> {
    const result = await this.runAtPositions('maskedScores', tokens, sigma, batch, positions, undefined, [OUTPUT_LOG_SCORE, OUTPUT_LOG_NORM], signal);
    const scores = result[OUTPUT_LOG_SCORE];
    const logNorm = result[OUTPUT_LOG_NORM];
    const K = positions.length;
    if (
      !scores ||
      scores.type !== 'float32' ||
      scores.data.length !== K * this.vocabSize ||
      !logNorm ||
      logNorm.type !== 'float32' ||
      logNorm.data.length !== K
    ) {
      throw new ApiError(
        'model_error',
        `the network returned ${scores?.type ?? 'nothing'} [${scores?.dims.join(', ') ?? ''}] ` +
          `and ${logNorm?.type ?? 'nothing'} [${logNorm?.dims.join(', ') ?? ''}]; expected float32 [${K}, ${this.vocabSize}] and [${K}]`,
      );
    }
    return { scores: scores.data as Float32Array, logNorm: logNorm.data as Float32Array };
  }

  /** One I/O 2 call with the fused draw at flat masked `positions` (K ≥ 1), fetching `fetches`. */
  private async runAtPositions(
    what: string,
    tokens: Int32Array,
    sigma: number | Float32Array,
    batch: number,
    positions: Int32Array,
    uniforms: Float32Array | undefined,
    fetches: string[],
    signal?: AbortSignal,
  ): Promise<Record<string, NetworkTensor | undefined>> {
    if (!this.fusedDraw) throw new ApiError('model_error', `the network ${this.path} has no fused draw (re-export it with models/sedd/export.py)`);
    const length = tokens.length / batch;
    const sigmas = typeof sigma === 'number' ? new Float32Array(batch).fill(sigma) : sigma;
    if (!Number.isInteger(length) || sigmas.length !== batch || positions.length === 0) {
      throw new RangeError(`${what}: ${tokens.length} tokens in ${batch} rows, ${sigmas.length} sigmas, ${positions.length} positions`);
    }
    const pos = new BigInt64Array(positions.length);
    for (let i = 0; i < positions.length; i++) {
      const p = positions[i]!;
      if (!(p >= 0 && p < tokens.length)) throw new RangeError(`${what}: position ${p} outside 0…${tokens.length - 1}`);
      pos[i] = BigInt(p);
    }
    try {
      return await this.timedRun(this.feeds(this.indicesOf(tokens), sigmas, batch, length, pos, uniforms), fetches, signal);
    } catch (e) {
      throw networkFailure(e);
    }
  }

  /**
   * Log scores for a batch: indices [batch × length] (row-major), sigma [batch].
   * Returns Float32Array [batch × length × vocabSize].
   */
  async run(indices: BigInt64Array, sigma: Float32Array, batch: number, length: number, signal?: AbortSignal): Promise<Float32Array> {
    if (indices.length !== batch * length || sigma.length !== batch) {
      throw new RangeError(`score model inputs: ${indices.length} indices and ${sigma.length} sigmas for batch ${batch} × length ${length}`);
    }
    let out: NetworkTensor | undefined;
    try {
      if (this.gathered) {
        const n = batch * length;
        if (this.allPositions.length !== n) this.allPositions = BigInt64Array.from({ length: n }, (_, i) => BigInt(i));
        const result = await this.timedRun(this.feeds(indices, sigma, batch, length, this.allPositions), [OUTPUT_LOG_SCORE], signal);
        out = result[OUTPUT_LOG_SCORE];
      } else {
        const feeds = {
          [INPUT_INDICES]: { type: 'int64', data: indices, dims: [batch, length] },
          [INPUT_SIGMA]: { type: 'float32', data: sigma, dims: [batch] },
        };
        const result = await this.timedRun(feeds, [OUTPUT_LOG_SCORE], signal);
        out = result[OUTPUT_LOG_SCORE];
      }
    } catch (e) {
      throw networkFailure(e);
    }
    // I/O 2 gives [B·L, V] rows in the same row-major order as I/O 1's [B, L, V].
    const dims = out?.dims ?? [];
    const shapeOk = this.gathered
      ? dims.length === 2 && dims[0] === batch * length && dims[1] === this.vocabSize
      : dims.length === 3 && dims[0] === batch && dims[1] === length && dims[2] === this.vocabSize;
    if (!out || out.type !== 'float32' || !shapeOk) {
      throw new ApiError(
        'model_error',
        `the network returned ${out?.type ?? 'nothing'} [${dims.join(', ')}]; expected float32 [${batch}, ${length}, ${this.vocabSize}]`,
      );
    }
    return out.data as Float32Array;
  }

  /** Log scores of one sequence of token ids at total noise sigma: Float32Array [length × vocabSize]. */
  score(tokens: ArrayLike<number>, sigma: number, signal?: AbortSignal): Promise<Float32Array> {
    return this.scoreBatch(tokens, sigma, 1, signal);
  }

  /**
   * Log scores of `batch` sequences of equal length (tokens row-major [batch × length]), all at
   * total noise sigma: Float32Array [batch × length × vocabSize]. The whole output tensor crosses
   * from onnxruntime into JS (it is one buffer); samplers read only the rows at masked positions.
   * A local call in flight cannot be interrupted; `signal` stops a remote one.
   */
  scoreBatch(tokens: ArrayLike<number>, sigma: number, batch: number, signal?: AbortSignal): Promise<Float32Array> {
    if (!Number.isInteger(batch) || batch < 1 || tokens.length % batch !== 0) {
      throw new RangeError(`scoreBatch: ${tokens.length} tokens do not split into ${batch} rows`);
    }
    return this.run(toIndices(tokens), new Float32Array(batch).fill(sigma), batch, tokens.length / batch, signal);
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

function toIndices(tokens: ArrayLike<number>): BigInt64Array {
  const indices = new BigInt64Array(tokens.length);
  for (let i = 0; i < tokens.length; i++) indices[i] = BigInt(tokens[i]!);
  return indices;
}

/** A failed call: the remote session's own errors (unreachable, cancelled, …) as they are; onnxruntime's as model_error. */
function networkFailure(e: unknown): ApiError {
  return e instanceof ApiError ? e : new ApiError('model_error', `the network failed: ${errorText(e)}`);
}

/** onnxruntime-node's session as a NetworkSession: the feeds become its Tensors. */
async function localSession(session: InferenceSession): Promise<NetworkSession> {
  const { Tensor } = await import('onnxruntime-node');
  return {
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    async run(feeds, fetches) {
      const ortFeeds: Record<string, Tensor> = {};
      for (const [name, t] of Object.entries(feeds)) {
        ortFeeds[name] = new Tensor(t.type as 'int64' | 'float32', t.data as BigInt64Array | Float32Array, t.dims);
      }
      return session.run(ortFeeds, [...fetches]);
    },
    release: () => session.release(),
  };
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
