/**
 * `npm run bench`: timings of the score network and the sampler on this machine. Not part of
 * `npm test` — timing claims live here only. Bundled by Vite (SSR build into bench/.build/) and run
 * with Node; see package.json "bench".
 *
 *   npm run bench [-- --device cpu|webgpu|… --quick --no-small --steps N]
 *
 * Models: the test fixture, the default model (paths.ts DEFAULT_MODEL_ID, found in models/), and a
 * random-weight network in the sedd-small shape (H 768, 12 blocks, V 50258; ≈680 MB fp32) written on
 * first run to bench/cache/sedd-small-random.onnx by `/usr/bin/python3 scripts/bench-make-small.py`
 * (≈40 s here; needs python3-torch and python3-onnx, as the Python tests do).
 *
 * Reported (stdout table + JSON at $LACUNA_BENCH_OUT, default bench/results.json):
 *  - per network step: latency at L = 128/256/1024 (every position masked, the engine's sampler,
 *    few steps), generated tokens/s, the share of step time spent outside onnxruntime's run
 *    (JavaScript side: tensor conversion, sampler), network calls per fill;
 *  - a 16-token blank in 256 tokens of context, 64 steps, side by side in one run:
 *      fused      the engine's default (fused.ts sampleAnalyticAbsorbingFused, ONNX I/O 2): output
 *                 projection and token draw inside the graph at masked positions only, two numbers
 *                 per masked position back to JS, no call once nothing is masked;
 *      fused, mode fast   the same, reusing the output on steps that unmask nothing (approximate
 *                 for sigma-conditioned weights, exact for time-independent ones);
 *      race       sampleAnalyticAbsorbing: full [L x V] output into JS, closed-form exponential-race
 *                 draw at masked positions only (the reference-exact sampler);
 *      naive      the general analytic step at every position every step: exp of the whole [L x V]
 *                 output, staggered score times transition column, full-vocabulary Exp(1) draw
 *                 everywhere, a network call every step.
 *    All four use the same session.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { AbsorbingGraph } from '../src-main/engine/sampling/graph';
import { noiseFromSpec, type Noise, type NoiseSpec } from '../src-main/engine/sampling/noise';
import { cpuThreads, type LocalDeviceChoice as DeviceChoice } from '../src-main/engine/runtime/providers';
import { Random } from '../src-main/engine/random';
import { SAMPLING_EPS, linspace, sampleAnalyticAbsorbing, streamExpNoise } from '../src-main/engine/sampling/analytic';
import { sampleAnalyticAbsorbingFused } from '../src-main/engine/sampling/fused';
import { ScoreModel } from '../src-main/engine/runtime/score-model';
import { DEFAULT_MODEL_ID, appRoot } from '../src-main/platform/paths';
import { PASSAGE_AFTER, PASSAGE_BEFORE } from './bench-passage';

const ROOT = appRoot();
const args = process.argv.slice(2);
const flag = (name: string): boolean => args.includes(name);
const value = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const DEVICE = (value('--device') ?? 'cpu') as DeviceChoice;
const QUICK = flag('--quick');
const SIDE_STEPS = Number(value('--steps') ?? 64);
const OUT = process.env.LACUNA_BENCH_OUT ?? join(ROOT, 'bench', 'results.json');
const SMALL = join(ROOT, 'bench', 'cache', 'sedd-small-random.onnx');

interface BenchModel {
  name: string;
  path: string;
  V: number;
  noise: NoiseSpec;
  /** Sampler steps for the per-step rows (few for the big network: one step is seconds here). */
  steps: number;
}

/** Wall time, time inside onnxruntime's run and network calls of `f` on `net`. */
async function timed<T>(net: ScoreModel, f: () => Promise<T>): Promise<{ result: T; ms: number; runMs: number; calls: number }> {
  const calls0 = net.stats.calls;
  const run0 = net.stats.runMs;
  const t0 = performance.now();
  const result = await f();
  return { result, ms: performance.now() - t0, runMs: net.stats.runMs - run0, calls: net.stats.calls - calls0 };
}

function contextTokens(L: number, V: number, seed: number): Int32Array {
  const rng = new Random(seed);
  return Int32Array.from({ length: L }, () => Math.floor(rng.uniform() * (V - 2)));
}

type Path = 'fused' | 'fused, mode fast' | 'race' | 'race, mode fast';

