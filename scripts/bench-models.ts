/**
 * `npm run bench:models`: what a writer waits for with each downloadable model on this machine's
 * CPU (the figures behind the catalogue's speed and memory lines and the README's model table).
 *
 *   npm run bench:models [-- --quick]     (--quick: sedd-small only, 3 runs)
 *
 * The real weights cannot be downloaded here, so each model is a random-weight checkpoint in its
 * exact official layout (src-main/engine/model/synthetic-checkpoint.ts), imported without Python
 * through the shipped graph template like a download would be (written once to bench/cache/,
 * ≈0.7 GB for sedd-small and ≈1.7 GB for sedd-medium, and as much again for the packages). The
 * network's cost does not depend on its weights' values.
 *
 * Each model runs in a child process of its own (so its peak RSS is its own): a 16-token blank in
 * about 256 tokens of Moby-Dick, 64 steps, as the app's Balanced preset: `exact` (a network call
 * every step: a σ-conditioned model such as SEDD) and `fast` (calls only on steps that unmask
 * something: what a time-independent model such as MDLM does exactly, with the same trunk), after
 * one warm-up fill; median and worst of the runs; peak RSS of the process.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatBytes } from '../src-main/common/units';
import { importModel } from '../src-main/engine/model/import';
import { SEDD_MEDIUM_NETWORK, SEDD_SMALL_NETWORK, writeSyntheticCheckpoint } from '../src-main/engine/model/synthetic-checkpoint';
import { appRoot } from '../src-main/platform/paths';
import { PASSAGE_AFTER, PASSAGE_BEFORE } from './bench-passage';

const ROOT = appRoot();
const CACHE = join(ROOT, 'bench', 'cache');
const OUT = process.env.LACUNA_BENCH_MODELS_OUT ?? join(ROOT, 'bench', 'models-results.json');
const args = process.argv.slice(2);
const QUICK = args.includes('--quick');

interface ModeTimes {
  medianMs: number;
  worstMs: number;
  networkCalls: number;
}

interface ChildResult {
  exact: ModeTimes;
  fast: ModeTimes;
  contextTokens: number;
  maxRssBytes: number;
  device: string;
}

/** In the child: fills on one package, both modes; prints one JSON line. */
async function child(modelDir: string, runs: number): Promise<void> {
  const { Engine } = await import('../src-main/engine/engine');
  const engine = new Engine({ device: 'cpu' });
  const text = `${PASSAGE_BEFORE}{{16}}${PASSAGE_AFTER}`;
  const loaded = await engine.load(modelDir);
  const contextTokens = loaded.tokenizer.encode(PASSAGE_BEFORE).length + loaded.tokenizer.encode(PASSAGE_AFTER).length;
  const out: Partial<ChildResult> = { contextTokens };
  for (const mode of ['exact', 'fast'] as const) {
    await engine.fill({ requestId: `warm-${mode}`, text, modelDir, steps: 64, seed: 1, mode });
    const times: number[] = [];
    let calls = 0;
    for (let r = 0; r < runs; r++) {
      const f = await engine.fill({ requestId: `${mode}-${r}`, text, modelDir, steps: 64, seed: 10 + r, mode });
      times.push(f.durationMs);
      calls = f.networkCalls;
      out.device = f.device;
    }
    times.sort((a, b) => a - b);
    out[mode] = { medianMs: times[Math.floor(times.length / 2)]!, worstMs: times.at(-1)!, networkCalls: calls };
  }
  await engine.close();
  out.maxRssBytes = process.resourceUsage().maxRSS * 1024;
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

async function ensurePackage(id: string, network: typeof SEDD_SMALL_NETWORK): Promise<string> {
  const pkg = join(CACHE, 'models', id);
  if (existsSync(join(pkg, 'manifest.json'))) return pkg;
  const ck = join(CACHE, `${id}-checkpoint`);
  if (!existsSync(join(ck, 'model.safetensors'))) {
    console.log(`writing a random ${id}-shaped checkpoint in the official layout to ${ck} (once) …`);
    await writeSyntheticCheckpoint(ck, { network, name: id.replace(/^sedd-/, '') });
  }
  console.log(`importing it through models/templates/${id} (once) …`);
  mkdirSync(join(CACHE, 'models'), { recursive: true });
  await importModel(ck, {
    templateDirs: [join(ROOT, 'models', 'templates')],
    gpt2Tokenizer: join(ROOT, 'models', 'gpt2', 'tokenizer.json'),
    modelsDir: join(CACHE, 'models'),
    id,
  });
  return pkg;
}

async function main(): Promise<void> {
  if (args[0] === '--child') return child(args[1]!, Number(args[2]));
  const runs = QUICK ? 3 : 5;
  const shapes = QUICK
    ? [['sedd-small', SEDD_SMALL_NETWORK] as const]
    : ([
        ['sedd-small', SEDD_SMALL_NETWORK],
        ['sedd-medium', SEDD_MEDIUM_NETWORK],
      ] as const);
  console.log(`${cpus()[0]?.model ?? 'cpu'}; ${availableParallelism()} logical cores; 16-token blank, 64 steps, ${runs} runs after a warm-up`);
  const results: Record<string, ChildResult> = {};
  const self = fileURLToPath(import.meta.url);
  for (const [id, network] of shapes) {
    const pkg = await ensurePackage(id, network);
    const r = spawnSync(process.execPath, [self, '--child', pkg, String(runs)], {
      encoding: 'utf8',
      env: { ...process.env, LACUNA_DEVICE: 'cpu' },
      maxBuffer: 1 << 24,
    });
    if (r.status !== 0) throw new Error(`${id}: the measuring process failed: ${r.stderr}`);
    const res = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as ChildResult;
    results[id] = res;
    console.log(
      `  ${id.padEnd(12)} exact ${(res.exact.medianMs / 1000).toFixed(2)} s (worst ${(res.exact.worstMs / 1000).toFixed(2)}, ${res.exact.networkCalls} calls)` +
        `  fast ${(res.fast.medianMs / 1000).toFixed(2)} s (worst ${(res.fast.worstMs / 1000).toFixed(2)}, ${res.fast.networkCalls} calls)` +
        `  peak RSS ${formatBytes(res.maxRssBytes)}  (${res.contextTokens} context tokens, ${res.device})`,
    );
  }
  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, `${JSON.stringify({ date: new Date().toISOString(), cpu: cpus()[0]?.model, runs, results }, null, 2)}\n`);
  console.log(`wrote ${OUT}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
