/**
 * `npm run bench:session`: the CPU session settings of providers.ts sessionOptionsFor, measured
 * (issue 18): onnxruntime's intra-op threads spinning while they wait for work, or not, and its
 * CPU memory arena, on or off.
 *
 *   npm run bench:session [-- PACKAGE_DIR]     (default: bench/cache/models/sedd-small-int8,
 *                                               written by npm run bench:models)
 *
 * Each setting in a child process of its own, five rounds in turn (medians over the rounds): the fused masked draw of a 16-token blank at
 * L = 256, 2 warm-ups then 15 calls with 20 ms of JavaScript-side pause between them (a sampler
 * step's own work); the median latency, the process CPU time per call (user + system: what
 * spinning threads burn), the CPU time the process burns over 2 s of idling after the last call
 * (a writer who stopped filling), and the peak RSS.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { formatBytes } from '../src-main/common/units';
import { appRoot } from '../src-main/platform/paths';

const ROOT = appRoot();
const args = process.argv.slice(2);
const ROUNDS = 5;
const SETTINGS = {
  'as shipped': {},
  'spinning on': { extra: { session: { intra_op: { allow_spinning: '1' } } } },
  'spinning off': { extra: { session: { intra_op: { allow_spinning: '0' } } } },
  'arena on': { enableCpuMemArena: true },
  'arena off': { enableCpuMemArena: false },
} as const;

async function child(pkgDir: string, setting: keyof typeof SETTINGS): Promise<void> {
  const ort = await import('onnxruntime-node');
  const { sessionOptionsFor } = await import('../src-main/engine/runtime/providers');
  const { readModelPackage } = await import('../src-main/engine/model/package');
  const pkg = await readModelPackage(pkgDir);
  const m = pkg.manifest;
  const session = await ort.InferenceSession.create(pkg.networkPath, { ...sessionOptionsFor('cpu'), ...SETTINGS[setting] });
  const L = 256;
  const K = 16;
  const indices = new BigInt64Array(L).fill(11n);
  const start = (L - K) / 2;
  for (let i = 0; i < K; i++) indices[start + i] = BigInt(m.mask_id!);
  const feeds = {
    indices: new ort.Tensor('int64', indices, [1, L]),
    sigma: new ort.Tensor('float32', Float32Array.from([1]), [1]),
    positions: new ort.Tensor(
      'int64',
      BigInt64Array.from({ length: K }, (_, i) => BigInt(start + i)),
      [K],
    ),
    uniforms: new ort.Tensor('float32', new Float32Array(K).fill(0.5), [K]),
  };
  const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
  for (let i = 0; i < 2; i++) await session.run(feeds, ['token', 'log_norm']);
  const times: number[] = [];
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < 15; i++) {
    const t0 = performance.now();
    await session.run(feeds, ['token', 'log_norm']);
    times.push(performance.now() - t0);
    await pause(20);
  }
  const cpu1 = process.cpuUsage(cpu0);
  const idle0 = process.cpuUsage();
  await pause(2000);
  const idle = process.cpuUsage(idle0);
  times.sort((a, b) => a - b);
  await session.release();
  process.stdout.write(
    `${JSON.stringify({
      medianMs: times[7],
      cpuMsPerCall: (cpu1.user + cpu1.system) / 1000 / 15,
      idleCpuMs: (idle.user + idle.system) / 1000,
      rss: process.resourceUsage().maxRSS * 1024,
    })}\n`,
  );
}

async function main(): Promise<void> {
  if (args[0] === '--child') return child(args[1]!, args[2] as keyof typeof SETTINGS);
  const pkg = args[0] ?? join(ROOT, 'bench', 'cache', 'models', 'sedd-small-int8');
  if (!existsSync(join(pkg, 'manifest.json'))) throw new Error(`${pkg} is not a model package (npm run bench:models writes the default one)`);
  const self = fileURLToPath(import.meta.url);
  console.log(`${pkg}: the fused draw of a 16-token blank at L = 256, 15 calls 20 ms apart; median of ${ROUNDS} rounds`);
  console.log('| setting | median ms per call | CPU ms per call | CPU ms while idle 2 s | peak RSS |\n|---|---:|---:|---:|---:|');
  // Rounds in turn (a shared machine's speed drifts): each figure is the median over the rounds.
  type Run = { medianMs: number; cpuMsPerCall: number; idleCpuMs: number; rss: number };
  const runs = new Map<string, Run[]>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of Object.keys(SETTINGS) as (keyof typeof SETTINGS)[]) {
      const r = spawnSync(process.execPath, [self, '--child', pkg, name], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`${name}: ${r.stderr}`);
      runs.set(name, [...(runs.get(name) ?? []), JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Run]);
    }
  }
  const mid = (xs: number[]): number => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  for (const [name, rs] of runs) {
    const f = (k: keyof Run): number => mid(rs.map((r) => r[k]));
    console.log(`| ${name} | ${f('medianMs').toFixed(0)} | ${f('cpuMsPerCall').toFixed(0)} | ${f('idleCpuMs').toFixed(0)} | ${formatBytes(f('rss'))} |`);
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
