import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiError } from '../../common/api';
import { decodeInferReply, encodeBinary, encodeJson, V2Client, type V2Tensor } from './kserve-v2';
import { signatureProblems } from './remote-session';

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((done) => s.close(done));
});

/** A real HTTP server on 127.0.0.1 answering with `handler`; its base URL. */
async function serve(handler: (req: IncomingMessage, res: ServerResponse, body: Buffer) => void): Promise<string> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handler(req, res, Buffer.concat(chunks)));
  });
  servers.push(server);
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A port nothing listens on (a server opened and closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  await new Promise((done) => server.close(done));
  return port;
}

async function errorOf(p: Promise<unknown>): Promise<ApiError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ApiError);
    return e as ApiError;
  }
  throw new Error('expected a failure');
}

const inputs: V2Tensor[] = [
  { name: 'indices', datatype: 'INT64', shape: [1, 3], data: BigInt64Array.of(5n, 8191n, 7n) },
  { name: 'sigma', datatype: 'FP32', shape: [1], data: Float32Array.of(Math.fround(0.1)) },
];

describe('KServe v2 tensors', () => {
  it('encodes a request in JSON with float32 values that read back exactly', () => {
    const { body, headers } = encodeJson(inputs, ['token']);
    expect(headers['content-type']).toBe('application/json');
    const req = JSON.parse(new TextDecoder().decode(body)) as { inputs: { name: string; data: number[]; shape: number[]; datatype: string }[] };
    expect(req.inputs[0]).toEqual({ name: 'indices', shape: [1, 3], datatype: 'INT64', data: [5, 8191, 7] });
    // The double printed for a float32 rounds back to the same float32 on the server.
    expect(Math.fround(req.inputs[1]!.data[0]!)).toBe(Math.fround(0.1));
  });

  it('encodes a request in the binary extension: JSON header, then the raw tensors in order', () => {
    const { body, headers } = encodeBinary(inputs, ['token', 'log_norm']);
    const n = Number(headers['inference-header-content-length']);
    const header = JSON.parse(new TextDecoder().decode(body.subarray(0, n))) as {
      inputs: { parameters: { binary_data_size: number } }[];
      outputs: { name: string; parameters: { binary_data: boolean } }[];
    };
    expect(header.inputs.map((i) => i.parameters.binary_data_size)).toEqual([24, 4]);
    expect(header.outputs).toEqual([
      { name: 'token', parameters: { binary_data: true } },
      { name: 'log_norm', parameters: { binary_data: true } },
    ]);
    expect(body.byteLength).toBe(n + 28);
    expect([...new BigInt64Array(body.slice(n, n + 24).buffer)]).toEqual([5n, 8191n, 7n]);
    expect(new Float32Array(body.slice(n + 24).buffer)[0]).toBe(Math.fround(0.1));
  });

  it('decodes binary and JSON replies to the same tensors, and refuses malformed ones', () => {
    const token = BigInt64Array.of(3n, 4n);
    const logNorm = Float32Array.of(-1.5, Math.fround(2.2));
    const header = Buffer.from(
      JSON.stringify({
        outputs: [
          { name: 'token', datatype: 'INT64', shape: [2], parameters: { binary_data_size: 16 } },
          { name: 'log_norm', datatype: 'FP32', shape: [2], parameters: { binary_data_size: 8 } },
        ],
      }),
    );
    // One byte of padding before the tensors: the decoder must copy, not view unaligned memory.
    const binary = Buffer.concat([Buffer.from(' '), header, Buffer.from(token.buffer), Buffer.from(logNorm.buffer)]).subarray(1);
    const fromBinary = decodeInferReply(binary, String(header.length));
    const json = Buffer.from(
      JSON.stringify({
        outputs: [
          { name: 'token', datatype: 'INT64', shape: [2], data: [3, 4] },
          { name: 'log_norm', datatype: 'FP32', shape: [2], data: [[-1.5, Math.fround(2.2)]] },
        ],
      }),
    );
    const fromJson = decodeInferReply(json, undefined);
    for (const out of [fromBinary, fromJson]) {
      expect([...(out.token!.data as BigInt64Array)]).toEqual([3n, 4n]);
      expect([...(out.log_norm!.data as Float32Array)]).toEqual([...logNorm]);
    }
    expect(() => decodeInferReply(binary, '99999')).toThrow(/inference-header-content-length/);
    expect(() => decodeInferReply(Buffer.from('{"outputs":[{"name":"t","datatype":"INT64","shape":[3],"data":[1,2]}]}'), undefined)).toThrow(/2 values/);
    expect(() => decodeInferReply(Buffer.from('{"outputs":[{"name":"t","datatype":"BYTES","shape":[1],"data":["a"]}]}'), undefined)).toThrow(/BYTES/);
  });
});

