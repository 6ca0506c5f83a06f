/**
 * `npm run bench:fills`: how fills join their text and how good they read (issue 14).
 *
 *   npm run bench:fills [-- --model DIR] [--variant NAME='{"temperature":0.7}' ...] [--limit N] [--every N]
 *                       [--kinds mid-sentence,continuation] [--blanks FILE] [--auto] [--steps N]
 *
 * Blanks: models/data/fill-blanks.jsonl (models/data/make_fill_blanks.py: 240 blanks cut at word
 * boundaries from the held-out split, 60 each mid-sentence, sentence-end, paragraph-end,
 * continuation; about a quarter glued to the word before or after, as a cursor lands). Each is filled
 * in one job, text = left + "{{N}}" + right with N the replaced words' length in the model's
 * tokens (--auto: "____", the model chooses the length), 4 alternatives, a fixed seed per blank,
 * by the Engine in this process (one onnxruntime thread) with the model (default models/lacuna-mini).
 *
 * Per variant (the JSON of --variant is spread into the FillJob, unknown fields passed through,
 * `modelDir` included: '{"modelDir":"bench/cache/models/lacuna-mini-int8"}' fills with another
 * package; default variants: `default` = {} and `t1` = {"temperature": 1}):
 *  - join counters (scripts/fill-joins.ts) on the first alternative, % of blanks: glued word,
 *    doubled edge word, space before punctuation, line break in a sentence blank (continuation:
 *    starting with an empty line), double space, and "bad join" = any; also bad joins over all
 *    alternatives, and bad joins per kind of blank;
 *  - the judge (scripts/fill-judge.ts, models/judge/ar-twin.onnx, the AR twin — a model that did
 *    not write the fill): mean NLL per token of the fill + 8 right tokens, over the first
 *    alternatives and over all; how often the first (top-ranked) alternative is also the judge's
 *    best of the four;
 *  - distinct-1/-2 across a blank's 4 alternatives (pooled unique n-grams / n-grams), mean over blanks;
 *  - wall time per fill job (4 alternatives), median and mean, and the CPU time of this process
 *    during the fill (median; steadier than wall time when the machine is shared).
 * Every variant after the first is also compared with the first blank by blank (same blanks, same
 * seeds): the mean paired difference of the judge's NLL over all alternatives and of distinct-2,
 * with its standard error; "within noise" when it is under two standard errors.
 * The original words get the same counters and judge score (the "original" row): the counters'
 * false-alarm rate and the judge's reference. A fill that fails is counted and reported with the
 * engine's message; it is never skipped silently. Output: a markdown table on stdout and
 * bench/fills-<variant>.json per variant (every blank, its alternatives and their checks).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { Engine } from '../src-main/engine/engine';
import type { FillJob } from '../src-main/engine/types';
import { appRoot } from '../src-main/platform/paths';
import { BLANK_KINDS, JOIN_COUNTERS, checkJoins, distinctN, parseVocabulary, splitFinal, type BlankKind, type JoinCheck, type JoinCounter } from './fill-joins';
import { Judge, type JudgeScore } from './fill-judge';

const ROOT = appRoot();
const ALTERNATIVES = 4;

interface FillBlank {
  id: string;
  kind: BlankKind;
  doc: string;
  glue: 'none' | 'prev' | 'next';
  left: string;
  blank: string;
  words: string;
  right: string;
  tokens: number;
}

interface Options {
  model: string;
  blanks: string;
  variants: [string, Record<string, unknown>][];
  limit: number;
  /** Every n-th blank of each kind (1: all). */
  every: number;
  kinds: BlankKind[];
  auto: boolean;
  steps: number | undefined;
  out: string;
}

function usage(message: string): never {
  console.error(
    `bench:fills: ${message}\nusage: npm run bench:fills -- [--model DIR] [--variant NAME='{"temperature":0.7}' ...] [--limit N] [--every N] ` +
      `[--kinds ${BLANK_KINDS.join(',')}] [--blanks FILE] [--auto] [--steps N]`,
  );
  process.exit(2);
}