/** One of the engine's samplers over a template (batch 1); returns wall time, time in onnxruntime, calls. */
async function engineFill(net: ScoreModel, m: BenchModel, template: Int32Array, steps: number, seed: number, path: Path) {
  const common = {
    template,
    graph: new AbsorbingGraph(m.V),
    noise: noiseFromSpec(m.noise),
    steps,
    // mode 'fast' (the API's approximate mode for sigma-conditioned weights): reuse the last network
    // output on steps that unmasked nothing, with the sigma shift re-applied (analytic.ts).
    ...(path.endsWith('mode fast') ? { reuse: 'approximate' as const, scaleBySigma: true } : {}),
  };
  const rng = new Random(seed);
  const r = await timed(net, () =>
    path.startsWith('fused')
      ? sampleAnalyticAbsorbingFused({
          ...common,
          uniform: () => rng.uniform(),
          draw: (tokens, sigma, batch, positions, uniforms) => net.maskedDraw(tokens, sigma, batch, positions, uniforms),
        })
      : sampleAnalyticAbsorbing({ ...common, exp: streamExpNoise(rng), score: (tokens, sigma, batch) => net.scoreBatch(tokens, sigma, batch) }),
  );
  return { ms: r.ms, runMs: r.runMs, calls: r.calls, tokens: r.result.tokens };
}

/** Reference: the general analytic step at every position, full vocabulary, every step. */
async function naiveFill(net: ScoreModel, m: BenchModel, template: Int32Array, steps: number, seed: number) {
  const V = m.V;
  const MASK = V - 1;
  const noise: Noise = noiseFromSpec(m.noise);
  const rng = new Random(seed);
  const L = template.length;
  const x = template.slice();
  const grid = linspace(1, SAMPLING_EPS, steps + 1);
  const dt = (1 - SAMPLING_EPS) / steps;
  const p = new Float64Array(V);
  const clamp = (): void => {
    for (let i = 0; i < L; i++) if (template[i] !== MASK) x[i] = template[i]!;
  };
  const update = (out: Float32Array, dsigma: number, dropMask: boolean): void => {
    const e = Math.exp(dsigma);
    const eNeg = Math.exp(-dsigma);
    for (let i = 0; i < L; i++) {
      const row = i * V;
      let sum = 0;
      for (let j = 0; j < V; j++) sum += p[j] = Math.exp(out[row + j]!); // scores s = exp(log score)
      for (let j = 0; j < V; j++) p[j]! *= e; // staggered: s·e^{dσ} …
      p[MASK]! += (1 - e) * sum; // … MASK += (1 − e^{dσ})·Σs
      const xi = x[i]!;
      for (let j = 0; j < V; j++) p[j]! *= (j === xi ? eNeg : 0) + (xi === MASK ? 1 - eNeg : 0); // ⊙ Pᵀ(x, dσ)
      const last = dropMask ? V - 1 : V;
      let best = 0;
      let bestKey = -Infinity;
      for (let j = 0; j < last; j++) {
        const key = p[j]! / rng.exponential();
        if (key > bestKey) {
          bestKey = key;
          best = j;
        }
      }
      x[i] = best;
    }
  };
  const r = await timed(net, async () => {
    for (let k = 0; k < steps; k++) {
      clamp();
      const tk = grid[k]!;
      const out = await net.score(x, noise.total(tk));
      update(out, noise.total(tk) - noise.total(tk - dt), false);
    }
    clamp();
    update(await net.score(x, noise.total(SAMPLING_EPS)), noise.total(SAMPLING_EPS), true);
    clamp();
  });
  return { ms: r.ms, runMs: r.runMs, calls: r.calls, tokens: x };
}

function manifestModel(name: string, dir: string, steps: number): BenchModel | undefined {
  const file = join(dir, 'manifest.json');
  if (!existsSync(file)) return undefined;
  const m = JSON.parse(readFileSync(file, 'utf8')) as { vocab_size: number; noise: NoiseSpec; network: { file: string } };
  return { name, path: join(dir, m.network.file), V: m.vocab_size, noise: m.noise, steps };
}

function ensureSmall(): boolean {
  if (existsSync(SMALL)) return true;
  mkdirSync(dirname(SMALL), { recursive: true });
  console.log(`writing ${SMALL} (random sedd-small, ≈680 MB; once) …`);
  const r = spawnSync('/usr/bin/python3', [join(ROOT, 'scripts', 'bench-make-small.py'), SMALL], {
    stdio: 'inherit',
    env: { ...process.env, OPENBLAS_NUM_THREADS: '1' },
  });
  if (r.status !== 0 || !existsSync(SMALL)) {
    console.log(`could not write ${SMALL} (python3 with torch and onnx needed); the sedd-small rows are left out`);
    return false;
  }
  return true;
}

