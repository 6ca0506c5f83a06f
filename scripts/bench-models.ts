/**
 * `npm run bench:models`: what a writer waits for with each model and precision on this machine's
 * CPU, side by side in one run (the figures behind the catalogue's speed lines, the README's model
 * table and docs/cpu-speed.md).
 *
 *   npm run bench:models [-- --quick] [--medium] [--no-torch] [--runs N] [--precisions int8,fp32] [--models sedd-small,lacuna-mini]
 *       --quick: fp32 and int8 only, 3 runs; --medium: sedd-medium too (slow); --no-torch: without
 *       the PyTorch anchor; --precisions / --models: only these.
 *
 * Models: the official SEDD shapes cannot be downloaded here, so each is a random-weight checkpoint
 * in its exact official layout (src-main/engine/model/synthetic-checkpoint.ts), imported without
 * Python through the shipped graph template in each precision, as a download would be (fp32, fp16,
 * int8; written once to bench/cache/, ≈0.7 GB each for sedd-small). The network's cost does not
 * depend on its weights' values. And the bundled lacuna-mini, fp32 as shipped and its int8 copy
 * (quantize.ts quantizePackage, the same code an import runs).
 *
 * The sedd-small int8 package is also measured without its fused operators (quantize.ts options
 * fuse: false; per-step latency only): the fusion's before/after.
 *
 * Each model and precision runs in a child process of its own (its peak RSS is its own), on the
 * CPU with the engine's session settings (providers.ts sessionOptionsFor):
 *  - a 16-token blank in about 210 tokens of Moby-Dick, 64 steps, after one warm-up fill: at the
 *    model's default settings, `exact` (a network call every step for a σ-conditioned model) and
 *    `fast` (calls only on steps that unmask something); median of the runs and network calls;
 *  - peak RSS after those fills (the high-water mark of the process: weights, session, a fill);
 *  - ms per network step at L = 128, 256 and 1024 tokens (a 16-token blank in the middle, the fused
 *    masked draw the sampler calls; median of 5 after 2 warm-ups; lengths beyond the model's
 *    trained length are left out), then the peak RSS once L = 1024 ran.
 * The anchor: the paper's sampling loop in PyTorch (scripts/bench-torch-loop.py: the official
 * analytic predictor, full [L, V] output every step, 64 steps + the denoising step) on the same
 * checkpoint and the same tokens, with 1 and with cpuThreads() threads (the faster is reported).
 * Output: a markdown table on stdout and bench/models-results.json.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { formatBytes } from '../src-main/common/units';
import { packageIdFor, type PrecisionId } from '../src-main/common/precision';
import { importModel } from '../src-main/engine/model/import';
import { quantizePackage } from '../src-main/engine/model/quantize';
import { SEDD_MEDIUM_NETWORK, SEDD_SMALL_NETWORK, writeSyntheticCheckpoint } from '../src-main/engine/model/synthetic-checkpoint';
import { cpuThreads } from '../src-main/engine/runtime/providers';
import { appRoot } from '../src-main/platform/paths';
import { PASSAGE_AFTER, PASSAGE_BEFORE } from './bench-passage';

const ROOT = appRoot();
const CACHE = join(ROOT, 'bench', 'cache');
const OUT = process.env.LACUNA_BENCH_MODELS_OUT ?? join(ROOT, 'bench', 'models-results.json');
const args = process.argv.slice(2);
const QUICK = args.includes('--quick');
const LENGTHS = [128, 256, 1024] as const;
const BLANK = 16;
const STEPS = 64;

interface ModeTimes {
  medianMs: number;
  worstMs: number;
  networkCalls: number;
}

interface ChildResult {
  fills: { default: ModeTimes; exact: ModeTimes; fast: ModeTimes };
  defaultMode: string;
  stepMs: Record<string, number | null>;
  contextTokens: number;
  rssAfterFillsBytes: number;
  rssPeakBytes: number;
  weightsBytes: number;
  device: string;
  /** The fill's tokens and blank, for the PyTorch loop. */
  case: { indices: number[]; blank: [number, number] };
}

interface Row {
  model: string;
  precision: PrecisionId | 'int8, unfused';
  pkg: string;
  checkpoint?: string;
  /** Per-step latency only (the fusion's before/after). */
  stepsOnly?: boolean;
}

