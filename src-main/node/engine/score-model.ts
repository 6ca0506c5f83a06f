/**
 * The score network (models/FORMAT.md "Network I/O") run by onnxruntime-node:
 * indices int64 [B, L], sigma float32 [B] (total noise σ̄(t)) → log_score float32 [B, L, V].
 *
 * The execution provider is chosen by providers.ts (CUDA/DirectML/CoreML/WebGPU where they work,
 * CPU otherwise, LACUNA_DEVICE overrides). onnxruntime's native code can crash the process it runs
 * in, so the app runs this inside the engine host process (engine-host.ts).
 */
import { type InferenceSession, Tensor } from 'onnxruntime-node';
import { ApiError } from '../../common/api';
import { cpuThreads, selectProvider, type DeviceChoice, type ProviderAttempt, type ProviderId } from './providers';

export const INPUT_INDICES = 'indices';
export const INPUT_SIGMA = 'sigma';
export const OUTPUT_LOG_SCORE = 'log_score';

export interface ScoreModelOptions {
  /** Threads for one operator; default: providers.ts cpuThreads() (physical cores, capped). */
  threads?: number;
  /** Wanted execution provider; default 'auto'. LACUNA_DEVICE overrides it. */
  device?: DeviceChoice;
}

export class ScoreModel {
  private constructor(
    private readonly session: InferenceSession,
    readonly path: string,
    readonly vocabSize: number,
    /** The execution provider that runs the network. */
    readonly device: ProviderId,
    /** Providers passed over before `device`, each with its human-readable reason. */
    readonly fallbacks: readonly ProviderAttempt[],
  ) {}

  static async load(path: string, vocabSize: number, options: ScoreModelOptions = {}): Promise<ScoreModel> {
    let session: InferenceSession;
    let device: ProviderId;
    let fallbacks: ProviderAttempt[];
    try {
      const chosen = await selectProvider({ model: path, device: options.device, threads: options.threads ?? cpuThreads() });
      ({ session, id: device, attempts: fallbacks } = chosen);
    } catch (e) {
      if (e instanceof ApiError) throw new ApiError('model_error', `cannot load the network ${path}: ${e.message}`);
      throw new ApiError('model_error', `cannot load the network ${path}: ${errorText(e)}`);
    }
    const missing = [INPUT_INDICES, INPUT_SIGMA].filter((n) => !session.inputNames.includes(n));
    if (missing.length || !session.outputNames.includes(OUTPUT_LOG_SCORE)) {
      const found = `inputs ${session.inputNames.join(', ')}; outputs ${session.outputNames.join(', ')}`;
      await session.release().catch(() => undefined);
      throw new ApiError('model_error', `the network ${path} must take "${INPUT_INDICES}" and "${INPUT_SIGMA}" and give "${OUTPUT_LOG_SCORE}" (it has ${found})`);
    }
    return new ScoreModel(session, path, vocabSize, device, fallbacks);
  }

  /**
   * Log scores for a batch: indices [batch × length] (row-major), sigma [batch].
   * Returns Float32Array [batch × length × vocabSize].
   */
  async run(indices: BigInt64Array, sigma: Float32Array, batch: number, length: number): Promise<Float32Array> {
    if (indices.length !== batch * length || sigma.length !== batch) {
      throw new RangeError(`score model inputs: ${indices.length} indices and ${sigma.length} sigmas for batch ${batch} × length ${length}`);
    }
    let out: Tensor | undefined;
    try {
      const result = await this.session.run({
        [INPUT_INDICES]: new Tensor('int64', indices, [batch, length]),
        [INPUT_SIGMA]: new Tensor('float32', sigma, [batch]),
      });
      out = result[OUTPUT_LOG_SCORE];
    } catch (e) {
      throw new ApiError('model_error', `the network failed: ${errorText(e)}`);
    }
    const dims = out?.dims ?? [];
    if (!out || out.type !== 'float32' || dims.length !== 3 || dims[0] !== batch || dims[1] !== length || dims[2] !== this.vocabSize) {
      throw new ApiError('model_error', `the network returned ${out?.type ?? 'nothing'} [${dims.join(', ')}]; expected float32 [${batch}, ${length}, ${this.vocabSize}]`);
    }
    return out.data as Float32Array;
  }

  /** Log scores of one sequence of token ids at total noise sigma: Float32Array [length × vocabSize]. */
  score(tokens: ArrayLike<number>, sigma: number): Promise<Float32Array> {
    return this.scoreBatch(tokens, sigma, 1);
  }

  /**
   * Log scores of `batch` sequences of equal length (tokens row-major [batch × length]), all at
   * total noise sigma: Float32Array [batch × length × vocabSize]. The whole output tensor crosses
   * from onnxruntime into JS (it is one buffer); samplers read only the rows at masked positions.
   * One call in flight cannot be interrupted.
   */
  scoreBatch(tokens: ArrayLike<number>, sigma: number, batch: number): Promise<Float32Array> {
    if (!Number.isInteger(batch) || batch < 1 || tokens.length % batch !== 0) {
      throw new RangeError(`scoreBatch: ${tokens.length} tokens do not split into ${batch} rows`);
    }
    const indices = new BigInt64Array(tokens.length);
    for (let i = 0; i < tokens.length; i++) indices[i] = BigInt(tokens[i]!);
    return this.run(indices, new Float32Array(batch).fill(sigma), batch, tokens.length / batch);
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
