/**
 * Execution providers. Runs everywhere: every EP this platform lists is probed, an unavailable one
 * must come with a reason, CPU must work and be the fallback, and every EP that does work must
 * match the CPU log-scores and seeded tokens on the fixture network. With LACUNA_REQUIRE_WEBGPU=1
 * (CI, after installing Mesa lavapipe, .ci/run) the WebGPU EP is required to work.
 */
import { readFileSync } from 'node:fs';
import type { InferenceSession } from 'onnxruntime-node';
import { Tensor } from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AbsorbingGraph } from '../sampling/graph';
import { noiseFromSpec, type NoiseSpec } from '../sampling/noise';
import {
  MAX_CPU_THREADS,
  candidateProviders,
  cpuThreads,
  describeFailure,
  listDevices,
  resolveDeviceChoice,
  selectProvider,
  sessionOptionsFor,
  type ProviderId,
} from './providers';
import { Random } from '../random';
import { sampleAnalyticAbsorbing, streamExpNoise } from '../sampling/analytic';
import { fixtureFile, fixtureJson } from '../test-fixture';

const REQUIRE_WEBGPU = process.env.LACUNA_REQUIRE_WEBGPU === '1';
const manifest = fixtureJson<{ vocab_size: number; mask_id: number; length: number; noise: NoiseSpec }>('manifest.json');
const MODEL = fixtureFile('model.onnx');
const V = manifest.vocab_size;

async function logScores(session: InferenceSession, tokens: Int32Array, sigma: number): Promise<Float32Array> {
  const indices = BigInt64Array.from(tokens, (t) => BigInt(t));
  // Network I/O 2 (models/FORMAT.md): every position, uniforms unused here.
  const n = tokens.length;
  const out = await session.run(
    {
      indices: new Tensor('int64', indices, [1, n]),
      sigma: new Tensor('float32', Float32Array.of(sigma), [1]),
      positions: new Tensor(
        'int64',
        BigInt64Array.from({ length: n }, (_, i) => BigInt(i)),
        [n],
      ),
      uniforms: new Tensor('float32', new Float32Array(n), [n]),
    },
    ['log_score'],
  );
  return out.log_score!.data as Float32Array;
}

/** A seeded infill on the fixture: 128 tokens, a 16-token blank at 40…55, 16 steps. */
async function seededFill(session: InferenceSession, seed: number): Promise<Int32Array> {
  const rng = new Random(1234);
  const template = Int32Array.from({ length: manifest.length }, () => Math.floor(rng.uniform() * (V - 2)));
  template.fill(manifest.mask_id, 40, 56);
  const r = await sampleAnalyticAbsorbing({
    template,
    graph: new AbsorbingGraph(V),
    noise: noiseFromSpec(manifest.noise),
    steps: 16,
    exp: streamExpNoise(new Random(seed)),
    score: (tokens, sigma) => logScores(session, tokens, sigma),
  });
  return r.tokens;
}

describe('provider choice', () => {
  it('lists candidates per platform with CPU last', () => {
    expect(candidateProviders('linux')).toEqual(['cuda', 'webgpu', 'cpu']);
    expect(candidateProviders('win32')).toEqual(['cuda', 'dml', 'webgpu', 'cpu']);
    expect(candidateProviders('darwin')).toEqual(['coreml', 'webgpu', 'cpu']);
    expect(candidateProviders('freebsd').at(-1)).toBe('cpu');
  });

  it('lets LACUNA_DEVICE override the option, and ignores a bad value with a note', () => {
    expect(resolveDeviceChoice(undefined, {})).toEqual({ choice: 'auto' });
    expect(resolveDeviceChoice('webgpu', {})).toEqual({ choice: 'webgpu' });
    expect(resolveDeviceChoice('webgpu', { LACUNA_DEVICE: 'CPU' })).toEqual({ choice: 'cpu' });
    const bad = resolveDeviceChoice('cuda', { LACUNA_DEVICE: 'tpu' });
    expect(bad.choice).toBe('cuda');
    expect(bad.note).toMatch(/LACUNA_DEVICE=tpu/);
  });

  it('uses a bounded CPU thread count and sequential execution', () => {
    expect(cpuThreads()).toBeGreaterThanOrEqual(1);
    expect(cpuThreads()).toBeLessThanOrEqual(MAX_CPU_THREADS);
    const o = sessionOptionsFor('cpu', { threads: 3 });
    expect(o).toMatchObject({ executionProviders: ['cpu'], intraOpNumThreads: 3, interOpNumThreads: 1, executionMode: 'sequential' });
    // threads block rather than spin while waiting (npm run bench:session: the CPU a laptop on battery saves)
    expect(o.extra).toEqual({ session: { intra_op: { allow_spinning: '0' } } });
    expect(sessionOptionsFor('cuda').executionProviders).toEqual([{ name: 'cuda', deviceId: 0 }]);
  });

  it('names the usual failures', () => {
    expect(describeFailure('cuda', 'libcudart.so.12: cannot open shared object file: No such file or directory')).toBe('cuda: libcudart.so.12 not found');
    expect(describeFailure('webgpu', 'Failed to get a WebGPU adapter: No supported adapters')).toMatch(/^webgpu: no adapter/);
    expect(describeFailure('dml', '')).toMatch(/^dml: /);
  });
});