const fmt = (n: number, d = 1): string => n.toFixed(d);

/** Whole engine fills at `temperature` (undefined: the model's recommended one, as the app does). */
async function engineFillTimes(modelDir: string, temperature?: number) {
  const { Engine } = await import('../src-main/engine/engine');
  const engine = new Engine({ device: DEVICE });
  try {
    const text = `${PASSAGE_BEFORE}{{16}}${PASSAGE_AFTER}`;
    const loaded = await engine.load(modelDir);
    const contextTokens = loaded.tokenizer.encode(PASSAGE_BEFORE).length + loaded.tokenizer.encode(PASSAGE_AFTER).length;
    const steps = 64;
    const t = temperature !== undefined ? { temperature } : {};
    await engine.fill({ requestId: 'warm', text, modelDir, steps, seed: 1, ...t });
    const runs = QUICK ? 3 : 7;
    const times: number[] = [];
    let networkCalls = 0;
    let device = '';
    let used = 1;
    for (let r = 0; r < runs; r++) {
      const out = await engine.fill({ requestId: `r${r}`, text, modelDir, steps, seed: 100 + r, ...t });
      times.push(out.durationMs);
      networkCalls = out.networkCalls;
      device = out.device;
      used = out.temperature;
    }
    times.sort((a, b) => a - b);
    return {
      blankTokens: 16,
      contextTokens,
      steps,
      temperature: used,
      runs,
      medianMs: times[Math.floor(runs / 2)]!,
      worstMs: times[runs - 1]!,
      networkCalls,
      device,
      times,
    };
  } finally {
    await engine.close();
  }
}
function table(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const w = header.map((_, c) => Math.max(...cells.map((r) => r[c]!.length)));
  const line = (r: string[]): string => `| ${r.map((s, c) => s.padEnd(w[c]!)).join(' | ')} |`;
  return [line(cells[0]!), `|${w.map((x) => '-'.repeat(x + 2)).join('|')}|`, ...cells.slice(1).map(line)].join('\n');
}

