/**
 * A client of the KServe v2 / Open Inference Protocol over HTTP/REST, as NVIDIA Triton, KServe and
 * Seldon MLServer speak it (https://github.com/kserve/open-inference-protocol): model metadata,
 * readiness and inference, with tensors in JSON or in the binary tensor data extension (Triton's
 * `binary_tensor_data`: a JSON header whose length is in `Inference-Header-Content-Length`, then
 * the raw little-endian bytes of each tensor in order).
 *
 * Behaviour the remote device relies on (remote-session.ts):
 *  - one keep-alive connection per server, so a sampling step costs one round trip;
 *  - every call has the setting's timeout; a call in flight stops when its AbortSignal fires;
 *  - calls are idempotent (the network is a pure function of its inputs), so a refused or broken
 *    connection and HTTP 502/503/504 are retried with exponential backoff (RETRY_DELAYS_MS); a
 *    timeout, an HTTP 4xx or a 500 is not;
 *  - redirects are not followed: the bearer token goes to the saved server's origin and nowhere else;
 *  - https trusts this computer's certificate store as well as Node's (systemCertificates).
 *
 * Errors are ApiErrors in the writer's words: 'network_error' when the server cannot be reached or
 * refuses the token, 'model_error' when it answers but cannot run the model, 'cancelled' on abort.
 */
import { readFileSync } from 'node:fs';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { ApiError } from '../../common/api';
import type { RemoteServer } from '../../common/inference-server';

/** Waits before the 2nd, 3rd and 4th try of a call whose connection failed. */
export const RETRY_DELAYS_MS = [250, 500, 1000] as const;
/** The largest response read (a batch of log-score rows is at most a few hundred MB). */
const MAX_RESPONSE_BYTES = 1 << 30;
const HEADER_LENGTH = 'inference-header-content-length';

/** v2 datatypes of the tensors Lacuna sends and receives. */
export type V2Datatype = 'INT64' | 'FP32';

export interface V2Tensor {
  name: string;
  datatype: V2Datatype;
  shape: number[];
  data: BigInt64Array | Float32Array;
}

export interface V2TensorMetadata {
  name: string;
  datatype: string;
  shape: number[];
}

export interface V2ModelMetadata {
  name: string;
  platform?: string;
  versions?: string[];
  inputs: V2TensorMetadata[];
  outputs: V2TensorMetadata[];
}

export interface V2ServerMetadata {
  name?: string;
  version?: string;
  extensions: string[];
}

export interface V2ClientOptions {
  /** Extra trusted certificates (PEM), beside the system's and Node's. */
  ca?: string | string[];
  /** Waits between tries of a retriable call; default RETRY_DELAYS_MS. */
  retryDelaysMs?: readonly number[];
}

interface Reply {
  status: number;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

/** The failure of one try: what to tell the writer, and whether another try may work. */
class TryError extends Error {
  constructor(
    readonly error: ApiError,
    readonly retriable: boolean,
  ) {
    super(error.message);
  }
}

export class V2Client {
  private readonly base: URL;
  private readonly agent: http.Agent;
  private readonly retryDelays: readonly number[];
  /** Bytes written to and read from the server's sockets (headers included). */
  readonly traffic = { sent: 0, received: 0 };

  constructor(
    readonly server: RemoteServer,
    options: V2ClientOptions = {},
  ) {
    this.base = new URL(server.url.endsWith('/') ? server.url : `${server.url}/`);
    const secure = this.base.protocol === 'https:';
    const agentOptions = { keepAlive: true, maxSockets: 4, ...(secure ? { ca: trustedCertificates(options.ca) } : {}) };
    this.agent = secure ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
    this.retryDelays = options.retryDelaysMs ?? RETRY_DELAYS_MS;
  }

  /** host[:port] of the server, for messages. */
  get host(): string {
    return this.base.host;
  }

