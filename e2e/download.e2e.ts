/**
 * A writer's first five minutes (issue 12), end to end in Chromium against web mode: the first-run
 * notice says the built-in model is a demo and offers a real one; Download names the host and the
 * size; the download shows its progress, is cancelled, resumes where it stopped (an HTTP Range
 * request), is verified and installed; then a blank is filled with the downloaded model.
 *
 * The Hub is a local server that behaves like it (src-main/engine/model/fake-hub.ts), started by this
 * file with HF_ENDPOINT pointing web mode at it. It serves a synthetic checkpoint in the official
 * layout as louaaron/sedd-small: a tiny network with GPT-2's vocabulary, whose graph template is
 * models/fixtures/templates/sedd-hub-tiny (reached through LACUNA_EXTRA_MODELS). The weights are
 * throttled so the progress can be watched and the download cancelled halfway.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page, Response } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import type { CatalogueEntry, FillResult } from '../src-main/common/api';
import { startFakeHub } from '../src-main/engine/model/fake-hub';
import { writeSyntheticCheckpoint, HUB_TINY_NETWORK } from '../src-main/engine/model/synthetic-checkpoint';
import { newDocument, saved, screenshot, useApp } from './app';

const HUB_TINY = HUB_TINY_NETWORK;
const REPO = 'louaaron/sedd-small';
const checkpoint = mkdtempSync(join(tmpdir(), 'lacuna-e2e-hub-'));
await writeSyntheticCheckpoint(checkpoint, { network: HUB_TINY, name: 'hub-tiny', length: 128 });
const hub = await startFakeHub({
  repos: {
    [REPO]: {
      files: {
        'config.json': { path: join(checkpoint, 'config.json') },
        // ~13 MB at 1.5 MB/s: long enough to watch and cancel.
        'model.safetensors': { path: join(checkpoint, 'model.safetensors'), fault: { throttleBytesPerSecond: 1_500_000 } },
      },
    },
  },
});
afterAll(async () => {
  await hub.close();
  rmSync(checkpoint, { recursive: true, force: true });
});

const lacuna = useApp({ webMode: { env: { HF_ENDPOINT: hub.endpoint } } });
const host = new URL(hub.endpoint).host;

const managerDialog = (page: Page) => page.getByRole('dialog', { name: 'Models and devices' });
const entryCard = (page: Page) => managerDialog(page).getByRole('article', { name: 'SEDD small (official) (sedd-small)', exact: true });

async function confirmDownload(page: Page): Promise<void> {
  const confirm = page.getByRole('dialog', { name: 'Download SEDD small (official)?' });
  await confirm.waitFor();
  // The host and the size, before anything is fetched.
  expect(await confirm.textContent()).toContain(`from ${host} (${REPO})`);
  // No GPU here: int8, the fastest on a CPU, is chosen (precision.ts defaultPrecision).
  expect(await confirm.getByRole('radio', { name: /^int8/ }).isChecked()).toBe(true);
  await confirm.getByRole('button', { name: 'Download', exact: true }).click();
  await confirm.waitFor({ state: 'hidden' });
}

describe('first run and model download', () => {
  it('offers a real model, downloads it with progress, cancels, resumes, installs, and fills with it', async () => {
    const { page, problems } = await lacuna.open();
    const seen = hub.requests.length;

    // First run: the truth about the built-in model, and the way to a real one.
    const notice = page.getByRole('region', { name: 'The built-in model is a small demo' });
    await notice.waitFor();
    expect(await notice.textContent()).toContain(`679 MB from ${host}`);
    await screenshot(page, 'first-run-light');
    // Nothing has touched the network yet.
    expect(hub.requests.length).toBe(seen);

    await notice.getByRole('button', { name: 'Download SEDD small (official)…' }).click();
    await managerDialog(page).waitFor();
    const cdnBefore = hub.requests.filter((r) => r.server === 'cdn').length;
    await confirmDownload(page);

    // Progress: bytes, rate and time left, a determinate bar.
    const card = entryCard(page);
    const state = card.getByRole('status', { name: 'Download of sedd-small' });
    const bar = card.getByRole('progressbar', { name: 'Downloading SEDD small (official)' });
    await expect.poll(async () => Number((await bar.getAttribute('value')) ?? 0), { timeout: 60_000, interval: 100 }).toBeGreaterThanOrEqual(25);
    expect(await state.textContent()).toMatch(/[\d.]+ MB of [\d.]+ MB · [\d.]+ [kM]B\/s · \d+:\d\d left/);
    await screenshot(page, 'download-progress-light');

    // Cancel: paused, what arrived is kept, nothing installed.
    await card.getByRole('button', { name: 'Cancel download' }).click();
    await state.filter({ hasText: 'Download paused. What arrived is kept: Resume continues from there.' }).waitFor();
    await state.filter({ hasText: /Paused at [\d.]+ MB of [\d.]+ MB\./ }).waitFor();
    const paused = (await lacuna.call<CatalogueEntry[]>('models.catalogue')).find((c) => c.id === 'sedd-small')!;
    expect(paused.partial!.bytesDone).toBeGreaterThan(0);
    expect(paused.installed).toEqual([]);
    expect((await lacuna.call<{ id: string }[]>('models.list')).map((m) => m.id)).not.toContain('sedd-small');

    // Resume: the weights continue from where they stopped.
    hub.setFault(REPO, 'model.safetensors', { throttleBytesPerSecond: 6_000_000 });
    await card.getByRole('button', { name: 'Resume download…' }).click();
    await confirmDownload(page);
    await state.filter({ hasText: /Installed “SEDD [^”]+” \(sedd-small-int8\)\. Your fills now use it/ }).waitFor({ timeout: 120_000 });
    const ranges = hub.requests
      .filter((r) => r.server === 'cdn')
      .slice(cdnBefore)
      .map((r) => r.range);
    expect(ranges.at(-1)).toMatch(/^bytes=[1-9]\d*-$/);
    const installed = managerDialog(page)
      .getByRole('region', { name: 'Installed models' })
      .getByRole('article', { name: /\(sedd-small-int8\)$/ });
    await installed.waitFor();
    await screenshot(page, 'download-installed-light');
    await managerDialog(page).getByRole('button', { name: 'Close' }).click();
    // With a real model installed, the notice has said what it had to.
    await notice.waitFor({ state: 'detached' });

    // The fills now use it (the writer was on the demo model): Ctrl+Enter fills with it.
    await newDocument(page, 'First fill');
    await page.keyboard.type('The lighthouse keeper ____ every night.');
    await saved(page);
    const answer = page.waitForResponse((r: Response) => r.url().endsWith('/api/fill.run'), { timeout: 120_000 });
    await page.keyboard.press('Control+Enter');
    const response = await answer;
    const body = (await response.json()) as { ok: boolean; result: FillResult };
    expect(body.ok).toBe(true);
    expect(body.result.model).toBe('sedd-small-int8');
    expect(response.request().postDataJSON()).toMatchObject({ model: 'sedd-small-int8' });
    await page
      .getByRole('status')
      .filter({ hasText: /^Filled 1 blank\./ })
      .first()
      .waitFor();
    // The one failed request is the cancelled download (409).
    expect(problems.filter((p) => !/Failed to load resource: .* 409/.test(p))).toEqual([]);
  });

  it('dismisses the notice for good with “Not now”', async () => {
    const { page } = await lacuna.open();
    // The notice shows only while nothing from the catalogue is installed.
    const installed = await lacuna.call<{ id: string }[]>('models.list');
    for (const m of installed) if (m.id.startsWith('sedd-small')) await lacuna.call('models.remove', { id: m.id });
    await page.reload();
    const notice = page.getByRole('region', { name: 'The built-in model is a small demo' });
    await notice.waitFor();
    await notice.getByRole('button', { name: 'Not now' }).click();
    await notice.waitFor({ state: 'detached' });
    await page.reload();
    await page.getByRole('button', { name: 'New document', exact: true }).waitFor();
    await page.waitForTimeout(500);
    expect(await notice.count()).toBe(0);
  });
});