function parseArgs(argv: string[]): Options {
  const o: Options = {
    model: join(ROOT, 'models', 'lacuna-mini'),
    blanks: join(ROOT, 'models', 'data', 'fill-blanks.jsonl'),
    variants: [],
    limit: Infinity,
    every: 1,
    kinds: [...BLANK_KINDS],
    auto: false,
    steps: undefined,
    out: join(ROOT, 'bench'),
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) usage(`${a} needs a value`);
      return v;
    };
    if (a === '--model') o.model = resolve(value());
    else if (a === '--blanks') o.blanks = resolve(value());
    else if (a === '--out') o.out = resolve(value());
    else if (a === '--auto') o.auto = true;
    else if (a === '--steps') o.steps = Number(value());
    else if (a === '--limit') {
      o.limit = Number(value());
      if (!Number.isInteger(o.limit) || o.limit < 1) usage(`--limit takes a whole number of blanks, got ${argv[i]}`);
    } else if (a === '--every') {
      o.every = Number(value());
      if (!Number.isInteger(o.every) || o.every < 1) usage(`--every takes a whole number, got ${argv[i]}`);
    } else if (a === '--kinds') {
      const kinds = value()
        .split(',')
        .map((k) => k.trim());
      const unknown = kinds.filter((k) => !(BLANK_KINDS as readonly string[]).includes(k));
      if (unknown.length) usage(`unknown kind ${unknown.join(', ')}; kinds are ${BLANK_KINDS.join(', ')}`);
      o.kinds = kinds as BlankKind[];
    } else if (a === '--variant') {
      const v = value();
      const eq = v.indexOf('=');
      if (eq <= 0) usage(`--variant takes NAME=JSON, e.g. t07='{"temperature":0.7}', got ${v}`);
      const name = v.slice(0, eq);
      if (!/^[\w.-]+$/.test(name)) usage(`a variant's name is letters, digits, '.', '_' or '-' (it names bench/fills-NAME.json), got "${name}"`);
      let job: unknown;
      try {
        job = JSON.parse(v.slice(eq + 1));
      } catch (e) {
        usage(`variant ${name}: the settings are not JSON (${(e as Error).message})`);
      }
      if (typeof job !== 'object' || job === null || Array.isArray(job)) usage(`variant ${name}: the settings must be a JSON object`);
      o.variants.push([name, job as Record<string, unknown>]);
    } else usage(`unknown option ${a}`);
  }
  if (o.steps !== undefined && !(Number.isInteger(o.steps) && o.steps >= 1)) usage('--steps takes a whole number');
  if (!o.variants.length)
    o.variants = [
      ['default', {}],
      ['t1', { temperature: 1 }],
    ];
  return o;
}

function loadBlanks(path: string): FillBlank[] {
  if (!existsSync(path)) throw new Error(`no blank set at ${path} (models/data/make_fill_blanks.py writes it)`);
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l, i) => {
      const b = JSON.parse(l) as FillBlank;
      if (!b.id || !(BLANK_KINDS as readonly string[]).includes(b.kind) || typeof b.left !== 'string' || typeof b.right !== 'string' || !(b.tokens >= 1)) {
        throw new Error(`${path}, line ${i + 1}: not a blank record`);
      }
      return b;
    });
}

interface AltResult {
  fill: string;
  /** Tokens the blank got (with --auto, the length the model chose). */
  tokens?: number;
  check: JoinCheck;
  judge: JudgeScore;
}

interface BlankResult {
  id: string;
  kind: BlankKind;
  glue: FillBlank['glue'];
  seed: number;
  tokens: number;
  error?: string;
  durationMs?: number;
  /** CPU time of this process during the fill (user + system): steadier than wall time on a shared machine. */
  cpuMs?: number;
  alternatives?: AltResult[];
  judgeBest?: number;
  distinct1?: number;
  distinct2?: number;
}