/** In the child: fills and steps on one package; prints one JSON line. */
async function child(modelDir: string, runs: number, stepsOnly: boolean): Promise<void> {
  const { Engine } = await import('../src-main/engine/engine');
  const { ScoreModel } = await import('../src-main/engine/runtime/score-model');
  const { planInfill } = await import('../src-main/engine/infill');
  const { readModelPackage } = await import('../src-main/engine/model/package');
  const engine = new Engine({ device: 'cpu' });
  const text = `${PASSAGE_BEFORE}{{${BLANK}}}${PASSAGE_AFTER}`;
  const loaded = await engine.load(modelDir);
  const m = loaded.pkg.manifest;
  const plan = planInfill(text, loaded.tokenizer, { maskId: m.mask_id ?? -1, maxLength: m.length });
  const out: Partial<ChildResult> = {
    contextTokens: plan.template.length - BLANK,
    case: { indices: Array.from(plan.template), blank: [plan.blanks[0]!.start, plan.blanks[0]!.length] },
    defaultMode: m.time_conditioned === false ? 'exact (= fast: σ-free)' : (m.sampling?.mode ?? 'exact'),
    weightsBytes: Object.entries(m.files)
      .filter(([f]) => f !== m.tokenizer.file)
      .reduce((a, [, e]) => a + e.bytes, 0),
  };
  const fills: Partial<ChildResult['fills']> = {};
  for (const mode of stepsOnly ? [] : (['default', 'exact', 'fast'] as const)) {
    const modeOption = mode === 'default' ? {} : { mode };
    await engine.fill({ requestId: `warm-${mode}`, text, modelDir, steps: STEPS, seed: 1, ...modeOption });
    const times: number[] = [];
    let calls = 0;
    for (let r = 0; r < runs; r++) {
      const f = await engine.fill({ requestId: `${mode}-${r}`, text, modelDir, steps: STEPS, seed: 10 + r, ...modeOption });
      times.push(f.durationMs);
      calls = f.networkCalls;
      out.device = f.device;
    }
    times.sort((a, b) => a - b);
    fills[mode] = { medianMs: times[Math.floor(times.length / 2)]!, worstMs: times.at(-1)!, networkCalls: calls };
  }
  const none = { medianMs: NaN, worstMs: NaN, networkCalls: 0 };
  out.fills = stepsOnly ? { default: none, exact: none, fast: none } : (fills as ChildResult['fills']);
  out.device ??= 'cpu';
  await engine.close();
  out.rssAfterFillsBytes = process.resourceUsage().maxRSS * 1024;

  const pkg = await readModelPackage(modelDir);
  const net = await ScoreModel.load(pkg.networkPath, m.vocab_size, { device: 'cpu' });
  out.stepMs = {};
  try {
    for (const L of LENGTHS) {
      if (L > m.length) {
        out.stepMs[L] = null;
        continue;
      }
      const tokens = new Int32Array(L);
      for (let i = 0; i < L; i++) tokens[i] = plan.template[i % plan.template.length]! === m.mask_id ? 11 : plan.template[i % plan.template.length]!;
      const start = Math.floor((L - BLANK) / 2);
      const positions = Int32Array.from({ length: BLANK }, (_, i) => start + i);
      for (const p of positions) tokens[p] = m.mask_id!;
      const uniforms = new Float32Array(BLANK).fill(0.5);
      const times: number[] = [];
      for (let r = 0; r < 7; r++) {
        const t0 = performance.now();
        await net.maskedDraw(tokens, 1.0, 1, positions, uniforms);
        if (r >= 2) times.push(performance.now() - t0);
      }
      times.sort((a, b) => a - b);
      out.stepMs[L] = times[Math.floor(times.length / 2)]!;
    }
  } finally {
    await net.release();
  }
  out.rssPeakBytes = process.resourceUsage().maxRSS * 1024;
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

async function ensureCheckpoint(id: string, network: typeof SEDD_SMALL_NETWORK): Promise<string> {
  const ck = join(CACHE, `${id}-checkpoint`);
  if (!existsSync(join(ck, 'model.safetensors'))) {
    console.log(`writing a random ${id}-shaped checkpoint in the official layout to ${ck} (once) …`);
    await writeSyntheticCheckpoint(ck, { network, name: id.replace(/^sedd-/, '') });
  }
  return ck;
}

async function ensureImport(id: string, ck: string, precision: PrecisionId): Promise<string> {
  const pkgId = packageIdFor(id, precision);
  const pkg = join(CACHE, 'models', pkgId);
  if (existsSync(join(pkg, 'manifest.json'))) return pkg;
  console.log(`importing it in ${precision} through models/templates (once) …`);
  mkdirSync(join(CACHE, 'models'), { recursive: true });
  const t0 = performance.now();
  await importModel(ck, {
    templateDirs: [join(ROOT, 'models', 'templates')],
    gpt2Tokenizer: join(ROOT, 'models', 'gpt2', 'tokenizer.json'),
    modelsDir: join(CACHE, 'models'),
    id: pkgId,
    precision,
  });
  console.log(`  ${pkgId}: imported in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return pkg;
}

async function ensureMiniInt8(): Promise<string> {
  const pkg = join(CACHE, 'models', 'lacuna-mini-int8');
  if (existsSync(join(pkg, 'manifest.json'))) return pkg;
  mkdirSync(pkg, { recursive: true });
  await quantizePackage(join(ROOT, 'models', 'lacuna-mini'), pkg, { id: 'lacuna-mini-int8' });
  return pkg;
}

/** The paper's loop in PyTorch on a checkpoint and the engine's tokens: the faster of 1 and cpuThreads() threads. */
function torchLoop(checkpoint: string, c: ChildResult['case']): { fill_s: number; step_ms: number; calls: number; threads: number } | undefined {
  const casePath = join(CACHE, 'torch-case.json');
  writeFileSync(casePath, JSON.stringify(c));
  let best: { fill_s: number; step_ms: number; calls: number; threads: number } | undefined;
  for (const threads of [...new Set([1, cpuThreads()])]) {
    const out = join(CACHE, `torch-${threads}.json`);
    const r = spawnSync(
      '/usr/bin/python3',
      [join(ROOT, 'scripts', 'bench-torch-loop.py'), checkpoint, casePath, out, '--threads', String(threads), '--steps', String(STEPS)],
      {
        encoding: 'utf8',
        env: { ...process.env, OPENBLAS_NUM_THREADS: String(threads), OMP_NUM_THREADS: String(threads) },
      },
    );
    if (r.status !== 0) {
      console.log(`  PyTorch loop (${threads} threads) failed: ${(r.stderr || r.error?.message || '').trim().split('\n').at(-1)}`);
      continue;
    }
    const res = JSON.parse(readFileSync(out, 'utf8')) as { fill_s: number; step_ms: number; calls: number; threads: number };
    console.log(`  PyTorch loop, ${threads} thread(s): ${res.fill_s.toFixed(1)} s (${res.calls} calls, ${res.step_ms.toFixed(0)} ms each)`);
    if (!best || res.fill_s < best.fill_s) best = res;
  }
  return best;
}

const s = (ms: number | null): string => (ms === null || Number.isNaN(ms) ? '—' : `${(ms / 1000).toFixed(2)} s`);
const ratio = (seconds: number, ms: number): string => `${((seconds * 1000) / ms).toFixed(1)}×`;

async function main(): Promise<void> {
  if (args[0] === '--child') return child(args[1]!, Number(args[2]), args[3] === 'steps');
  const runsArg = args.indexOf('--runs');
  const runs = runsArg >= 0 ? Number(args[runsArg + 1]) : QUICK ? 3 : 5;
  const all: [string, typeof SEDD_SMALL_NETWORK][] = [['sedd-small', SEDD_SMALL_NETWORK]];
  if (args.includes('--medium')) all.push(['sedd-medium', SEDD_MEDIUM_NETWORK]);
  const listed = args.indexOf('--precisions');
  const precisions = (listed >= 0 ? args[listed + 1]!.split(',') : QUICK ? ['fp32', 'int8'] : ['fp32', 'fp16', 'int8']) as PrecisionId[];
  const only = args.indexOf('--models');
  const models = only >= 0 ? args[only + 1]!.split(',') : undefined;
  console.log(
    `${cpus()[0]?.model ?? 'cpu'}; ${availableParallelism()} logical cores, ${cpuThreads()} threads; ` +
      `${BLANK}-token blank, ${STEPS} steps, ${runs} runs after a warm-up`,
  );
  const shapes = all.filter(([id]) => !models || models.includes(id));
  const rows: Row[] = [];
  for (const [id, network] of shapes) {
    const ck = await ensureCheckpoint(id, network);
    for (const p of precisions) rows.push({ model: id, precision: p, pkg: await ensureImport(id, ck, p), checkpoint: ck });
    // The same int8 package without the fused GELU and bias adds: the fusion's before/after.
    if (precisions.includes('int8') && precisions.includes('fp32')) {
      const unfused = join(CACHE, 'models', `${id}-int8-unfused`);
      if (!existsSync(join(unfused, 'manifest.json'))) {
        mkdirSync(unfused, { recursive: true });
        await quantizePackage(await ensureImport(id, ck, 'fp32'), unfused, { id: `${id}-int8-unfused`, options: { fuse: false } });
      }
      rows.push({ model: id, precision: 'int8, unfused', pkg: unfused, stepsOnly: true });
    }
  }
  if (!models || models.includes('lacuna-mini')) {
    rows.push({ model: 'lacuna-mini', precision: 'fp32', pkg: join(ROOT, 'models', 'lacuna-mini') });
    rows.push({ model: 'lacuna-mini', precision: 'int8', pkg: await ensureMiniInt8() });
  }

  const self = fileURLToPath(import.meta.url);
  const results: (Row & ChildResult)[] = [];
  for (const row of rows) {
    const r = spawnSync(process.execPath, [self, '--child', row.pkg, String(runs), row.stepsOnly ? 'steps' : 'fills'], {
      encoding: 'utf8',
      env: { ...process.env, LACUNA_DEVICE: 'cpu' },
      maxBuffer: 1 << 26,
    });
    if (r.status !== 0) throw new Error(`${row.model} ${row.precision}: the measuring process failed: ${r.stderr}`);
    const res = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as ChildResult;
    results.push({ ...row, ...res });
    console.log(
      `  ${`${row.model} ${row.precision}`.padEnd(18)} default ${s(res.fills.default.medianMs)} (${res.defaultMode}), exact ${s(res.fills.exact.medianMs)} ` +
        `(${res.fills.exact.networkCalls} calls), fast ${s(res.fills.fast.medianMs)} (${res.fills.fast.networkCalls} calls); ` +
        `step ${LENGTHS.map((L) => (res.stepMs[L] == null ? '—' : `${res.stepMs[L]!.toFixed(0)}`)).join(' / ')} ms; ` +
        `RSS ${formatBytes(res.rssAfterFillsBytes)} (peak ${formatBytes(res.rssPeakBytes)})`,
    );
  }

  const anchors: Record<string, ReturnType<typeof torchLoop>> = {};
  if (!args.includes('--no-torch')) {
    for (const [id] of shapes) {
      const first = results.find((r) => r.model === id)!;
      console.log(`${id}: the paper's sampling loop in PyTorch on the same weights and tokens …`);
      anchors[id] = torchLoop(first.checkpoint!, first.case);
    }
  }

  const lines = [
    '| model | precision | weights | default fill | exact 64 steps | fast | step L=128 | L=256 | L=1024 | ' +
      'RSS after fills | peak RSS (L=1024) | vs PyTorch loop |',
    `|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|`,
  ];
  for (const r of results) {
    const anchor = r.stepsOnly ? undefined : anchors[r.model];
    const step = (L: number): string => (r.stepMs[L] == null ? '—' : `${r.stepMs[L]!.toFixed(0)} ms`);
    lines.push(
      `| ${r.model} | ${r.precision} | ${formatBytes(r.weightsBytes)} | ${s(r.fills.default.medianMs)} (${r.fills.default.networkCalls} calls) | ` +
        `${s(r.fills.exact.medianMs)} (${r.fills.exact.networkCalls}) | ${s(r.fills.fast.medianMs)} (${r.fills.fast.networkCalls}) | ` +
        `${step(128)} | ${step(256)} | ${step(1024)} | ${formatBytes(r.rssAfterFillsBytes)} | ${formatBytes(r.rssPeakBytes)} | ` +
        `${anchor ? `${ratio(anchor.fill_s, r.fills.exact.medianMs)} (exact), ${ratio(anchor.fill_s, r.fills.default.medianMs)} (default)` : '—'} |`,
    );
  }
  for (const [id, a] of Object.entries(anchors)) {
    if (a)
      lines.push('', `PyTorch anchor, ${id}: ${a.fill_s.toFixed(1)} s for ${a.calls} network calls (${a.step_ms.toFixed(0)} ms each), ${a.threads} thread(s).`);
  }
  console.log(`\n${lines.join('\n')}\n`);
  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, `${JSON.stringify({ date: new Date().toISOString(), cpu: cpus()[0]?.model, threads: cpuThreads(), runs, results, anchors }, null, 2)}\n`);
  console.log(`wrote ${OUT}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
