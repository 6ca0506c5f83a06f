/**
 * The remote device (issue 19): the score network runs on an inference server that speaks the
 * KServe v2 protocol (kserve-v2.ts), everything else of a fill stays here — the tokenizer, the
 * sampler and its random streams. Each network call sends what the local call would get (token ids
 * [B, L], σ [B], the masked positions [K] and their uniforms [K]) and fetches only what it asks for:
 * for the fused draw a token and a log-normaliser per masked position, never [L × V] scores. So the
 * same seed gives the same fill here and there, when the server runs the same network.
 *
 * Connecting checks the server's model against the local package before any text is sent: the
 * model named after the package (server-export.ts serverModelName) must exist and have the graph's
 * inputs and outputs with the same names, datatypes and shapes (−1 where an axis is free; the
 * vocabulary size in log_score's last axis). Then one tiny call picks the transport: the binary
 * tensor extension when the server takes it, JSON otherwise. After the connection has failed once
 * (a server restarted), the model is checked again before the next call.
 */
import { readFile } from 'node:fs/promises';
import { ApiError } from '../../common/api';
import type { RemoteServer } from '../../common/inference-server';
import { graphSignature, type TensorSignature } from '../model/server-export';
import { V2Client, type V2ClientOptions, type V2Datatype, type V2ModelMetadata, type V2Tensor } from './kserve-v2';
import {
  INPUT_INDICES,
  INPUT_POSITIONS,
  INPUT_SIGMA,
  INPUT_UNIFORMS,
  OUTPUT_LOG_NORM,
  OUTPUT_LOG_SCORE,
  OUTPUT_TOKEN,
  ScoreModel,
  type NetworkSession,
  type NetworkTensor,
} from './score-model';

export type Transport = 'binary' | 'json';

export interface RemoteOptions extends V2ClientOptions {
  server: RemoteServer;
  /** The model's name on the server (serverModelName of the package). */
  model: string;
  /** The package's network file: its inputs and outputs are what the server's must be. */
  networkPath: string;
  vocabSize: number;
  /** Force a transport instead of probing (benchmarks compare both). */
  transport?: Transport;
  signal?: AbortSignal;
}

/** The device name a remote network reports (FillResult.device, the CLI's "ran on"). */
export function remoteDeviceName(server: Pick<RemoteServer, 'url'>): string {
  return `remote:${server.url}`;
}

/** onnxruntime's tensor types ↔ v2 datatypes. */
const V2_OF: Record<string, V2Datatype> = { int64: 'INT64', float32: 'FP32' };

/**
 * How the server's model differs from the local graph (empty when it matches): every input and
 * output by name, datatype (Triton's TYPE_X is v2's X) and shape, −1 matching any size.
 */
export function signatureProblems(
  local: { inputs: readonly TensorSignature[]; outputs: readonly TensorSignature[] },
  remote: Pick<V2ModelMetadata, 'inputs' | 'outputs'>,
  vocabSize: number,
): string[] {
  const problems: string[] = [];
  const show = (datatype: string, shape: readonly number[]): string => `${datatype} [${shape.join(', ')}]`;
  const compare = (what: 'input' | 'output', mine: readonly TensorSignature[], theirs: V2ModelMetadata['inputs']): void => {
    for (const m of mine) {
      const t = theirs.find((x) => x.name === m.name);
      const datatype = m.type.replace(/^TYPE_/, '');
      if (!t) {
        problems.push(`it has no ${what} "${m.name}" (it has ${theirs.map((x) => x.name).join(', ') || 'none'})`);
        continue;
      }
      const sameShape = t.shape.length === m.dims.length && t.shape.every((d, i) => d === -1 || m.dims[i] === -1 || d === m.dims[i]);
      if (t.datatype !== datatype || !sameShape) {
        problems.push(`its ${what} "${m.name}" is ${show(t.datatype, t.shape)}, this model's is ${show(datatype, m.dims)}`);
      }
    }
    for (const t of theirs) if (!mine.some((m) => m.name === t.name)) problems.push(`it has an ${what} "${t.name}" this model does not have`);
  };
  compare('input', local.inputs, remote.inputs);
  compare('output', local.outputs, remote.outputs);
  const scores = remote.outputs.find((o) => o.name === OUTPUT_LOG_SCORE);
  const last = scores?.shape[scores.shape.length - 1];
  if (last !== undefined && last !== -1 && last !== vocabSize) problems.push(`its vocabulary has ${last} tokens, this model's ${vocabSize}`);
  return problems;
}

/** Reads the package graph's inputs and outputs (ApiError('model_error') when it cannot). */
async function localSignature(networkPath: string): Promise<ReturnType<typeof graphSignature>> {
  try {
    return graphSignature(await readFile(networkPath));
  } catch (e) {
    throw new ApiError('model_error', `cannot read the inputs and outputs of ${networkPath}: ${(e as Error).message}`);
  }
}

