/**
 * `lacuna models catalogue` and `lacuna models pull` through the real built CLI against a local
 * server that behaves like the Hugging Face Hub (engine/fake-hub.ts), HF_ENDPOINT pointing at it:
 * the host and size said first, a progress bar on stderr, the model installed and filling; a
 * gated repository refused in one line. The sedd-small-shaped test downloads a 679 MB synthetic
 * checkpoint in the exact official layout and imports it with the shipped sedd-small template.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CatalogueEntry, FillResult } from '../common/api';
import { startFakeHub, type FakeHub } from '../engine/model/fake-hub';
import { SEDD_SMALL_NETWORK, writeSyntheticCheckpoint, HUB_TINY_NETWORK } from '../engine/model/synthetic-checkpoint';
import { expectFailure, runLacuna } from './cli-test-support';

/** The network of models/fixtures/templates/sedd-hub-tiny (reached through LACUNA_EXTRA_MODELS). */
const HUB_TINY = HUB_TINY_NETWORK;
/** One progress line: file, percentage, bar, sizes (the rate and time left when known). */
const BAR = /^model\.safetensors +\d+% \[[#.]{20}\] {2}[\d.]+ [kMG]?B \/ [\d.]+ [kMG]?B/;

const temps: string[] = [];
const temp = (prefix: string): string => {
  const d = mkdtempSync(join(tmpdir(), prefix));
  temps.push(d);
  return d;
};
let hub: FakeHub;

beforeAll(async () => {
  const tiny = temp('lacuna-pull-ck-');
  await writeSyntheticCheckpoint(tiny, { network: HUB_TINY, name: 'hub-tiny', length: 128 });
  const files = { 'config.json': { path: join(tiny, 'config.json') }, 'model.safetensors': { path: join(tiny, 'model.safetensors') } };
  hub = await startFakeHub({ repos: { 'louaaron/sedd-small': { files }, 'louaaron/sedd-medium': { files, gated: true } }, token: 'hf_good' });
});

afterAll(async () => {
  await hub?.close();
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

describe('lacuna models pull', () => {
  it('says the host and size, draws a progress bar, installs the model, and it fills', async () => {
    const dataDir = temp('lacuna-pull-');
    const env = { HF_ENDPOINT: hub.endpoint };
    const host = new URL(hub.endpoint).host;
    const catalogue = await runLacuna(['models', 'catalogue'], { dataDir, env });
    expect(catalogue.code).toBe(0);
    expect(catalogue.stdout).toContain(`sedd-small  SEDD small (official)  — lacuna models pull sedd-small\n`);
    expect(catalogue.stdout).toContain(`download: about 679 MB from ${host}/louaaron/sedd-small`);

    // No GPU here: installed in int8 (precision.ts defaultPrecision), as sedd-small-int8.
    const pulled = await runLacuna(['models', 'pull', 'sedd-small'], { dataDir, env });
    expect(pulled.code, pulled.stderr).toBe(0);
    expect(pulled.stdout).toMatch(/^Installed sedd-small-int8 \(SEDD [^)]+ \(int8\), [\d.]+ [kM]B\) into .*sedd-small-int8\n$/);
    const lines = pulled.stderr.trimEnd().split('\n');
    expect(lines[0]).toBe(`lacuna: downloading SEDD small (official) (about 679 MB) from ${host}/louaaron/sedd-small, to install as sedd-small-int8 (int8)`);
    const bars = lines.filter((l) => BAR.test(l));
    expect(bars.length).toBeGreaterThanOrEqual(1);
    expect(bars.at(-1)).toMatch(/ 100% \[#{20}\] .* done$/);
    expect(lines.at(-1)).toBe('lacuna: every file verified; installing (converting the weights)…');

    const entry = (JSON.parse((await runLacuna(['models', 'catalogue', '--json'], { dataDir, env })).stdout) as CatalogueEntry[])[0]!;
    expect(entry.installed).toEqual(['sedd-small-int8']);
    const fill = await runLacuna(['fill', '--model', 'sedd-small-int8', '--steps', '4', '--seed', '2', '--json', 'The keeper {{3}} the lamp.'], { dataDir });
    expect(fill.code, fill.stderr).toBe(0);
    expect(FillResult.parse(JSON.parse(fill.stdout))).toMatchObject({ model: 'sedd-small-int8', steps: 4 });

    expectFailure(await runLacuna(['models', 'pull', 'sedd-small'], { dataDir, env }), 1, /sedd-small-int8 is already installed/);
    // Another precision of the same model is its own package.
    const fp32 = await runLacuna(['models', 'pull', 'sedd-small', '--precision', 'fp32'], { dataDir, env });
    expect(fp32.code, fp32.stderr).toBe(0);
    expect(fp32.stdout).toMatch(/^Installed sedd-small \(SEDD [^()]+, [\d.]+ [kM]B\) into /);
    expectFailure(await runLacuna(['models', 'pull'], { dataDir, env }), 2, /expected one catalogue id/);
  });

  it('refuses a gated repository without a token in one line, and downloads it with HF_TOKEN', async () => {
    const dataDir = temp('lacuna-pull-gated-');
    const gated = await runLacuna(['models', 'pull', 'sedd-medium'], { dataDir, env: { HF_ENDPOINT: hub.endpoint } });
    expect(gated.code).toBe(1);
    expect(gated.stderr.trimEnd().split('\n').at(-1)).toMatch(/^lacuna: louaaron\/sedd-medium is gated: accept its terms on .* and set HF_TOKEN\.?$/);
    const ok = await runLacuna(['models', 'pull', 'sedd-medium'], { dataDir, env: { HF_ENDPOINT: hub.endpoint, HF_TOKEN: 'hf_good' } });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^Installed sedd-medium-int8 /);
  });

  it('pulls a sedd-small-shaped checkpoint (679 MB, official layout) and fills with it', async () => {
    const src = temp('lacuna-pull-small-');
    const ck = await writeSyntheticCheckpoint(src, { network: SEDD_SMALL_NETWORK, name: 'small' });
    expect(ck.weightsBytes).toBeGreaterThan(670e6);
    const big = await startFakeHub({
      repos: {
        'louaaron/sedd-small': { files: { 'config.json': { path: join(src, 'config.json') }, 'model.safetensors': { path: join(src, 'model.safetensors') } } },
      },
    });
    try {
      const dataDir = temp('lacuna-pull-big-');
      const pulled = await runLacuna(['models', 'pull', 'sedd-small'], { dataDir, env: { HF_ENDPOINT: big.endpoint } });
      expect(pulled.code, pulled.stderr).toBe(0);
      // Not a terminal: a line per tenth of the download.
      expect(pulled.stderr.split('\n').filter((l) => BAR.test(l)).length).toBeGreaterThanOrEqual(3);
      rmSync(src, { recursive: true, force: true });
      const fill = await runLacuna(['fill', '--model', 'sedd-small-int8', '--steps', '2', '--seed', '1', '--json', 'It was {{2}} night.'], { dataDir });
      expect(fill.code, fill.stderr).toBe(0);
      expect(FillResult.parse(JSON.parse(fill.stdout))).toMatchObject({ model: 'sedd-small-int8', steps: 2 });
    } finally {
      await big.close();
    }
  }, 600_000);
});
