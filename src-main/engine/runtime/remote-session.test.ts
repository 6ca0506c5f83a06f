/**
 * The remote device against a real KServe v2 server (KServe's Python model server hosting the
 * exported networks with onnxruntime 1.30, the version of the app's onnxruntime-node): the same seed
 * gives the same fill token for token, in both transports; the server's model is checked; a slow
 * server times out or is cancelled.
 */
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError } from '../../common/api';
import type { RemoteServer } from '../../common/inference-server';
import { Engine } from '../engine';
import { FAKE_HUB_TLS } from '../model/fake-hub';
import { exportForServer } from '../model/server-export';
import { FIXTURE_DIR, ROOT } from '../test-fixture';
import type { FillJob } from '../types';
import { startKServe, type KServeProcess } from './kserve-test-server';
import { connectRemote } from './remote-session';
import { ScoreModel } from './score-model';

const MINI_DIR = join(ROOT, 'models', 'lacuna-mini');
let repo: string;
let server: KServeProcess;
const engine = new Engine({ threads: 1 });
const remote = (extra: Partial<RemoteServer> = {}): RemoteServer => ({ url: server.url, timeoutMs: 30_000, ...extra });

beforeAll(async () => {
  repo = await mkdtemp(join(tmpdir(), 'lacuna-kserve-repo-'));
  await exportForServer(FIXTURE_DIR, repo);
  await exportForServer(MINI_DIR, repo);
  server = await startKServe(repo, { threads: 1 });
}, 180_000);

afterAll(async () => {
  await engine.close();
  await server?.kill('SIGTERM');
  await rm(repo, { recursive: true, force: true });
});

let n = 0;
const job = (modelDir: string, text: string, extra: Partial<FillJob> = {}): FillJob => ({ requestId: `remote-${n++}`, text, modelDir, ...extra });

async function errorOf(p: Promise<unknown>): Promise<ApiError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ApiError);
    return e as ApiError;
  }
  throw new Error('expected a failure');
}