describe('devices on this machine', () => {
  let devices: Awaited<ReturnType<typeof listDevices>>;
  beforeAll(async () => {
    devices = await listDevices();
    console.log(`providers: ${devices.map((d) => `${d.id}=${d.available ? 'yes' : 'no'} (${d.detail})`).join('; ')}`);
  }, 180_000);

  it('reports every candidate, with a reason for each unavailable one, and a working CPU', async () => {
    expect(devices.map((d) => d.id)).toEqual(candidateProviders());
    for (const d of devices) {
      expect(d.detail.length, `${d.id} detail`).toBeGreaterThan(0);
      if (!d.available) expect(d.detail.startsWith(`${d.id}: `), d.detail).toBe(true);
    }
    expect(devices.find((d) => d.id === 'cpu')?.available).toBe(true);
    expect(await listDevices()).toBe(devices); // cached per process
  });

  it('selects CPU when asked, ignoring LACUNA_DEVICE only when unset', async () => {
    const s = await selectProvider({ model: MODEL, device: 'cpu', env: {} });
    expect(s.id).toBe('cpu');
    expect(s.attempts).toEqual([]);
    await s.session.release();
  });

  it('falls back to CPU with a reason when the asked device is unavailable', async () => {
    const missing = (['coreml', 'dml', 'cuda', 'webgpu'] as ProviderId[]).find((id) => !devices.find((d) => d.id === id)?.available);
    expect(missing, 'some EP is unavailable on any one machine').toBeDefined();
    const s = await selectProvider({ model: MODEL, device: missing!, env: {} });
    expect(s.id).toBe('cpu');
    expect(s.attempts.length).toBe(1);
    expect(s.attempts[0]!.id).toBe(missing);
    expect(s.attempts[0]!.reason).toMatch(new RegExp(`^${missing}: .+`));
    await s.session.release();
  });

  it('auto ends on a working session and explains every skipped provider', async () => {
    const s = await selectProvider({ model: MODEL, device: 'auto', env: {} });
    const order = candidateProviders();
    for (const a of s.attempts) expect(a.reason.length).toBeGreaterThan(a.id.length + 2);
    expect(s.attempts.map((a) => a.id)).toEqual(order.slice(0, order.indexOf(s.id)));
    await s.session.release();
  });

  if (REQUIRE_WEBGPU) {
    it('has WebGPU (LACUNA_REQUIRE_WEBGPU=1)', () => {
      const webgpu = devices.find((d) => d.id === 'webgpu');
      expect(webgpu?.available, webgpu?.detail).toBe(true);
    });
  }
});

describe('parity of every working provider with CPU on the fixture', () => {
  let cpu: InferenceSession;
  const others: { id: ProviderId; session: InferenceSession }[] = [];
  beforeAll(async () => {
    cpu = (await selectProvider({ model: MODEL, device: 'cpu', env: {} })).session;
    for (const d of await listDevices()) {
      if (d.id === 'cpu' || !d.available) continue;
      const s = await selectProvider({ model: MODEL, device: d.id as ProviderId, env: {} });
      expect(s.id, `${d.id} probed fine but the fixture session failed: ${s.attempts.map((a) => a.reason).join('; ')}`).toBe(d.id);
      others.push({ id: s.id, session: s.session });
    }
    if (REQUIRE_WEBGPU) expect(others.map((o) => o.id)).toContain('webgpu');
  }, 180_000);
  afterAll(async () => {
    await cpu?.release();
    for (const o of others) await o.session.release();
  });

  it('gives the same log-scores (max abs ≤ 1e-4) and the same seeded tokens', async () => {
    const rng = new Random(7);
    const tokens = Int32Array.from({ length: 64 }, () => Math.floor(rng.uniform() * V));
    tokens.fill(manifest.mask_id, 10, 30);
    const ref = await logScores(cpu, tokens, 0.7);
    const refTokens = await seededFill(cpu, 99);
    expect(refTokens.includes(manifest.mask_id)).toBe(false);
    for (const o of others) {
      const got = await logScores(o.session, tokens, 0.7);
      let maxAbs = 0;
      for (let i = 0; i < ref.length; i++) if (Number.isFinite(ref[i]!)) maxAbs = Math.max(maxAbs, Math.abs(ref[i]! - got[i]!));
      const same = Array.from(await seededFill(o.session, 99)).every((t, i) => t === refTokens[i]);
      console.log(`${o.id} vs cpu: max |Δ log-score| = ${maxAbs.toExponential(2)}; seeded fill tokens ${same ? 'identical' : 'DIFFER'}`);
      expect(maxAbs).toBeLessThanOrEqual(1e-4);
      expect(same).toBe(true);
    }
  }, 180_000);

  it('reads the network bytes as well as a path', async () => {
    const s = await selectProvider({ model: readFileSync(MODEL), device: 'cpu', env: {} });
    expect(s.id).toBe('cpu');
    await s.session.release();
  });
});

describe('the engine on every working provider', () => {
  it('fills the same text as on CPU for the same seed, and reports the device it ran on', async () => {
    const { Engine } = await import('../engine');
    const dir = fixtureFile('.');
    const text = 'The harbour lights ____ across the water, and {{6}} the boats came home.';
    const cpuEngine = new Engine({ device: 'cpu' });
    const ref = await cpuEngine.fill({ requestId: 'cpu', text, modelDir: dir, steps: 12, seed: 5 });
    await cpuEngine.close();
    expect(ref.device).toBe('cpu');
    const working = (await listDevices()).filter((d) => d.id !== 'cpu' && d.available).map((d) => d.id as ProviderId);
    if (REQUIRE_WEBGPU) expect(working).toContain('webgpu');
    for (const id of working) {
      const engine = new Engine({ device: id });
      try {
        const got = await engine.fill({ requestId: id, text, modelDir: dir, steps: 12, seed: 5 });
        expect(got.device).toBe(id);
        expect(got.text).toBe(ref.text);
      } finally {
        await engine.close();
      }
    }
  }, 180_000);
});