  async serverMetadata(signal?: AbortSignal): Promise<V2ServerMetadata> {
    const body = await this.json('GET', 'v2', undefined, signal);
    const extensions = Array.isArray(body.extensions) ? body.extensions.filter((e): e is string => typeof e === 'string') : [];
    return {
      ...(typeof body.name === 'string' ? { name: body.name } : {}),
      ...(typeof body.version === 'string' ? { version: body.version } : {}),
      extensions,
    };
  }

  async modelMetadata(model: string, signal?: AbortSignal): Promise<V2ModelMetadata> {
    const body = await this.json('GET', `v2/models/${encodeURIComponent(model)}`, undefined, signal, model);
    const tensors = (v: unknown, what: string): V2TensorMetadata[] => {
      if (!Array.isArray(v)) throw this.garbled(`its metadata of "${model}" lists no ${what}`);
      return v.map((t: unknown) => {
        const o = (t ?? {}) as Record<string, unknown>;
        if (typeof o.name !== 'string' || typeof o.datatype !== 'string' || !Array.isArray(o.shape) || !o.shape.every((d) => Number.isInteger(d))) {
          throw this.garbled(`its metadata of "${model}" has a malformed ${what.replace(/s$/, '')}`);
        }
        return { name: o.name, datatype: o.datatype, shape: o.shape as number[] };
      });
    };
    return {
      name: typeof body.name === 'string' ? body.name : model,
      ...(typeof body.platform === 'string' ? { platform: body.platform } : {}),
      ...(Array.isArray(body.versions) ? { versions: body.versions.map(String) } : {}),
      inputs: tensors(body.inputs, 'inputs'),
      outputs: tensors(body.outputs, 'outputs'),
    };
  }

  /**
   * One inference: `inputs` in, the named `outputs` back, in the binary extension or in JSON. The
   * outputs are checked against the datatype and element count their shape says.
   */
  async infer(
    model: string,
    inputs: readonly V2Tensor[],
    outputs: readonly string[],
    binary: boolean,
    signal?: AbortSignal,
  ): Promise<Record<string, V2Tensor>> {
    const { body, headers } = binary ? encodeBinary(inputs, outputs) : encodeJson(inputs, outputs);
    const reply = await this.call('POST', `v2/models/${encodeURIComponent(model)}/infer`, body, headers, signal, model);
    try {
      return decodeInferReply(reply.body, reply.headers[HEADER_LENGTH]);
    } catch (e) {
      throw this.garbled(`its answer to "${model}" could not be read: ${(e as Error).message}`);
    }
  }

  /** Closes the kept-alive connections. */
  close(): void {
    this.agent.destroy();
  }

  private garbled(what: string): ApiError {
    return new ApiError('model_error', `The inference server ${this.host} answered, but ${what}. Is it a KServe v2 server (Triton, KServe, MLServer)?`);
  }

  private async json(
    method: string,
    path: string,
    body: Uint8Array | undefined,
    signal: AbortSignal | undefined,
    model?: string,
  ): Promise<Record<string, unknown>> {
    const reply = await this.call(method, path, body, body ? { 'content-type': 'application/json' } : {}, signal, model);
    try {
      const parsed: unknown = JSON.parse(reply.body.toString('utf8'));
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
    } catch {
      // below
    }
    throw this.garbled(`not in JSON (${path})`);
  }

  /** A request with the retries of the header comment; a reply other than 2xx becomes its ApiError. */
  private async call(
    method: string,
    path: string,
    body: Uint8Array | undefined,
    headers: Record<string, string>,
    signal: AbortSignal | undefined,
    model?: string,
  ): Promise<Reply> {
    for (let attempt = 0; ; attempt++) {
      try {
        const reply = await this.once(method, path, body, headers, signal);
        if (reply.status >= 200 && reply.status < 300) return reply;
        throw this.statusError(reply, model);
      } catch (e) {
        if (!(e instanceof TryError)) throw e;
        if (!e.retriable || attempt >= this.retryDelays.length) throw e.error;
        await sleep(this.retryDelays[attempt]!, signal);
      }
    }
  }