describe('a fill on the remote device', () => {
  it('matches the local fill token for token: fused draw, tempered choice, auto blanks, alternatives', async () => {
    const cases: [string, string, Partial<FillJob>][] = [
      // tiny-fixture: σ-conditioned, plain token choice → the fused draw (token + log_norm per position)
      [FIXTURE_DIR, 'The keeper {{12}} every night, and {{5}} the sea.', { steps: 24, seed: 11 }],
      // lacuna-mini: temperature 0.7, top-p 0.9 → log-score rows at the masked positions
      [MINI_DIR, 'The keeper {{12}} every night, and {{5}} the sea.', { steps: 24, seed: 11 }],
      // auto blank lengths and alternatives: the ranking's likelihood calls as well
      [MINI_DIR, 'She opened the door and ____ in the rain.', { steps: 12, seed: 3, alternatives: 2 }],
    ];
    for (const [dir, text, options] of cases) {
      const local = await engine.fill(job(dir, text, { ...options, device: 'cpu' }));
      const there = await engine.fill(job(dir, text, { ...options, device: 'remote', server: remote() }));
      expect(there.device).toBe(`remote:${server.url}`);
      expect(there.alternatives).toEqual(local.alternatives);
      expect(there.text).toBe(local.text);
      expect(there.networkCalls).toBe(local.networkCalls);
      expect(local.device).toBe('cpu');
    }
  });

  it('scores a text to the same bound as the local network', async () => {
    const text = 'The lighthouse keeper climbed the stairs.';
    const local = await engine.score({ requestId: `s${n++}`, text, modelDir: MINI_DIR, draws: 4, seed: 5, device: 'cpu' });
    const there = await engine.score({ requestId: `s${n++}`, text, modelDir: MINI_DIR, draws: 4, seed: 5, device: 'remote', server: remote() });
    expect(there.nll).toBe(local.nll);
    expect(there.perToken).toEqual(local.perToken);
  });

  it('gets bit-identical network outputs in the binary and the JSON transport, and says which bytes crossed', async () => {
    const pkgNetwork = join(FIXTURE_DIR, 'model.onnx');
    const local = await ScoreModel.load(pkgNetwork, 512, { device: 'cpu', threads: 1 });
    const binary = await connectRemote({ server: remote(), model: 'tiny-fixture', networkPath: pkgNetwork, vocabSize: 512, transport: 'binary' });
    const json = await connectRemote({ server: remote(), model: 'tiny-fixture', networkPath: pkgNetwork, vocabSize: 512, transport: 'json' });
    expect(binary.transport).toBe('binary');
    expect(json.transport).toBe('json');
    // Probed, the KServe server takes the binary extension (it does not list it in its extensions).
    const probed = await connectRemote({ server: remote(), model: 'tiny-fixture', networkPath: pkgNetwork, vocabSize: 512 });
    expect(probed.transport).toBe('binary');
    await probed.model.release();

    const L = 32;
    const tokens = Int32Array.from({ length: 2 * L }, (_, i) => (i % 5 === 0 ? 511 : (i * 37) % 500));
    const positions = Int32Array.from([...tokens].flatMap((t, i) => (t === 511 ? [i] : [])));
    const uniforms = Float32Array.from(positions, (_, i) => Math.fround((i * 0.137) % 1));
    const sigma = Float32Array.of(0.7, 2.5);
    const want = await local.maskedDraw(tokens, sigma, 2, positions, uniforms);
    const wantScores = await local.maskedScores(tokens, sigma, 2, positions);
    for (const r of [binary.model, json.model]) {
      const before = r.traffic;
      expect(await r.maskedDraw(tokens, sigma, 2, positions, uniforms)).toEqual(want);
      const after = r.traffic;
      expect(after.sent).toBeGreaterThan(before.sent);
      expect(after.received).toBeGreaterThan(before.received);
      const got = await r.maskedScores(tokens, sigma, 2, positions);
      expect(Buffer.from(got.scores.buffer, got.scores.byteOffset, got.scores.byteLength).equals(Buffer.from(wantScores.scores.buffer))).toBe(true);
      expect(got.logNorm).toEqual(wantScores.logNorm);
    }
    // The fused draw sends ids, σ, positions and uniforms and gets 2 numbers per position back: no [L × V] rows.
    const t0 = binary.model.traffic;
    await binary.model.maskedDraw(tokens, sigma, 2, positions, uniforms);
    const t1 = binary.model.traffic;
    expect(t1.received - t0.received).toBeLessThan(2_000);
    expect(t1.sent - t0.sent).toBeLessThan(2 * L * 8 + 2_000);
    await Promise.all([local.release(), binary.model.release(), json.model.release()]);
  });
});

describe('the server and its model are checked', () => {
  it('refuses a server whose model of that name is another network, before any text is sent', async () => {
    const wrongRepo = await mkdtemp(join(tmpdir(), 'lacuna-kserve-wrong-'));
    // lacuna-mini's export under tiny-fixture's name
    await cp(join(repo, 'lacuna-mini'), join(wrongRepo, 'tiny-fixture'), { recursive: true });
    const wrong = await startKServe(wrongRepo);
    try {
      const e = await errorOf(engine.fill(job(FIXTURE_DIR, 'A {{4}} day.', { device: 'remote', server: { url: wrong.url, timeoutMs: 30_000 } })));
      expect(e.code).toBe('model_error');
      expect(e.message).toContain(`The inference server ${new URL(wrong.url).host} has a different model under the name "tiny-fixture"`);
      expect(e.message).toContain("its vocabulary has 8192 tokens, this model's 512");
      const missing = await errorOf(engine.fill(job(MINI_DIR, 'A {{4}} day.', { device: 'remote', server: { url: wrong.url, timeoutMs: 30_000 } })));
      expect(missing.message).toContain('has no model "lacuna-mini"');
    } finally {
      await wrong.kill();
      await rm(wrongRepo, { recursive: true, force: true });
    }
  });

  it('refuses the remote device without a server', async () => {
    const e = await errorOf(engine.fill(job(FIXTURE_DIR, 'A {{4}} day.', { device: 'remote' })));
    expect(e.code).toBe('bad_request');
    expect(e.message).toContain('needs an inference server');
  });
});

