/**
 * The real `lacuna` command (node bin/lacuna.js → out/main/cli.js) as a child process, against
 * the real tiny model. `npm test` builds before vitest; run `npx electron-vite build` first when
 * running this alone. Every run gets its own LACUNA_DATA_DIR.
 */
import { FILL_OPTIONS, SCORE_OPTIONS } from '../common/fill-options';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { DocumentSummary, FillResult, ModelInfo } from '../common/api';
import { BIN, ROOT, expectFailure, runLacuna, type Outcome } from './cli-test-support';
import { closeDatabase, openDatabase } from '../store/database';
import { DocumentStore } from '../store/documents';

const CLI_JS = join(ROOT, 'out', 'main', 'cli.js');
const FIXTURE = join(ROOT, 'models', 'fixtures', 'tiny-fixture');
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

const dirs: string[] = [];

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'lacuna-cli-'));
  dirs.push(d);
  return d;
}

function lacuna(args: string[], opts: { stdin?: string; dataDir?: string; cwd?: string; bin?: string } = {}): Promise<Outcome> {
  return runLacuna(args, { ...opts, dataDir: opts.dataDir ?? tempDir() });
}

beforeAll(() => {
  if (!existsSync(CLI_JS)) throw new Error(`${CLI_JS} is missing: build first (npx electron-vite build; npm test does it before vitest)`);
  if (!existsSync(join(FIXTURE, 'manifest.json'))) throw new Error(`the test model ${FIXTURE} is missing`);
});

afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('lacuna CLI', () => {
  it('prints --version and --help', async () => {
    const v = await lacuna(['--version']);
    expect(v).toEqual({ code: 0, stdout: `${VERSION}\n`, stderr: '' });
    const h = await lacuna(['--help']);
    expect(h.code).toBe(0);
    expect(h.stderr).toBe('');
    expect(h.stdout).toContain('lacuna fill');
    expect(h.stdout).toContain('--model DIR|ID');
    expect(h.stdout).toMatch(/^ {2}--temperature T {2}0\.1 to 2; default: the model's/m);
    // Every fill and score option is in the help, with its range or its choices (common/fill-options.ts).
    for (const o of [...Object.values(FILL_OPTIONS), ...Object.values(SCORE_OPTIONS)]) {
      const shown = o.kind === 'choice' ? `${o.flag} ${o.values.join('|')}` : `${o.flag} ${o.arg}`;
      expect(h.stdout).toMatch(new RegExp(`^ {2}${shown.replace(/[|.]/g, '\\$&')} +${o.kind === 'choice' ? '' : `${o.min} to ${o.max}; `}`, 'm'));
    }
    expect((await lacuna(['fill', '--help'])).stdout).toBe(h.stdout);
  });

  it('fills text given as an argument, deterministically per seed', async () => {
    const a = await lacuna(['fill', '--model', 'tiny-fixture', '--seed', '11', '--steps', '6', 'The cat ____ on the mat.']);
    expect(a.stderr).toBe('');
    expect(a.code).toBe(0);
    expect(a.stdout.startsWith('The cat ')).toBe(true);
    expect(a.stdout.endsWith(' on the mat.\n')).toBe(true);
    expect(a.stdout).not.toContain('____');
    const b = await lacuna(['fill', '--model=tiny-fixture', '--seed=11', '--steps=6', 'The cat ____ on the mat.']);
    expect(b.stdout).toBe(a.stdout);
  });

  it('runs on the --device asked for and says so on stderr', async () => {
    const a = await lacuna(['fill', '--model', 'tiny-fixture', '--seed', '11', '--steps', '6', 'The cat ____ on the mat.']);
    const b = await lacuna(['fill', '--model', 'tiny-fixture', '--seed', '11', '--steps', '6', '--device', 'cpu', 'The cat ____ on the mat.']);
    expect(b).toMatchObject({ code: 0, stderr: 'lacuna: ran on cpu\n', stdout: a.stdout });
  });

  it('passes --temperature to the fill, says it on stderr, and records it in --json', async () => {
    const args = ['fill', '--model', 'tiny-fixture', '--seed', '11', '--steps', '6'];
    const cold = await lacuna([...args, '--temperature', '0.3', '--json', 'The cat ____ on the mat.']);
    expect(cold.stderr).toBe('lacuna: temperature 0.3, top-p 1, random unmasking, 6 steps, seed 11\n');
    expect(cold.code).toBe(0);
    expect(FillResult.parse(JSON.parse(cold.stdout))).toMatchObject({ model: 'tiny-fixture', steps: 6, seed: 11, temperature: 0.3 });
    // Same seed and temperature, same fill; the text form too.
    const again = await lacuna([...args, '--temperature=.3', 'The cat ____ on the mat.']);
    expect(again).toMatchObject({ code: 0, stderr: 'lacuna: temperature 0.3, top-p 1, random unmasking, 6 steps, seed 11\n' });
    expect(again.stdout).toBe(`${FillResult.parse(JSON.parse(cold.stdout)).text}\n`);
    // Without it: the model's default (tiny-fixture recommends none: 1), nothing on stderr; 1 given is the same fill.
    const plain = await lacuna([...args, '--json', 'The cat ____ on the mat.']);
    expect(plain.stderr).toBe('');
    const def = FillResult.parse(JSON.parse(plain.stdout));
    expect(def.temperature).toBe(1);
    const one = await lacuna([...args, '--temperature', '1', '--json', 'The cat ____ on the mat.']);
    expect(one.stderr).toBe('lacuna: temperature 1, top-p 1, random unmasking, 6 steps, seed 11\n');
    expect(FillResult.parse(JSON.parse(one.stdout)).text).toBe(def.text);
    // The temperature reaches the sampler: another temperature, another fill (same seed).
    expect(FillResult.parse(JSON.parse(cold.stdout)).text).not.toBe(def.text);
  });

  it('passes --top-p, --unmasking and --length-bias to the fill and says what it used on stderr', async () => {
    const args = ['fill', '--model', 'tiny-fixture', '--seed', '11', '--steps', '6'];
    const plain = FillResult.parse(JSON.parse((await lacuna([...args, '--json', 'The cat ____ on the mat.'])).stdout));
    const sure = await lacuna([...args, '--top-p', '0.8', '--unmasking', 'confident', '--json', 'The cat ____ on the mat.']);
    expect(sure.code).toBe(0);
    expect(sure.stderr).toBe('lacuna: temperature 1, top-p 0.8, confident unmasking, 6 steps, seed 11\n');
    const r = FillResult.parse(JSON.parse(sure.stdout));
    expect(r).toMatchObject({ topP: 0.8, unmasking: 'confident' });
    expect(r.text).not.toBe(plain.text);
    // An auto blank: the bias moves the lengths chosen, which go to stderr.
    const lengthsOf = async (bias: string): Promise<number[]> => {
      const o = await lacuna([...args, '--alternatives', '4', '--length-bias', bias, '--json', 'The cat ____']);
      expect(o.code).toBe(0);
      const res = FillResult.parse(JSON.parse(o.stdout));
      const lengths = res.alternatives!.map((a) => a.lengths![0]!);
      expect(o.stderr).toBe(`lacuna: blank lengths (tokens) ${lengths.join(', ')}\n`);
      return lengths;
    };
    const short = await lengthsOf('-1');
    const long = await lengthsOf('1');
    expect(long.reduce((a, b) => a + b)).toBeGreaterThan(short.reduce((a, b) => a + b));
  });

  it("runs onnxruntime with its telemetry off whatever the user's environment: a fill and a score leave no telemetry files", async () => {
    // onnxruntime-node 1.29+ writes a device id and an event queue under ~/.cache/Microsoft/DeveloperTools/
    // at its first session unless ORT_DISABLE_TELEMETRY=1 (engine/ort-offline.ts forces it).
    const home = tempDir();
    const env = { HOME: home, XDG_CACHE_HOME: join(home, 'xdg'), ORT_DISABLE_TELEMETRY: '0' };
    const fill = await runLacuna(['fill', '--model', 'tiny-fixture', '--steps', '2', '--seed', '1', 'The cat ____ on the mat.'], { dataDir: tempDir(), env });
    expect(fill.code).toBe(0);
    const score = await runLacuna(['score', '--model', 'tiny-fixture', '--draws', '2', 'The cat sat on the mat.'], { dataDir: tempDir(), env });
    expect(score.code).toBe(0);
    const found = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir, { recursive: true }).map(String) : []);
    expect([...found(join(home, '.cache')), ...found(join(home, 'xdg'))].filter((p) => /Microsoft|onnxruntime/i.test(p))).toEqual([]);
  });

  it('prints N numbered alternatives with --alternatives, the same for the same seed', async () => {
    const args = ['fill', '--model', 'tiny-fixture', '--seed', '3', '--steps', '4', '--alternatives', '3', 'A ____ B'];
    const a = await lacuna(args);
    expect(a.stderr).toBe('');
    expect(a.code).toBe(0);
    const parts = a.stdout.split(/^--- alternative \d+ ---\n/m).slice(1);
    expect(parts).toHaveLength(3);
    for (const p of parts) {
      expect(p.startsWith('A ')).toBe(true);
      expect(p.trimEnd().endsWith(' B')).toBe(true);
      expect(p).not.toContain('____');
    }
    expect((await lacuna(args)).stdout).toBe(a.stdout);
  });

  it('uses the default model without --model', async () => {
    const list = z.array(ModelInfo).parse(JSON.parse((await lacuna(['models', 'list', '--json'])).stdout));
    const def = list.find((m) => m.isDefault);
    expect(def).toBeDefined();
    const o = await lacuna(['fill', '--steps', '2', '--seed', '4', '--json', 'x ____ y']);
    expect(o.stderr).toBe('');
    expect(FillResult.parse(JSON.parse(o.stdout)).model).toBe(def!.id);
  });

  it('fills a file byte for byte apart from the blanks', async () => {
    const d = tempDir();
    const file = join(d, 'draft.txt');
    writeFileSync(file, 'Dear ____,\n\nthanks for the {{4}}.\nÇa va? 😀 \\____ stays.\n');
    const o = await lacuna(['fill', '--file', file, '--model', 'tiny-fixture', '--steps', '4', '--seed', '1']);
    expect(o.stderr).toBe('');
    expect(o.code).toBe(0);
    expect(o.stdout.startsWith('Dear ')).toBe(true);
    expect(o.stdout).toContain(',\n\nthanks for the ');
    expect(o.stdout).toContain('.\nÇa va? 😀 ');
    expect(o.stdout.endsWith('____ stays.\n')).toBe(true); // the escaped blank stays literal
  });

  it('reads stdin with -', async () => {
    const o = await lacuna(['fill', '--model', 'tiny-fixture', '--steps', '3', '--seed', '5', '-'], { stdin: 'from stdin: ____ end' });
    expect(o.stderr).toBe('');
    expect(o.code).toBe(0);
    expect(o.stdout.startsWith('from stdin: ')).toBe(true);
    expect(o.stdout.endsWith(' end')).toBe(true);
  });

  it('takes --model as a package folder or an id, and prints JSON with --json', async () => {
    const byDir = await lacuna(['fill', '--model', FIXTURE, '--steps', '3', '--seed', '9', '--json', 'a ____ b']);
    expect(byDir.stderr).toBe('');
    const r = FillResult.parse(JSON.parse(byDir.stdout));
    expect(r).toMatchObject({ model: 'tiny-fixture', steps: 3, seed: 9 });
    expect(r.fills).toHaveLength(1);
    const relative = await lacuna(['fill', '--model', 'models/fixtures/tiny-fixture', '--steps', '3', '--seed', '9', 'a ____ b']);
    expect(relative.stdout).toBe(`${r.text}\n`);
    const byId = await lacuna(['fill', '--model', 'tiny-fixture', '--steps', '3', '--seed', '9', 'a ____ b']);
    expect(byId.stdout).toBe(`${r.text}\n`);
  });

  it('lists models', async () => {
    const o = await lacuna(['models', 'list']);
    expect(o.code).toBe(0);
    expect(o.stdout).toMatch(/^[ *] tiny-fixture\s+Tiny fixture \(random weights\)\s+\(.*tiny-fixture\) {2}temperature 1, top-p 1, random unmasking$/m);
    const j = await lacuna(['models', 'list', '--json']);
    const models = z.array(ModelInfo).parse(JSON.parse(j.stdout));
    expect(models.find((m) => m.id === 'tiny-fixture')).toMatchObject({ dir: FIXTURE, vocabSize: 512, defaultTemperature: 1, temperatureSupported: true });
    // Every model's line says its default temperature ("(fixed)": one that takes none).
    for (const m of models) {
      expect(o.stdout).toContain(
        `(${m.dir})  temperature ${m.defaultTemperature}, top-p ${m.defaultTopP}, ${m.defaultUnmasking} unmasking${m.temperatureSupported ? '' : ' (fixed)'}\n`,
      );
    }
    const defaults = models.filter((m) => m.isDefault);
    expect(defaults).toHaveLength(1);
    expect(o.stdout).toMatch(new RegExp(`^\\* ${defaults[0]!.id} `, 'm'));
  });

  it('lists the documents of the data folder', async () => {
    const data = tempDir();
    const empty = await lacuna(['docs', 'list'], { dataDir: data });
    expect(empty).toEqual({ code: 0, stdout: `No documents in ${data}.\n`, stderr: '' });

    const db = openDatabase({ dataDir: data });
    const doc = new DocumentStore(db).create({ title: 'My draft', body: 'It was a ____ night.' });
    closeDatabase(db);
    const o = await lacuna(['docs', 'list'], { dataDir: data });
    expect(o.code).toBe(0);
    expect(o.stdout).toContain(doc.id);
    expect(o.stdout).toContain('My draft — It was a ____ night.');
    const j = await lacuna(['docs', 'list', '--json'], { dataDir: data });
    expect(
      z
        .array(DocumentSummary)
        .parse(JSON.parse(j.stdout))
        .map((d) => d.id),
    ).toEqual([doc.id]);
  });

  it('fails with status 2 and one line on usage errors', async () => {
    const cases: Array<[string[], RegExp]> = [
      [[], /missing command/],
      [['frobnicate'], /unknown command "frobnicate"/],
      [['--bogus'], /unknown option "--bogus"/],
      [['fill', '--bogus', 'a ____'], /unknown option "--bogus"/],
      [['fill', '--steps', 'many', 'a ____'], /--steps must be a whole number from 1 to 4096, not "many"/],
      [['fill', '--steps', '0', 'a ____'], /--steps/],
      [['fill', '--steps', '1.5', 'a ____'], /--steps/],
      [['fill', '--seed=-1', 'a ____'], /--seed must be a whole number from 0 to 4294967295, not "-1"/],
      [['fill', '--seed', '4294967296', 'a ____'], /--seed/],
      [['fill', '--steps'], /--steps needs a value/],
      [['fill', '--device', 'gpu', 'a ____'], /--device must be one of auto, cpu, cuda, dml, coreml, webgpu, remote, not "gpu"/],
      [['fill', '--alternatives', '17', 'a ____'], /--alternatives must be a whole number from 1 to 16/],
      [['fill', '--mode', 'quick', 'a ____'], /--mode must be exact or fast, not "quick"/],
      [['fill', '--temperature', 'hot', 'a ____'], /--temperature must be a number from 0\.1 to 2, not "hot"/],
      [['fill', '--temperature', '0', 'a ____'], /--temperature must be a number from 0\.1 to 2, not "0"/],
      [['fill', '--temperature=0.09', 'a ____'], /--temperature must be a number from 0\.1 to 2/],
      [['fill', '--temperature', '2.5', 'a ____'], /--temperature must be a number from 0\.1 to 2, not "2\.5"/],
      [['fill', '--temperature=-1', 'a ____'], /--temperature must be a number from 0\.1 to 2, not "-1"/],
      [['fill', '--temperature', '1e0', 'a ____'], /--temperature must be a number/],
      [['fill', '--temperature', '', 'a ____'], /--temperature must be a number/],
      [['fill', '--temperature'], /--temperature needs a value/],
      [['fill', '--top-p', '0', 'a ____'], /--top-p must be a number from 0\.05 to 1, not "0"/],
      [['fill', '--top-p', '1.5', 'a ____'], /--top-p must be a number from 0\.05 to 1/],
      [['fill', '--unmasking', 'surest', 'a ____'], /--unmasking must be random or confident, not "surest"/],
      [['fill', '--length-bias', '2', 'a ____'], /--length-bias must be a number from -1 to 1, not "2"/],
      [['fill', '--length-bias', 'long', 'a ____'], /--length-bias must be a number from -1 to 1/],
      [['fill'], /fill needs text/],
      [['fill', 'one ____', 'two'], /one text argument/],
      [['fill', '--file', 'x.txt', 'a ____'], /not both/],
      [['fill', '--model', 'a', '--model', 'b', 'a ____'], /--model given twice/],
      [['models'], /missing subcommand/],
      [['docs', 'delete'], /unknown subcommand "delete"/],
      [['docs', 'list', 'extra'], /unexpected argument "extra"/],
    ];
    const outcomes = await Promise.all(cases.map(([args]) => lacuna(args)));
    outcomes.forEach((o, i) => expectFailure(o, 2, cases[i]![1]));
  });

  it('fails with status 1 and one line on bad input', async () => {
    const d = tempDir();
    expectFailure(await lacuna(['fill', 'no blank in here']), 1, /no blank/);
    expectFailure(await lacuna(['fill', 'a {{0}} b']), 1, /1 to 1024 tokens/);
    expectFailure(await lacuna(['fill', '--file', join(d, 'missing.txt')]), 1, /cannot read .*missing\.txt: no such file/);
    expectFailure(await lacuna(['fill', '--file', d]), 1, /cannot read/);
    expectFailure(await lacuna(['fill', '--model', join(d, 'no-model'), 'a ____']), 1, /model folder .*no-model not found/);
    expectFailure(await lacuna(['fill', '--model', d, 'a ____']), 1, /not a model package \(it has no manifest\.json\)/);
    expectFailure(await lacuna(['fill', '--model', 'no-such-id', 'a ____']), 1, /unknown model "no-such-id"; available: (.*, )?tiny-fixture/);
    // A model whose sampler takes no temperature (uniform graph) refuses one other than 1.
    expectFailure(await lacuna(['fill', '--model', join(ROOT, 'models', 'fixtures', 'tiny-uniform'), '--temperature', '0.5', 'a ____']), 1, /no temperature/);

    // A package folder whose model file is missing.
    const broken = join(d, 'broken');
    mkdirSync(broken);
    copyFileSync(join(FIXTURE, 'manifest.json'), join(broken, 'manifest.json'));
    expectFailure(await lacuna(['fill', '--model', broken, 'a ____']), 1, /model file .* is missing/);
  });

  it('tells the user to build when out/main/cli.js is missing', async () => {
    const d = tempDir();
    mkdirSync(join(d, 'bin'));
    copyFileSync(BIN, join(d, 'bin', 'lacuna.js'));
    writeFileSync(join(d, 'package.json'), '{"type":"module"}');
    const o = await lacuna(['--version'], { bin: join(d, 'bin', 'lacuna.js') });
    expectFailure(o, 1, /not built.*npm run build/);
  });
});