async function main(): Promise<void> {
  const models: BenchModel[] = [];
  const fixture = manifestModel('tiny-fixture', join(ROOT, 'models', 'fixtures', 'tiny-fixture'), 16);
  if (fixture) models.push(fixture);
  const def = manifestModel(`default (${DEFAULT_MODEL_ID})`, join(ROOT, 'models', DEFAULT_MODEL_ID), 16);
  if (def) models.push(def);
  if (!flag('--no-small') && ensureSmall())
    models.push({ name: 'sedd-small (random)', path: SMALL, V: 50258, noise: { type: 'loglinear', eps: 1e-3 }, steps: QUICK ? 2 : 4 });

  const lengths = QUICK ? [128, 256] : [128, 256, 1024];
  const perStep: Record<string, unknown>[] = [];
  const sideBySide: Record<string, unknown>[] = [];
  console.log(`device ${DEVICE}; ${cpus()[0]?.model ?? 'cpu'}; ${availableParallelism()} logical cores; intra-op threads ${cpuThreads()}`);

  const pathsRun: Path[] = ['fused', 'fused, mode fast', 'race'];
  for (const m of models) {
    const net = await ScoreModel.load(m.path, m.V, { device: DEVICE });
    for (const a of net.fallbacks) console.log(`  ${m.name}: ${a.reason}`);
    if (!net.fusedDraw) console.log(`  ${m.name}: the graph has no fused draw (network I/O 1); the fused rows are left out`);
    const paths = pathsRun.filter((p) => net.fusedDraw || !p.startsWith('fused'));
    const main: Path = net.fusedDraw ? 'fused' : 'race';
    await net.score(contextTokens(128, m.V, 1), 1); // warm-up: the session, and the sampler's JIT
    await engineFill(net, m, new Int32Array(64).fill(m.V - 1), 2, 0, main);
    for (const L of lengths) {
      const template = new Int32Array(L).fill(m.V - 1);
      const r = await engineFill(net, m, template, m.steps, 1, main);
      const stepMs = r.ms / r.calls;
      perStep.push({
        model: m.name,
        device: net.device,
        path: main,
        L,
        steps: m.steps,
        networkCalls: r.calls,
        stepMs,
        runMsPerStep: r.runMs / r.calls,
        jsOverheadPct: (100 * (r.ms - r.runMs)) / r.ms,
        tokensPerS: (L * 1000) / r.ms,
      });
      console.log(`  ${m.name} L=${L}: ${fmt(stepMs)} ms/step`);
    }
    if (m.name.startsWith('default') && fixture && m.path === fixture.path) {
      await net.release();
      continue; // same network as the fixture: the side-by-side would repeat it
    }
    const template = contextTokens(256, m.V, 2);
    template.fill(m.V - 1, 120, 136);
    const results: [string, { ms: number; runMs: number; calls: number }][] = [];
    for (const p of paths) results.push([p, await engineFill(net, m, template, SIDE_STEPS, 3, p)]);
    results.push(['naive', await naiveFill(net, m, template, SIDE_STEPS, 3)]);
    for (const [path, r] of results) {
      sideBySide.push({
        model: m.name,
        device: net.device,
        path,
        L: 256,
        blank: 16,
        steps: SIDE_STEPS,
        networkCalls: r.calls,
        totalMs: r.ms,
        runMs: r.runMs,
        jsOverheadPct: (100 * (r.ms - r.runMs)) / r.ms,
      });
    }
    console.log(`  ${m.name} side-by-side: ${results.map(([p, r]) => `${p} ${fmt(r.ms)} ms`).join(', ')}`);
    await net.release();
  }

  console.log('\nPer network step (every position masked; engine sampler)');
  console.log(
    table(
      ['model', 'device', 'path', 'L', 'steps', 'calls/fill', 'ms/step', 'onnxruntime ms/step', 'JS overhead %', 'tokens/s'],
      perStep.map((r) => [
        r.model as string,
        r.device as string,
        r.path as string,
        r.L as number,
        r.steps as number,
        r.networkCalls as number,
        fmt(r.stepMs as number),
        fmt(r.runMsPerStep as number),
        fmt(r.jsOverheadPct as number),
        fmt(r.tokensPerS as number),
      ]),
    ),
  );
  console.log(`\n16-token blank in 256 tokens, ${SIDE_STEPS} steps: the engine's paths vs naive (full-vocabulary analytic step at every position)`);
  console.log(
    table(
      ['model', 'path', 'network calls', 'total ms', 'onnxruntime ms', 'JS overhead %'],
      sideBySide.map((r) => [
        r.model as string,
        r.path as string,
        r.networkCalls as number,
        fmt(r.totalMs as number, 0),
        fmt(r.runMs as number, 0),
        fmt(r.jsOverheadPct as number),
      ]),
    ),
  );
  const speedups = models
    .map((m) => {
      const n = sideBySide.find((r) => r.model === m.name && r.path === 'naive');
      if (!n) return undefined;
      const parts = sideBySide
        .filter((r) => r.model === m.name && r.path !== 'naive')
        .map((r) => `${r.path as string} ${fmt((n.totalMs as number) / (r.totalMs as number), 2)}x`);
      return `${m.name}: ${parts.join(', ')}`;
    })
    .filter(Boolean);
  if (speedups.length) console.log(`speed-up over naive: ${speedups.join('; ')}`);

  // The writer's view: the whole engine (tokenise, plan the window, sample, decode) on the default model.
  // At the model's recommended temperature (what the app does) and, when that is not 1, at 1 (the
  // in-graph draw: two numbers per masked position into JS instead of whole rows).
  const appFill = def ? await engineFillTimes(join(ROOT, 'models', DEFAULT_MODEL_ID)) : undefined;
  const appFillT1 = appFill && appFill.temperature !== 1 ? await engineFillTimes(join(ROOT, 'models', DEFAULT_MODEL_ID), 1) : undefined;
  for (const f of [appFill, appFillT1]) {
    if (!f) continue;
    console.log(
      `\nEngine fill on the default model (${DEFAULT_MODEL_ID}, ${f.device}, temperature ${f.temperature}${f === appFill ? ', the model default' : ''}): ` +
        `a ${f.blankTokens}-token blank in ${f.contextTokens} tokens of context, ${f.steps} steps, ${f.runs} runs after a warm-up: ` +
        `median ${fmt(f.medianMs)} ms, worst ${fmt(f.worstMs)} ms, ${f.networkCalls} network calls`,
    );
  }

  mkdirSync(dirname(OUT), { recursive: true });
  const report = {
    date: new Date().toISOString(),
    device: DEVICE,
    threads: cpuThreads(),
    cpu: cpus()[0]?.model,
    logicalCores: availableParallelism(),
    perStep,
    sideBySide,
    appFill,
    appFillT1,
  };
  writeFileSync(OUT, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`\nwrote ${OUT}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