const pct = (n: number, d: number): string => (d ? `${((100 * n) / d).toFixed(1)} %` : '–');
const mean = (xs: number[]): number => {
  const v = xs.filter((x) => Number.isFinite(x));
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : NaN;
};
const median = (xs: number[]): number => {
  const v = [...xs].sort((a, b) => a - b);
  return v.length ? (v.length % 2 ? v[(v.length - 1) / 2]! : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2) : NaN;
};
const fix = (x: number, d: number): string => (Number.isFinite(x) ? x.toFixed(d) : '–');

const COUNTER_TITLES: Record<JoinCounter, string> = {
  glued: 'glued',
  doubled: 'doubled word',
  spaceBeforePunctuation: 'space before punct.',
  lineBreak: 'line break',
  doubleSpace: 'double space',
};

interface Summary {
  variant: string;
  job: Record<string, unknown>;
  blanks: number;
  failed: number;
  failures: { id: string; error: string }[];
  counts: Record<JoinCounter | 'bad', number>;
  percent: Record<JoinCounter | 'bad', number>;
  badAllAlternatives: number;
  badByKind: Record<string, { blanks: number; bad: number }>;
  judgeNllFirst: number;
  judgeNllAll: number;
  topIsJudgeBest: number;
  distinct1: number;
  distinct2: number;
  msMedian: number;
  msMean: number;
  cpuMsMedian: number;
}

function summarise(variant: string, job: Record<string, unknown>, results: BlankResult[]): Summary {
  const ok = results.filter((r) => r.alternatives);
  const counts = { glued: 0, doubled: 0, spaceBeforePunctuation: 0, lineBreak: 0, doubleSpace: 0, bad: 0 };
  let badAll = 0;
  let altCount = 0;
  const badByKind: Summary['badByKind'] = {};
  for (const r of results) {
    const k = (badByKind[r.kind] ??= { blanks: 0, bad: 0 });
    k.blanks++;
    if (!r.alternatives) continue;
    const c = r.alternatives[0]!.check;
    for (const name of JOIN_COUNTERS) if (c[name]) counts[name]++;
    if (c.bad) {
      counts.bad++;
      k.bad++;
    }
    for (const a of r.alternatives) {
      altCount++;
      if (a.check.bad) badAll++;
    }
  }
  const n = ok.length;
  const percent = Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, n ? (100 * v) / n : NaN])) as Summary['percent'];
  const withBest = ok.filter((r) => r.judgeBest !== undefined && r.judgeBest >= 0);
  return {
    variant,
    job,
    blanks: results.length,
    failed: results.length - n,
    failures: results.filter((r) => r.error).map((r) => ({ id: r.id, error: r.error! })),
    counts,
    percent,
    badAllAlternatives: altCount ? (100 * badAll) / altCount : NaN,
    badByKind,
    judgeNllFirst: mean(ok.map((r) => r.alternatives![0]!.judge.nll)),
    judgeNllAll: mean(ok.flatMap((r) => r.alternatives!.map((a) => a.judge.nll))),
    topIsJudgeBest: withBest.length ? withBest.filter((r) => r.judgeBest === 0).length / withBest.length : NaN,
    distinct1: mean(ok.map((r) => r.distinct1!)),
    distinct2: mean(ok.map((r) => r.distinct2!)),
    msMedian: median(ok.map((r) => r.durationMs!)),
    msMean: mean(ok.map((r) => r.durationMs!)),
    cpuMsMedian: median(ok.map((r) => r.cpuMs!)),
  };
}

