/**
 * `lacuna models import|list` through the real built CLI (node bin/lacuna.js), importing the
 * synthetic official-layout checkpoint (models/tests/import-fixture) in fp32 and fp16 into a fresh
 * data folder, whose `models/templates/` holds the fixture's graph templates.
 */
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ModelInfo } from '../common/api';
import { ROOT, expectFailure, runLacuna } from './cli-test-support';

const FIXTURE = join(ROOT, 'models', 'tests', 'import-fixture');
const dataDir = mkdtempSync(join(tmpdir(), 'lacuna-models-'));
cpSync(join(FIXTURE, 'templates'), join(dataDir, 'models', 'templates'), { recursive: true });
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe('lacuna models import', () => {
  it('imports in int8 by default on a CPU, and in fp32 and fp16 when asked; each lists and fills', async () => {
    // No GPU here: the default is int8 (precision.ts defaultPrecision).
    const a = await runLacuna(['models', 'import', join(FIXTURE, 'checkpoint'), '--json'], { dataDir });
    expect(a.stderr).toBe('');
    expect(a.code).toBe(0);
    const int8 = ModelInfo.parse(JSON.parse(a.stdout));
    expect(int8.id).toBe('sedd-official-like-tiny-int8');
    expect(int8.name).toBe('SEDD official-like-tiny (int8)');

    const b = await runLacuna(['models', 'import', '--fp16', join(FIXTURE, 'checkpoint')], { dataDir });
    expect(b.stderr).toBe('');
    expect(b.code).toBe(0);
    expect(b.stdout).toMatch(/^Imported sedd-official-like-tiny-fp16 \(SEDD official-like-tiny\) into .*sedd-official-like-tiny-fp16\n$/);

    const c = await runLacuna(['models', 'import', '--precision', 'fp32', join(FIXTURE, 'checkpoint')], { dataDir });
    expect(c.code).toBe(0);
    expect(c.stdout).toMatch(/^Imported sedd-official-like-tiny \(SEDD official-like-tiny\) into /);

    const list = await runLacuna(['models', 'list', '--json'], { dataDir });
    const ids = (JSON.parse(list.stdout) as { id: string }[]).map((m) => m.id);
    expect(ids).toEqual(expect.arrayContaining(['sedd-official-like-tiny', 'sedd-official-like-tiny-fp16', 'sedd-official-like-tiny-int8']));

    const q = await runLacuna(['fill', '--model', 'sedd-official-like-tiny-int8', '--seed', '4', '--steps', '6', 'A {{3}} B'], { dataDir });
    expect(q.stderr).toBe('');
    expect(q.code).toBe(0);
    expect(q.stdout).toMatch(/^A .+ B\n$/s);

    const verify = await runLacuna(['models', 'verify', 'sedd-official-like-tiny-fp16'], { dataDir });
    expect(verify.code).toBe(0);
    expect(verify.stdout).toMatch(/^sedd-official-like-tiny-fp16: every file matches its manifest \(\d+ bytes hashed\)\n$/);

    const fill = await runLacuna(['fill', '--model', 'sedd-official-like-tiny-fp16', '--seed', '4', '--steps', '6', 'A {{3}} B'], { dataDir });
    expect(fill.stderr).toBe('');
    expect(fill.code).toBe(0);
    expect(fill.stdout.startsWith('A ')).toBe(true);
    expect(fill.stdout.trimEnd().endsWith(' B')).toBe(true);
  }, 120_000);

  it('refuses an unknown option and a second import of the same id, writing nothing', async () => {
    expectFailure(await runLacuna(['models', 'import', '--fp8', join(FIXTURE, 'checkpoint')], { dataDir }), 2, /unknown option "?--fp8"?/);
    expectFailure(
      await runLacuna(['models', 'import', '--precision', 'fp8', join(FIXTURE, 'checkpoint')], { dataDir }),
      2,
      /--precision must be one of int8, fp32, fp16 \(got "?fp8"?\)/,
    );
    expectFailure(await runLacuna(['models', 'import', join(FIXTURE, 'checkpoint'), '--precision'], { dataDir }), 2, /--precision needs a value/);
    const before = readdirSync(join(dataDir, 'models')).sort();
    expectFailure(await runLacuna(['models', 'import', '--fp16', join(FIXTURE, 'checkpoint')], { dataDir }), 1, /already installed/);
    expect(readdirSync(join(dataDir, 'models')).sort()).toEqual(before);
    expect(existsSync(join(dataDir, 'models', 'templates', 'official-like-tiny-fp16', 'template.json'))).toBe(true);
  });

  it('makes the int8 copy of an installed fp32 model, and of no other', async () => {
    const made = await runLacuna(['models', 'quantize', 'lacuna-mini'], { dataDir });
    expect(made.stderr).toBe('');
    expect(made.code).toBe(0);
    expect(made.stdout).toMatch(/^Made lacuna-mini-int8 \(Lacuna mini 2 \(int8\), [\d.]+ MB\) in .*lacuna-mini-int8\n$/);
    const fill = await runLacuna(['fill', '--model', 'lacuna-mini-int8', '--seed', '4', '--steps', '8', 'It was {{3}} night.'], { dataDir });
    expect(fill.code).toBe(0);
    expect(fill.stdout).toMatch(/^It was .+ night\.\n$/);
    expectFailure(await runLacuna(['models', 'quantize', 'lacuna-mini'], { dataDir }), 1, /lacuna-mini-int8 is already installed/);
    expectFailure(await runLacuna(['models', 'quantize', 'sedd-official-like-tiny-fp16'], { dataDir }), 1, /is fp16; int8 is made from an fp32 package/);
    expectFailure(await runLacuna(['models', 'quantize'], { dataDir }), 2, /expected one model id/);
    expect(readdirSync(join(dataDir, 'models')).filter((n) => n.startsWith('.'))).toEqual([]); // no half-made copy left
  });

  it('removes an imported model and refuses a bundled one', async () => {
    const removed = await runLacuna(['models', 'remove', 'sedd-official-like-tiny'], { dataDir });
    expect(removed).toMatchObject({ code: 0, stdout: 'Removed sedd-official-like-tiny\n', stderr: '' });
    const ids = (JSON.parse((await runLacuna(['models', 'list', '--json'], { dataDir })).stdout) as { id: string }[]).map((m) => m.id);
    expect(ids).not.toContain('sedd-official-like-tiny');
    expect(ids).toContain('sedd-official-like-tiny-fp16');
    expect(ids).toContain('sedd-official-like-tiny-int8');
    expectFailure(await runLacuna(['models', 'remove', 'tiny-fixture'], { dataDir }), 1, /comes with Lacuna and cannot be removed/);
    expectFailure(await runLacuna(['models', 'verify'], { dataDir }), 2, /expected one model id/);
  });

  it('exports an installed model as a Triton model repository and prints the command that serves it', async () => {
    const repo = mkdtempSync(join(tmpdir(), 'lacuna-triton-'));
    try {
      const out = await runLacuna(['models', 'export-server', 'sedd-official-like-tiny-fp16', repo], { dataDir });
      expect(out.stderr).toBe('');
      expect(out.code).toBe(0);
      const lines = out.stdout.trimEnd().split('\n');
      expect(lines[0]).toBe(`Wrote sedd-official-like-tiny-fp16 to ${join(repo, 'sedd-official-like-tiny-fp16')} (config.pbtxt, 1/model.onnx)`);
      expect(lines[1]).toBe('  inputs: indices TYPE_INT64 [-1, -1], sigma TYPE_FP32 [-1], positions TYPE_INT64 [-1], uniforms TYPE_FP32 [-1]');
      expect(lines[2]).toBe('  outputs: log_score TYPE_FP32 [-1, 512], token TYPE_INT64 [-1], log_norm TYPE_FP32 [-1]');
      expect(lines.slice(-2)).toEqual([
        'Then fill on it from here (the text around the blanks goes to that server):',
        '  lacuna server set http://SERVER:8000 && lacuna fill --device remote --model sedd-official-like-tiny-fp16 "…"',
      ]);
      expect(lines.at(-3)).toMatch(
        new RegExp(
          String.raw`^ {2}docker run --rm --gpus=all -p 8000:8000 -v ".*lacuna-triton-[^"]+":/models ` +
            String.raw`nvcr\.io/nvidia/tritonserver:\S+ tritonserver --model-repository=/models$`,
        ),
      );
      expect(readdirSync(join(repo, 'sedd-official-like-tiny-fp16', '1')).sort()).toEqual(['model.onnx', 'weights.bin']);
      expectFailure(await runLacuna(['models', 'export-server', 'sedd-official-like-tiny-fp16', repo], { dataDir }), 1, /already exists/);
      expectFailure(await runLacuna(['models', 'export-server', 'no-such-model', repo], { dataDir }), 1, /unknown model "no-such-model"/);
      expectFailure(await runLacuna(['models', 'export-server', 'sedd-official-like-tiny-fp16'], { dataDir }), 2, /expected a model id and a folder/);
    } finally {
      rmSync(repo, { recursive: true, force: true });
    }
  });

  it('lists no test model unless LACUNA_EXTRA_MODELS names their folder', async () => {
    const fresh = mkdtempSync(join(tmpdir(), 'lacuna-cli-models-'));
    try {
      const list = async (extra: string) =>
        (
          JSON.parse((await runLacuna(['models', 'list', '--json'], { dataDir: fresh, env: { LACUNA_EXTRA_MODELS: extra } })).stdout) as {
            id: string;
            demo: boolean;
          }[]
        ).map((m) => `${m.id}${m.demo ? ' (demo)' : ''}`);
      expect(await list('')).toEqual(['lacuna-mini (demo)']);
      expect(await list(join(ROOT, 'models', 'fixtures'))).toEqual(['lacuna-mini (demo)', 'tiny-fixture', 'tiny-ti', 'tiny-uniform']);
    } finally {
      rmSync(fresh, { recursive: true, force: true });
    }
  });
});