describe('https', () => {
  it('fills through a TLS front of the server when this computer trusts its certificate, and says so when it does not', async () => {
    // A TLS-terminating proxy in front of the KServe server (as nginx or a cloud load balancer would be), self-signed for 127.0.0.1.
    const upstream = new URL(server.url);
    const proxy = createTlsServer({ key: FAKE_HUB_TLS.key, cert: FAKE_HUB_TLS.cert }, (req, res) => {
      const forward = httpRequest({ host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      });
      req.pipe(forward);
    });
    await new Promise<void>((done) => proxy.listen(0, '127.0.0.1', done));
    const url = `https://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    const caFile = join(repo, 'extra-ca.pem');
    await writeFile(caFile, FAKE_HUB_TLS.cert);
    const before = process.env.NODE_EXTRA_CA_CERTS;
    try {
      const untrusted = await errorOf(engine.fill(job(FIXTURE_DIR, 'A {{4}} day.', { device: 'remote', server: { url, timeoutMs: 30_000 } })));
      expect(untrusted.code).toBe('network_error');
      expect(untrusted.message).toMatch(
        /^Cannot make a secure connection to the inference server 127\.0\.0\.1:\d+ \(\w+\): this computer does not trust its certificate\.$/,
      );
      // Trusted the way a company CA is given to Node programs (a `ca` list must not drop it).
      process.env.NODE_EXTRA_CA_CERTS = caFile;
      const text = 'The {{6}} of the sea.';
      const local = await engine.fill(job(FIXTURE_DIR, text, { seed: 2, steps: 8, device: 'cpu' }));
      const there = await engine.fill(job(FIXTURE_DIR, text, { seed: 2, steps: 8, device: 'remote', server: { url, timeoutMs: 30_000 } }));
      expect(there.text).toBe(local.text);
      expect(there.device).toBe(`remote:${url}`);
    } finally {
      if (before === undefined) delete process.env.NODE_EXTRA_CA_CERTS;
      else process.env.NODE_EXTRA_CA_CERTS = before;
      await new Promise((done) => proxy.close(done));
    }
  });
});

describe('a slow server', () => {
  let slow: KServeProcess;
  beforeAll(async () => {
    slow = await startKServe(repo, { delayMs: 1500, models: ['tiny-fixture'] });
  }, 180_000);
  afterAll(async () => {
    await slow?.kill();
  });

  it('times out with a clear message when a call takes longer than the setting allows', async () => {
    const e = await errorOf(engine.fill(job(FIXTURE_DIR, 'A {{4}} day.', { steps: 4, seed: 1, device: 'remote', server: { url: slow.url, timeoutMs: 1000 } })));
    expect(e.code).toBe('network_error');
    expect(e.message).toBe(`The inference server ${new URL(slow.url).host} did not answer within 1 s.`);
  });

  it('fills the same as here when it is slow but within the limit; a cancel stops the call in flight', async () => {
    const text = 'A {{4}} day.';
    const local = await engine.fill(job(FIXTURE_DIR, text, { steps: 3, seed: 9, device: 'cpu' }));
    const there = await engine.fill(job(FIXTURE_DIR, text, { steps: 3, seed: 9, device: 'remote', server: { url: slow.url, timeoutMs: 10_000 } }));
    expect(there.text).toBe(local.text);

    const j = job(FIXTURE_DIR, text, { steps: 64, seed: 9, device: 'remote', server: { url: slow.url, timeoutMs: 10_000 } });
    const running = engine.fill(j, () => undefined);
    // Loaded and in its first step's call (each takes 1.5 s): cancel it there.
    await new Promise((r) => setTimeout(r, 500));
    engine.cancel(j.requestId);
    const e = await errorOf(running);
    expect(e.code).toBe('cancelled');
    // Stopped inside the call, not at the next step's checkpoint ("fill … was cancelled").
    expect(e.message).toBe('the call to the inference server was cancelled');
  });
});