describe("the server's model against the local graph", () => {
  const local = {
    inputs: [
      { name: 'indices', type: 'TYPE_INT64', dims: [-1, -1] },
      { name: 'sigma', type: 'TYPE_FP32', dims: [-1] },
    ],
    outputs: [{ name: 'log_score', type: 'TYPE_FP32', dims: [-1, 512] }],
  };
  const remote = {
    inputs: [
      { name: 'indices', datatype: 'INT64', shape: [-1, -1] },
      { name: 'sigma', datatype: 'FP32', shape: [-1] },
    ],
    outputs: [{ name: 'log_score', datatype: 'FP32', shape: [-1, 512] }],
  };

  it('accepts the same names, datatypes and shapes (-1 matching any size)', () => {
    expect(signatureProblems(local, remote, 512)).toEqual([]);
    expect(signatureProblems(local, { ...remote, outputs: [{ name: 'log_score', datatype: 'FP32', shape: [-1, -1] }] }, 512)).toEqual([]);
  });

  it('names every difference: a missing input, a datatype, an extra output, the vocabulary', () => {
    const other = {
      inputs: [{ name: 'indices', datatype: 'INT32', shape: [-1, -1] }],
      outputs: [
        { name: 'log_score', datatype: 'FP32', shape: [-1, 8192] },
        { name: 'extra', datatype: 'FP32', shape: [-1] },
      ],
    };
    expect(signatureProblems(local, other, 512)).toEqual([
      'its input "indices" is INT32 [-1, -1], this model\'s is INT64 [-1, -1]',
      'it has no input "sigma" (it has indices)',
      'its output "log_score" is FP32 [-1, 8192], this model\'s is FP32 [-1, 512]',
      'it has an output "extra" this model does not have',
      "its vocabulary has 8192 tokens, this model's 512",
    ]);
  });
});

describe('V2Client on the wire', () => {
  const server = (url: string, extra: Partial<{ token: string; timeoutMs: number }> = {}) => ({ url, timeoutMs: 5000, ...extra });

  it('retries a refused connection with backoff, then says the server cannot be reached', async () => {
    const port = await closedPort();
    const client = new V2Client(server(`http://127.0.0.1:${port}`), { retryDelaysMs: [10, 20] });
    const e = await errorOf(client.serverMetadata());
    expect(e.code).toBe('network_error');
    expect(e.message).toBe(`Cannot reach the inference server 127.0.0.1:${port}: the connection was refused (is the server running?).`);
    client.close();
  });

  it('retries HTTP 503 and succeeds when the server comes back; a 400 is not retried', async () => {
    let calls = 0;
    const url = await serve((req, res) => {
      calls++;
      if (req.url === '/v2' && calls < 3) {
        res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":"warming up"}');
        return;
      }
      if (req.url === '/v2') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"name":"s","version":"1","extensions":["binary_tensor_data"]}');
        return;
      }
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"bad input"}');
    });
    const client = new V2Client(server(url), { retryDelaysMs: [5, 5, 5] });
    expect(await client.serverMetadata()).toEqual({ name: 's', version: '1', extensions: ['binary_tensor_data'] });
    expect(calls).toBe(3);
    const e = await errorOf(client.infer('m', inputs, ['token'], false));
    expect(e).toMatchObject({ code: 'model_error', message: expect.stringContaining('refused the call (HTTP 400): bad input') as string });
    expect(calls).toBe(4);
    expect(client.traffic.sent).toBeGreaterThan(0);
    expect(client.traffic.received).toBeGreaterThan(0);
    client.close();
  });

  it('sends the token to its server only: a redirect is refused, not followed', async () => {
    const seen: (string | undefined)[] = [];
    const elsewhere = await serve((req, res) => {
      seen.push(`elsewhere ${req.headers.authorization ?? ''}`);
      res.writeHead(200).end('{}');
    });
    const url = await serve((req, res) => {
      seen.push(req.headers.authorization);
      res.writeHead(307, { location: `${elsewhere}/v2` }).end();
    });
    const client = new V2Client(server(url, { token: 'secret-1' }));
    const e = await errorOf(client.serverMetadata());
    expect(e.code).toBe('network_error');
    expect(e.message).toContain('does not follow redirects');
    expect(seen).toEqual(['Bearer secret-1']);
    client.close();
  });

  it('says when the token is refused or wanted, and when a model is missing', async () => {
    const url = await serve((req, res) => {
      if (!req.headers.authorization) res.writeHead(401).end();
      else if (req.headers.authorization !== 'Bearer right') res.writeHead(403).end();
      else res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"Model with name m does not exist."}');
    });
    expect((await errorOf(new V2Client(server(url)).serverMetadata())).message).toContain('wants a token (HTTP 401)');
    expect((await errorOf(new V2Client(server(url, { token: 'wrong' })).serverMetadata())).message).toContain('refused the token (HTTP 403)');
    const missing = await errorOf(new V2Client(server(url, { token: 'right' })).modelMetadata('m'));
    expect(missing.code).toBe('model_error');
    expect(missing.message).toContain('has no model "m" (Model with name m does not exist.). Export it with `lacuna models export-server m DIR`');
  });

  it('gives up on a server that does not answer within the timeout, and stops at once when cancelled', async () => {
    const url = await serve(() => undefined); // never answers
    const slow = new V2Client(server(url, { timeoutMs: 300 }));
    const e = await errorOf(slow.serverMetadata());
    expect(e).toMatchObject({ code: 'network_error', message: `The inference server ${new URL(url).host} did not answer within 300 ms.` });
    slow.close();
    const client = new V2Client(server(url, { timeoutMs: 60_000 }));
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 100);
    // Without the abort this call would wait out its 60 s and the test's own time limit.
    const c = await errorOf(client.infer('m', inputs, ['token'], true, abort.signal));
    expect(c.code).toBe('cancelled');
    client.close();
  });
});