class RemoteSession implements NetworkSession {
  private transport: Transport = 'binary';
  /** Set after a failed connection: the server may have restarted with another model. */
  private recheck = false;

  constructor(
    private readonly client: V2Client,
    private readonly o: RemoteOptions,
    private readonly local: ReturnType<typeof graphSignature>,
    readonly inputNames: readonly string[],
    readonly outputNames: readonly string[],
  ) {}

  get traffic(): { sent: number; received: number } {
    return this.client.traffic;
  }

  /** The server's model checked against the local graph. */
  async check(signal?: AbortSignal): Promise<void> {
    const meta = await this.client.modelMetadata(this.o.model, signal);
    const problems = signatureProblems(this.local, meta, this.o.vocabSize);
    if (problems.length) {
      throw new ApiError(
        'model_error',
        `The inference server ${this.client.host} has a different model under the name "${this.o.model}": ${problems.join('; ')}. ` +
          `Export this model again with \`lacuna models export-server ${this.o.model} DIR\` and serve that.`,
      );
    }
    this.recheck = false;
  }

  /** One tiny call in each transport until one works (binary first), unless one is forced. */
  async pickTransport(signal?: AbortSignal): Promise<Transport> {
    const order: Transport[] = this.o.transport ? [this.o.transport] : ['binary', 'json'];
    let last: unknown;
    for (const t of order) {
      this.transport = t;
      try {
        await this.run(probeFeeds(this.inputNames), this.outputNames.includes(OUTPUT_TOKEN) ? [OUTPUT_TOKEN, OUTPUT_LOG_NORM] : [OUTPUT_LOG_SCORE], signal);
        return t;
      } catch (e) {
        // An unreachable server or a cancel is not a transport question.
        if (e instanceof ApiError && e.code !== 'model_error') throw e;
        last = e;
      }
    }
    throw last;
  }

  async run(feeds: Record<string, NetworkTensor>, fetches: readonly string[], signal?: AbortSignal): Promise<Record<string, NetworkTensor | undefined>> {
    if (this.recheck) await this.check(signal);
    const inputs: V2Tensor[] = Object.entries(feeds).map(([name, t]) => {
      const datatype = V2_OF[t.type];
      if (!datatype || !(t.data instanceof BigInt64Array || t.data instanceof Float32Array)) throw new RangeError(`input ${name}: ${t.type} cannot be sent`);
      return { name, datatype, shape: [...t.dims], data: t.data };
    });
    let out: Record<string, V2Tensor>;
    try {
      out = await this.client.infer(this.o.model, inputs, fetches, this.transport === 'binary', signal);
    } catch (e) {
      if (e instanceof ApiError && e.code === 'network_error') this.recheck = true;
      throw e;
    }
    const result: Record<string, NetworkTensor | undefined> = {};
    for (const name of fetches) {
      const t = out[name];
      result[name] = t ? { type: t.datatype === 'INT64' ? 'int64' : 'float32', data: t.data, dims: t.shape } : undefined;
    }
    return result;
  }

  get transportUsed(): Transport {
    return this.transport;
  }

  release(): Promise<void> {
    this.client.close();
    return Promise.resolve();
  }
}

/** Feeds for the transport probe: one row of 4 tokens (id 0), σ = 1, one position. */
function probeFeeds(inputNames: readonly string[]): Record<string, NetworkTensor> {
  const feeds: Record<string, NetworkTensor> = {
    [INPUT_INDICES]: { type: 'int64', data: new BigInt64Array(4), dims: [1, 4] },
    [INPUT_SIGMA]: { type: 'float32', data: Float32Array.of(1), dims: [1] },
  };
  if (inputNames.includes(INPUT_POSITIONS)) feeds[INPUT_POSITIONS] = { type: 'int64', data: new BigInt64Array(1), dims: [1] };
  if (inputNames.includes(INPUT_UNIFORMS)) feeds[INPUT_UNIFORMS] = { type: 'float32', data: Float32Array.of(0.5), dims: [1] };
  return feeds;
}

/**
 * The package's network on the inference server: checked against the local graph, the transport
 * picked, ready for the sampler. Throws ApiError 'network_error' (unreachable, token refused),
 * 'model_error' (no such model, a different one, calls refused) or 'cancelled'.
 */
export async function connectRemote(o: RemoteOptions): Promise<{ model: ScoreModel; transport: Transport }> {
  const local = await localSignature(o.networkPath);
  const client = new V2Client(o.server, o);
  const session = new RemoteSession(
    client,
    o,
    local,
    local.inputs.map((i) => i.name),
    local.outputs.map((x) => x.name),
  );
  try {
    await session.check(o.signal);
    const transport = await session.pickTransport(o.signal);
    const model = await ScoreModel.over(session, { path: o.networkPath, vocabSize: o.vocabSize, device: remoteDeviceName(o.server) });
    return { model, transport };
  } catch (e) {
    client.close();
    throw e;
  }
}
