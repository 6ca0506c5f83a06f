/**
 * `npm run bench:precision`: what int8 costs in quality, on a model with real weights (issue 18):
 * lacuna-mini as shipped (fp32) against its int8 copies (quantize.ts quantizePackage, |q| ≤ 127 and
 * the reduced range |q| ≤ 63 used on x86 CPUs without VNNI).
 *
 *   npm run bench:precision [-- --blocks N] [--draws N] [--model DIR]
 *
 * Text: N (default 64) evenly spaced blocks of 256 tokens of the held-out split,
 * models/data/build/test.txt (written by models/data/build_corpus.py; not in the repository). Per
 * precision, on the same blocks with the same seeds (common random numbers, so the differences are
 * paired):
 *  - the held-out bound (likelihood.ts elboBound, estimator k, `--draws` per block, default 8):
 *    nats/token, its standard error, and the paired difference to fp32 with its standard error;
 *  - the network's log scores against fp32's at the masked positions of one draw per block (t and
 *    the masked set from the same estimator): max |Δ log score| over every entry, mean KL(fp32 ‖
 *    int8) of the token distributions (softmax over j ≠ MASK) and how often the likeliest token is
 *    the same.
 * Output: a markdown table on stdout and bench/precision-results.json.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AbsorbingGraph } from '../src-main/engine/sampling/graph';
import { LogLinearNoise } from '../src-main/engine/sampling/noise';
import { Random } from '../src-main/engine/random';
import { binomTail, boundDraw, elboBound } from '../src-main/engine/likelihood';
import { loadModelPackage } from '../src-main/engine/model/package';
import { quantizePackage } from '../src-main/engine/model/quantize';
import { Tokenizer } from '../src-main/engine/model/tokenizer';
import { ScoreModel } from '../src-main/engine/runtime/score-model';
import { appRoot } from '../src-main/platform/paths';

const ROOT = appRoot();
const args = process.argv.slice(2);
const value = (name: string, d: string): string => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1]! : d;
};
const BLOCKS = Number(value('--blocks', '64'));
const DRAWS = Number(value('--draws', '8'));
const MODEL = value('--model', join(ROOT, 'models', 'lacuna-mini'));
const TEST = join(ROOT, 'models', 'data', 'build', 'test.txt');
const CACHE = join(ROOT, 'bench', 'cache', 'precision');
const OUT = join(ROOT, 'bench', 'precision-results.json');

interface Variant {
  name: string;
  dir: string;
}

async function main(): Promise<void> {
  if (!existsSync(TEST)) throw new Error(`${TEST} is missing: build the corpus first (models/data/README.md)`);
  const base = await loadModelPackage(MODEL);
  const m = base.manifest;
  const variants: Variant[] = [{ name: 'fp32', dir: MODEL }];
  for (const qmax of [127, 63] as const) {
    const dir = join(CACHE, `${m.id}-int8-q${qmax}`);
    if (!existsSync(join(dir, 'manifest.json'))) {
      mkdirSync(dir, { recursive: true });
      await quantizePackage(MODEL, dir, { id: `${m.id}-int8`, options: { qmax } });
    }
    variants.push({ name: `int8 (|q| ≤ ${qmax})`, dir });
  }

  const tokenizer = await Tokenizer.fromFile(base.tokenizerPath);
  const ids = tokenizer.encode(readFileSync(TEST, 'utf8'));
  const L = m.length;
  const blocks: Int32Array[] = [];
  const stride = Math.floor((ids.length - L) / BLOCKS);
  for (let b = 0; b < BLOCKS; b++) blocks.push(Int32Array.from(ids.slice(b * stride, b * stride + L)));
  console.log(`${m.id}: ${BLOCKS} blocks of ${L} tokens of the held-out split (${ids.length.toLocaleString('en')} tokens), ${DRAWS} draws each`);

  const graph = new AbsorbingGraph(m.vocab_size);
  const noise = new LogLinearNoise(m.noise.type === 'loglinear' ? m.noise.eps : 1e-3);
  const V = m.vocab_size;
  const mask = V - 1;
  // One draw per block for the score comparison: the estimator's t and masked set.
  const tail = binomTail(L, noise.eps);
  const probes = blocks.map((x0, b) => {
    const d = boundDraw(L, new Random(1000 + b), 'k', noise.eps, tail);
    const x = x0.slice();
    for (let i = 0; i < L; i++) if (d.masked[i]) x[i] = mask;
    return { x, sigma: noise.total(d.t), masked: d.masked };
  });

  const perBlock: Record<string, number[]> = {};
  const scores: Record<string, Float32Array[]> = {};
  for (const v of variants) {
    const pkg = await loadModelPackage(v.dir);
    const net = await ScoreModel.load(pkg.networkPath, V, { device: 'cpu' });
    try {
      const t0 = Date.now();
      perBlock[v.name] = [];
      for (const [b, x0] of blocks.entries()) {
        const r = await elboBound({ tokens: Array.from(x0), graph, noise, length: L, draws: DRAWS, seed: b, score: (t, s) => net.score(t, s) });
        perBlock[v.name]!.push(r.nll / x0.length);
      }
      scores[v.name] = [];
      for (const p of probes) scores[v.name]!.push(await net.score(p.x, p.sigma));
      console.log(`  ${v.name}: ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    } finally {
      await net.release();
    }
  }

  const mean = (a: number[]): number => a.reduce((s, x) => s + x, 0) / a.length;
  const se = (a: number[]): number => {
    const mu = mean(a);
    return Math.sqrt(a.reduce((s, x) => s + (x - mu) ** 2, 0) / (a.length - 1) / a.length);
  };
  const ref = perBlock['fp32']!;
  const rows = variants.map((v) => {
    const a = perBlock[v.name]!;
    const diff = a.map((x, i) => x - ref[i]!);
    let maxAbs = 0;
    let kl = 0;
    let same = 0;
    let n = 0;
    probes.forEach((p, b) => {
      const x = scores['fp32']![b]!;
      const y = scores[v.name]![b]!;
      for (let i = 0; i < L; i++) {
        if (!p.masked[i]) continue;
        const row = i * V;
        let mx = -Infinity;
        let my = -Infinity;
        let ax = 0;
        let ay = 0;
        for (let j = 0; j < mask; j++) {
          maxAbs = Math.max(maxAbs, Math.abs(x[row + j]! - y[row + j]!));
          if (x[row + j]! > mx) [mx, ax] = [x[row + j]!, j];
          if (y[row + j]! > my) [my, ay] = [y[row + j]!, j];
        }
        let zx = 0;
        let zy = 0;
        for (let j = 0; j < mask; j++) {
          zx += Math.exp(x[row + j]! - mx);
          zy += Math.exp(y[row + j]! - my);
        }
        const lzx = mx + Math.log(zx);
        const lzy = my + Math.log(zy);
        let k = 0;
        for (let j = 0; j < mask; j++) {
          const lp = x[row + j]! - lzx;
          k += Math.exp(lp) * (lp - (y[row + j]! - lzy));
        }
        kl += k;
        if (ax === ay) same++;
        n++;
      }
    });
    return {
      precision: v.name,
      nats: mean(a),
      natsSe: se(a),
      diff: mean(diff),
      diffSe: se(diff),
      maxAbsLogScore: maxAbs,
      meanKl: kl / n,
      sameTop: same / n,
      positions: n,
      bytes: Object.values((JSON.parse(readFileSync(join(v.dir, 'manifest.json'), 'utf8')) as { files: Record<string, { bytes: number }> }).files).reduce(
        (s, f) => s + f.bytes,
        0,
      ),
    };
  });
  const lines = [
    '| precision | package | held-out bound (nats/token) | Δ vs fp32 (paired) | max abs Δ log score | mean KL(fp32 ‖ ·) | same likeliest token |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.precision} | ${(r.bytes / 1e6).toFixed(1)} MB | ${r.nats.toFixed(4)} ± ${r.natsSe.toFixed(4)} | ` +
        `${r.precision === 'fp32' ? '—' : `${r.diff >= 0 ? '+' : ''}${r.diff.toFixed(4)} ± ${r.diffSe.toFixed(4)}`} | ${r.maxAbsLogScore.toFixed(3)} | ` +
        `${r.meanKl.toExponential(2)} | ${(100 * r.sameTop).toFixed(1)} % |`,
    ),
  ];
  console.log(`\n${lines.join('\n')}\n\n(${rows[0]!.positions} masked positions compared)`);
  mkdirSync(join(ROOT, 'bench'), { recursive: true });
  writeFileSync(OUT, `${JSON.stringify({ date: new Date().toISOString(), model: m.id, blocks: BLOCKS, draws: DRAWS, rows }, null, 2)}\n`);
  console.log(`wrote ${OUT}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