  private statusError(reply: Reply, model: string | undefined): TryError {
    const status = reply.status;
    const said = serverMessage(reply.body);
    const host = this.host;
    if (status >= 300 && status < 400) {
      const to = typeof reply.headers.location === 'string' ? ` to ${reply.headers.location}` : '';
      return new TryError(
        new ApiError(
          'network_error',
          `The inference server ${host} redirects${to}; Lacuna does not follow redirects there (the token must not go elsewhere). ` +
            'Set the final address instead.',
        ),
        false,
      );
    }
    if (status === 401 || status === 403) {
      const why = this.server.token ? 'refused the token' : 'wants a token';
      return new TryError(
        new ApiError('network_error', `The inference server ${host} ${why} (HTTP ${status}); check the token in the inference server setting.`),
        false,
      );
    }
    if (status === 404 && model !== undefined) {
      return new TryError(
        new ApiError(
          'model_error',
          `The inference server ${host} has no model "${model}"${said ? ` (${said})` : ''}. ` +
            `Export it with \`lacuna models export-server ${model} DIR\` and serve that folder.`,
        ),
        false,
      );
    }
    if (status === 502 || status === 503 || status === 504) {
      return new TryError(new ApiError('network_error', `The inference server ${host} is not available (HTTP ${status})${said ? `: ${said}` : ''}.`), true);
    }
    if (status >= 400 && status < 500) {
      return new TryError(new ApiError('model_error', `The inference server ${host} refused the call (HTTP ${status})${said ? `: ${said}` : ''}.`), false);
    }
    return new TryError(new ApiError('model_error', `The inference server ${host} failed (HTTP ${status})${said ? `: ${said}` : ''}.`), false);
  }