function tableRow(s: Summary): string {
  const cells = [
    s.variant,
    `${s.blanks - s.failed}/${s.blanks}`,
    ...JOIN_COUNTERS.map((c) => `${fix(s.percent[c], 1)} %`),
    `**${fix(s.percent.bad, 1)} %**`,
    `${fix(s.badAllAlternatives, 1)} %`,
    fix(s.judgeNllFirst, 3),
    fix(s.judgeNllAll, 3),
    Number.isFinite(s.topIsJudgeBest) ? `${(100 * s.topIsJudgeBest).toFixed(1)} %` : '–',
    fix(s.distinct1, 3),
    fix(s.distinct2, 3),
    fix(s.msMedian, 0),
    fix(s.msMean, 0),
    fix(s.cpuMsMedian, 0),
  ];
  return `| ${cells.join(' | ')} |`;
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const vocabPath = join(ROOT, 'models', 'data', 'vocabulary.txt');
  const vocab = parseVocabulary(readFileSync(vocabPath, 'utf8'));
  const all = loadBlanks(o.blanks);
  const seen = new Map<string, number>();
  const blanks = all
    .filter((b) => o.kinds.includes(b.kind))
    .filter((b) => {
      const n = seen.get(b.kind) ?? 0;
      seen.set(b.kind, n + 1);
      return n % o.every === 0;
    })
    .slice(0, o.limit);
  if (!blanks.length) usage('no blanks left after --kinds/--every/--limit');
  if (!existsSync(join(o.model, 'manifest.json'))) usage(`${o.model} is not a model package (no manifest.json)`);
  const judge = await Judge.load(ROOT);
  const engine = new Engine({ threads: 1 });
  const modelRel = isAbsolute(o.model) ? o.model.replace(`${ROOT}/`, '') : o.model;
  const j = judge.info;
  console.log(
    `${cpus()[0]?.model ?? 'cpu'}; model ${modelRel}; ${blanks.length} blanks (${o.kinds.join(', ')}), ${ALTERNATIVES} alternatives each, ` +
      `${o.auto ? '"____" (auto length)' : '{{N}} = the original length'}; one onnxruntime thread`,
  );
  console.log(
    `judge: ${j.file} (AR twin, ${j.source_run}, step ${j.step}, ${j.tokens_seen?.toLocaleString('en-US')} tokens seen, ` +
      `held-out ppl ${j.held_out ? j.held_out.ppl.toFixed(1) : '?'}; sha256 ${j.sha256.slice(0, 12)}…)`,
  );

  // The original words: the counters' false alarms and the judge's reference.
  const original: { check: JoinCheck; judge: JudgeScore }[] = [];
  for (const b of blanks) original.push({ check: checkJoins(b.left, b.blank, b.right, b.kind, vocab), judge: await judge.score(b.left, b.blank, b.right) });
  const origBad = original.filter((x) => x.check.bad);
  const origRow = [
    'original text',
    `${blanks.length}/${blanks.length}`,
    ...JOIN_COUNTERS.map((c) => `${fix((100 * original.filter((x) => x.check[c]).length) / blanks.length, 1)} %`),
    `**${fix((100 * origBad.length) / blanks.length, 1)} %**`,
    '',
    fix(mean(original.map((x) => x.judge.nll)), 3),
    '',
    '',
    '',
    '',
    '',
    '',
    '',
  ];

  const summaries: Summary[] = [];
  const resultsOf = new Map<string, BlankResult[]>();
  mkdirSync(o.out, { recursive: true });
  for (const [name, settings] of o.variants) {
    const results: BlankResult[] = [];
    let done = 0;
    for (const [i, b] of blanks.entries()) {
      const seed = 1000 + 7 * all.indexOf(b);
      const text = `${b.left}${o.auto ? '____' : `{{${b.tokens}}}`}${b.right}`;
      const job = {
        modelDir: o.model,
        ...settings,
        requestId: `${name}-${b.id}`,
        text,
        alternatives: ALTERNATIVES,
        seed,
        ...(o.steps ? { steps: o.steps } : {}),
      } as FillJob;
      const r: BlankResult = { id: b.id, kind: b.kind, glue: b.glue, seed, tokens: b.tokens };
      try {
        const cpu = process.cpuUsage();
        const out = await engine.fill(job);
        const used = process.cpuUsage(cpu);
        r.durationMs = out.durationMs;
        r.cpuMs = (used.user + used.system) / 1000;
        if (out.alternatives.length !== ALTERNATIVES) throw new Error(`asked for ${ALTERNATIVES} alternatives, got ${out.alternatives.length}`);
        r.alternatives = [];
        for (const alt of out.alternatives) {
          const parts = splitFinal(alt.text, b.left, b.right);
          r.alternatives.push({
            fill: parts.fill,
            ...(alt.lengths ? { tokens: alt.lengths[0]! } : {}),
            check: checkJoins(parts.left, parts.fill, parts.right, b.kind, vocab),
            judge: await judge.score(parts.left, parts.fill, parts.right),
          });
        }
        const nll = r.alternatives.map((a) => a.judge.nll);
        r.judgeBest = nll.every(Number.isFinite) ? nll.indexOf(Math.min(...nll)) : -1;
        const fills = r.alternatives.map((a) => a.fill);
        r.distinct1 = distinctN(fills, 1);
        r.distinct2 = distinctN(fills, 2);
      } catch (e) {
        r.error = e instanceof Error ? e.message : String(e);
        delete r.alternatives;
        console.error(`  ${name} ${b.id}: the fill failed: ${r.error}`);
      }
      results.push(r);
      done++;
      if (done % 20 === 0 || i === blanks.length - 1) process.stderr.write(`  ${name}: ${done}/${blanks.length} blanks\n`);
    }
    const s = summarise(name, settings, results);
    resultsOf.set(name, results);
    summaries.push(s);
    const file = join(o.out, `fills-${name}.json`);
    writeFileSync(
      file,
      `${JSON.stringify(
        {
          date: new Date().toISOString(),
          model: modelRel,
          blanks: o.blanks.replace(`${ROOT}/`, ''),
          auto: o.auto,
          judge: { file: j.file, sha256: j.sha256, step: j.step, source_run: j.source_run, held_out: j.held_out },
          summary: s,
          original: blanks.map((b, k) => ({ id: b.id, check: original[k]!.check, judge: original[k]!.judge })),
          results,
        },
        null,
        1,
      )}\n`,
    );
    console.log(`  ${name}: wrote ${file.replace(`${ROOT}/`, '')}`);
  }

  const head = [
    'variant',
    'filled',
    ...JOIN_COUNTERS.map((c) => COUNTER_TITLES[c]),
    'bad join',
    'bad (all alts)',
    'judge NLL (top)',
    'judge NLL (all)',
    'top = judge best',
    'distinct-1',
    'distinct-2',
    'ms/fill median',
    'ms/fill mean',
    'CPU ms/fill median',
  ];
  console.log('');
  console.log(`| ${head.join(' | ')} |`);
  console.log(`|${head.map((_, k) => (k === 0 ? '---' : '---:')).join('|')}|`);
  console.log(`| ${origRow.join(' | ')} |`);
  for (const s of summaries) console.log(tableRow(s));
  console.log('');
  const kinds = o.kinds.filter((k) => blanks.some((b) => b.kind === k));
  console.log(`| bad join by kind | ${kinds.join(' | ')} |`);
  console.log(`|---|${kinds.map(() => '---:').join('|')}|`);
  const originalCells = kinds.map((k) =>
    pct(blanks.filter((b, i) => b.kind === k && original[i]!.check.bad).length, blanks.filter((b) => b.kind === k).length),
  );
  console.log(`| original text | ${originalCells.join(' | ')} |`);
  for (const s of summaries) {
    const cells = kinds.map((k) =>
      pct(s.badByKind[k]?.bad ?? 0, (s.badByKind[k]?.blanks ?? 0) - s.failures.filter((f) => blanks.find((b) => b.id === f.id)?.kind === k).length),
    );
    console.log(`| ${s.variant} | ${cells.join(' | ')} |`);
  }
  console.log('');
  console.log(
    `Counters: % of filled blanks (first alternative); bad join = any of them; bad (all alts) = % of all ${ALTERNATIVES} alternatives. ` +
      `Judge NLL: nats/token of the fill + ${8} right tokens. ` +
      `top = judge best: the first alternative is the judge's best of ${ALTERNATIVES} (chance 25 %). ` +
      `distinct-n: unique n-grams / n-grams over a blank's ${ALTERNATIVES} alternatives. ` +
      `ms/fill: wall time of one job of ${ALTERNATIVES} alternatives; CPU ms/fill: this process's CPU time during it ` +
      `(the engine runs one onnxruntime thread in this process, so it is steadier than wall time on a loaded machine).`,
  );
  if (origBad.length)
    console.log(
      `The original words trip the counters on ${origBad.length} blanks: ${blanks
        .filter((_, i) => original[i]!.check.bad)
        .map((b, k) => `${b.id} (${origBad[k]!.check.notes.join('; ')})`)
        .join(', ')}.`,
    );
  if (o.auto) {
    for (const s of summaries) {
      const chosen = new Map<number, number>();
      for (const r of resultsOf.get(s.variant) ?? [])
        for (const a of r.alternatives ?? []) if (a.tokens !== undefined) chosen.set(a.tokens, (chosen.get(a.tokens) ?? 0) + 1);
      const total = [...chosen.values()].reduce((x, y) => x + y, 0);
      const shares = [...chosen.entries()].sort((x, y) => x[0] - y[0]).map(([n, c]) => `${n} tokens ${pct(c, total)}`);
      console.log(
        `${s.variant}: lengths chosen for the auto blanks (all alternatives): ${shares.join(', ')}; ` +
          `the original words: median ${median(blanks.map((b) => b.tokens))} tokens.`,
      );
    }
  }
  // Paired against the first variant, blank by blank (the same blanks and seeds): is a difference
  // more than the noise? The judge's NLL over all alternatives and distinct-2, mean ± standard error.
  const first = resultsOf.get(summaries[0]!.variant) ?? [];
  for (const s of summaries.slice(1)) {
    const mine = resultsOf.get(s.variant) ?? [];
    const nll: number[] = [];
    const d2: number[] = [];
    first.forEach((a, i) => {
      const b = mine[i];
      if (!a.alternatives || !b?.alternatives) return;
      const m = (r: BlankResult): number => mean(r.alternatives!.map((x) => x.judge.nll));
      nll.push(m(b) - m(a));
      d2.push(b.distinct2! - a.distinct2!);
    });
    const meanSe = (xs: number[]): string => {
      const mu = mean(xs);
      const se = Math.sqrt(xs.reduce((t, x) => t + (x - mu) ** 2, 0) / Math.max(1, xs.length - 1) / xs.length);
      return `${mu >= 0 ? '+' : ''}${mu.toFixed(3)} ± ${se.toFixed(3)}${Math.abs(mu) > 2 * se ? ' (beyond noise: > 2 SE)' : ' (within noise)'}`;
    };
    console.log(`${s.variant} − ${summaries[0]!.variant}, paired over ${nll.length} blanks: judge NLL (all) ${meanSe(nll)}; distinct-2 ${meanSe(d2)}.`);
  }
  for (const s of summaries) {
    if (s.failed) console.log(`${s.variant}: ${s.failed} of ${s.blanks} fills failed: ${s.failures.map((f) => `${f.id}: ${f.error}`).join('; ')}`);
  }
  await engine.close();
  await judge.close();
  if (summaries.some((s) => s.failed)) process.exitCode = 1;
}

main().catch((e: unknown) => {
  console.error(`bench:fills: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