  /** One HTTP exchange, the whole reply read; TryError on a failure of the connection. */
  private once(method: string, path: string, body: Uint8Array | undefined, headers: Record<string, string>, signal: AbortSignal | undefined): Promise<Reply> {
    const url = new URL(path, this.base);
    const ms = this.server.timeoutMs;
    const secs = ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
    return new Promise<Reply>((resolve, reject) => {
      if (signal?.aborted) {
        reject(new ApiError('cancelled', 'the call to the inference server was cancelled'));
        return;
      }
      let settled = false;
      const finish = (err: unknown, reply?: Reply): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve(reply!);
      };
      const request = (url.protocol === 'https:' ? https : http).request(url, {
        method,
        agent: this.agent,
        headers: {
          accept: 'application/json, application/octet-stream',
          ...headers,
          ...(body ? { 'content-length': String(body.byteLength) } : {}),
          // Only to this origin: the request URL is resolved against the saved address, and redirects are refused.
          ...(this.server.token ? { authorization: `Bearer ${this.server.token}` } : {}),
        },
      });
      const onAbort = (): void => {
        request.destroy();
        finish(new ApiError('cancelled', 'the call to the inference server was cancelled'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const timer = setTimeout(() => {
        request.destroy();
        finish(new TryError(new ApiError('network_error', `The inference server ${this.host} did not answer within ${secs}.`), false));
      }, this.server.timeoutMs);
      let socketBase = { written: 0, read: 0 };
      request.on('socket', (socket) => {
        socketBase = { written: socket.bytesWritten, read: socket.bytesRead };
      });
      const count = (): void => {
        const s = request.socket;
        if (!s) return;
        this.traffic.sent += Math.max(0, s.bytesWritten - socketBase.written);
        this.traffic.received += Math.max(0, s.bytesRead - socketBase.read);
      };
      request.on('error', (e) => finish(connectionError(e, this.host, secs)));
      request.on('response', (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_RESPONSE_BYTES) {
            request.destroy();
            finish(
              new TryError(new ApiError('model_error', `The inference server ${this.host} sent more than ${MAX_RESPONSE_BYTES >> 20} MB for one call.`), false),
            );
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => {
          count();
          finish(undefined, { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks, size) });
        });
        res.on('error', (e) => finish(connectionError(e, this.host, secs)));
        res.on('aborted', () => finish(connectionError(new Error('aborted'), this.host, secs)));
      });
      request.end(body ? Buffer.from(body.buffer, body.byteOffset, body.byteLength) : undefined);
    });
  }
}

const OFFLINE = new Set(['ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'ENETDOWN', 'EHOSTUNREACH', 'EHOSTDOWN', 'EAI_FAIL', 'EAI_NODATA']);
const DROPPED = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ERR_STREAM_PREMATURE_CLOSE']);

/** A failed connection → TryError (refused and broken connections are retried; the rest is not). */
function connectionError(e: unknown, host: string, limit: string): TryError {
  const code = (e as NodeJS.ErrnoException | undefined)?.code ?? '';
  const message = e instanceof Error ? e.message : String(e);
  const unreachable = (why: string, retriable: boolean): TryError =>
    new TryError(new ApiError('network_error', `Cannot reach the inference server ${host}: ${why}.`), retriable);
  if (code === 'ECONNREFUSED') return unreachable('the connection was refused (is the server running?)', true);
  if (OFFLINE.has(code)) return unreachable('its name does not resolve, or this computer is offline', false);
  if (code === 'ETIMEDOUT') return unreachable(`the connection timed out`, false);
  if (DROPPED.has(code) || message === 'aborted' || /socket hang up/.test(message)) return unreachable('the connection broke', true);
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|ERR_SSL|HOSTNAME/.test(code)) {
    return new TryError(
      new ApiError('network_error', `Cannot make a secure connection to the inference server ${host} (${code}): this computer does not trust its certificate.`),
      false,
    );
  }
  return unreachable(`${message} (${limit} limit)`, false);
}

/** A v2 error body's "error" field, else its first 200 characters. */
function serverMessage(body: Buffer): string {
  const text = body.toString('utf8').trim();
  try {
    const parsed = JSON.parse(text) as { error?: unknown; detail?: unknown };
    if (typeof parsed.error === 'string') return parsed.error.slice(0, 500);
    if (typeof parsed.detail === 'string') return parsed.detail.slice(0, 500);
  } catch {
    // not JSON
  }
  return text.slice(0, 200);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new ApiError('cancelled', 'the call to the inference server was cancelled'));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(t);
      reject(new ApiError('cancelled', 'the call to the inference server was cancelled'));
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * The certificates https trusts: Node's default store (its bundled roots and NODE_EXTRA_CA_CERTS,
 * which a `ca` option would otherwise replace), and this computer's store — tls.getCACertificates
 * where Node has it (≥ 22.15, as in Electron), else the usual Linux bundle files — and any extra
 * ones given.
 */
export function trustedCertificates(extra?: string | string[], env: NodeJS.ProcessEnv = process.env): string[] {
  const pem = (text: string): string[] => text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  const readPem = (file: string): string[] => {
    try {
      return pem(readFileSync(file, 'utf8'));
    } catch {
      return [];
    }
  };
  const certs = new Set<string>(tls.rootCertificates);
  const get = (tls as { getCACertificates?: (kind: string) => string[] }).getCACertificates;
  const store = (kind: string): string[] => {
    try {
      return get ? get(kind) : [];
    } catch {
      return [];
    }
  };
  for (const c of store('default')) certs.add(c);
  if (env.NODE_EXTRA_CA_CERTS) for (const c of readPem(env.NODE_EXTRA_CA_CERTS)) certs.add(c);
  let system = store('system');
  if (system.length === 0 && process.platform === 'linux') {
    for (const file of ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt', '/etc/ssl/cert.pem']) {
      system = readPem(file);
      if (system.length) break;
    }
  }
  for (const c of system) certs.add(c);
  for (const c of extra === undefined ? [] : Array.isArray(extra) ? extra : [extra]) certs.add(c);
  return [...certs];
}

function elementCount(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

function jsonData(t: V2Tensor): number[] {
  return t.data instanceof BigInt64Array ? Array.from(t.data, Number) : Array.from(t.data);
}

/** An inference request in JSON (every tensor as a flat array; float32 values print exactly). */
export function encodeJson(inputs: readonly V2Tensor[], outputs: readonly string[]): { body: Uint8Array; headers: Record<string, string> } {
  const header = {
    inputs: inputs.map((t) => ({ name: t.name, shape: t.shape, datatype: t.datatype, data: jsonData(t) })),
    outputs: outputs.map((name) => ({ name, parameters: { binary_data: false } })),
  };
  return { body: new TextEncoder().encode(JSON.stringify(header)), headers: { 'content-type': 'application/json' } };
}

/** An inference request in the binary tensor data extension, asking for binary outputs. */
export function encodeBinary(inputs: readonly V2Tensor[], outputs: readonly string[]): { body: Uint8Array; headers: Record<string, string> } {
  const header = new TextEncoder().encode(
    JSON.stringify({
      inputs: inputs.map((t) => ({ name: t.name, shape: t.shape, datatype: t.datatype, parameters: { binary_data_size: t.data.byteLength } })),
      outputs: outputs.map((name) => ({ name, parameters: { binary_data: true } })),
      parameters: { binary_data_output: true },
    }),
  );
  const size = header.byteLength + inputs.reduce((n, t) => n + t.data.byteLength, 0);
  const body = new Uint8Array(size);
  body.set(header, 0);
  let at = header.byteLength;
  for (const t of inputs) {
    body.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  return { body, headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.byteLength) } };
}

/** An inference reply, JSON or binary (`headerLength`: the Inference-Header-Content-Length it came with). */
export function decodeInferReply(body: Buffer, headerLength: string | string[] | undefined): Record<string, V2Tensor> {
  const jsonLength = headerLength === undefined ? body.length : Number(Array.isArray(headerLength) ? headerLength[0] : headerLength);
  if (!Number.isInteger(jsonLength) || jsonLength < 0 || jsonLength > body.length) throw new Error(`bad ${HEADER_LENGTH} ${String(headerLength)}`);
  const parsed = JSON.parse(body.subarray(0, jsonLength).toString('utf8')) as { outputs?: unknown };
  if (!Array.isArray(parsed.outputs)) throw new Error('no outputs');
  let at = jsonLength;
  const out: Record<string, V2Tensor> = {};
  for (const raw of parsed.outputs as unknown[]) {
    const o = (raw ?? {}) as { name?: unknown; datatype?: unknown; shape?: unknown; data?: unknown; parameters?: { binary_data_size?: unknown } };
    if (typeof o.name !== 'string' || !Array.isArray(o.shape) || !o.shape.every((d) => Number.isInteger(d) && d >= 0)) throw new Error('a malformed output');
    if (o.datatype !== 'INT64' && o.datatype !== 'FP32') throw new Error(`output ${o.name} is ${String(o.datatype)}, not INT64 or FP32`);
    const shape = o.shape as number[];
    const n = elementCount(shape);
    const size = o.parameters?.binary_data_size;
    let data: BigInt64Array | Float32Array;
    if (size !== undefined) {
      if (typeof size !== 'number' || size !== n * (o.datatype === 'INT64' ? 8 : 4) || at + size > body.length) {
        throw new Error(`output ${o.name}: ${String(size)} bytes for ${n} ${o.datatype} values`);
      }
      // Copied into its own buffer: the reply's bytes need not be aligned for 8-byte integers.
      const bytes = new Uint8Array(body.subarray(at, at + size));
      data = o.datatype === 'INT64' ? new BigInt64Array(bytes.buffer) : new Float32Array(bytes.buffer);
      at += size;
    } else {
      if (!Array.isArray(o.data)) throw new Error(`output ${o.name} has no data`);
      const flat = (o.data as unknown[]).flat(Infinity) as unknown[];
      if (flat.length !== n || !flat.every((v) => typeof v === 'number'))
        throw new Error(`output ${o.name}: ${flat.length} values for shape [${shape.join(', ')}]`);
      data = o.datatype === 'INT64' ? BigInt64Array.from(flat as number[], (v) => BigInt(Math.trunc(v))) : Float32Array.from(flat as number[]);
    }
    out[o.name] = { name: o.name, datatype: o.datatype, shape, data };
  }
  return out;
}
