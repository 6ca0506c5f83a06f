/**
 * The model manager end to end (issue 6): the installed models with their kind, size, files and
 * sha256, the default marked; "Re-verify"; this machine's devices with the reason a GPU is not
 * available; importing a checkpoint folder through the path field (web mode) in fp32 and fp16, with
 * the progress and a clear error; removing an imported model after a confirmation.
 *
 * Web mode finds graph templates in `<dataDir>/models/templates/`: the test puts the import
 * fixture's there (as src-main/cli/cli-models.test.ts does) and imports its checkpoint.
 */
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import type { ModelInfo } from '../src-main/common/api';
import { screenshot, useApp } from './app';
import { ROOT } from './helpers';

const FIXTURE = join(ROOT, 'models', 'tests', 'import-fixture');

const lacuna = useApp({
  webMode: { prepare: (dir) => cpSync(join(FIXTURE, 'templates'), join(dir, 'models', 'templates'), { recursive: true }) },
});

async function openManager(colorScheme: 'light' | 'dark'): Promise<{ page: Page; problems: string[] }> {
  const app = await lacuna.open({ colorScheme });
  await app.page.keyboard.press('Control+Shift+KeyM');
  await app.page.getByRole('dialog', { name: 'Models and devices' }).waitFor();
  return app;
}

/** A model's card, named "Name (id)". */
const modelCard = (page: Page, m: { name: string; id: string }) =>
  page.getByRole('dialog', { name: 'Models and devices' }).getByRole('article', { name: `${m.name} (${m.id})`, exact: true });

describe('model manager', () => {
  it('shows the installed models, re-verifies them, lists the devices, imports and removes a model', async () => {
    const { page, problems } = await openManager('light');
    const dialog = page.getByRole('dialog', { name: 'Models and devices' });
    const before = await lacuna.call<ModelInfo[]>('models.list');
    const bundled = before.find((m) => m.isDefault);
    expect(bundled).toMatchObject({ id: 'lacuna-mini', removable: false, timeConditioned: false });
    expect(before.every((m) => !m.removable)).toBe(true);
    const ids = before.map((m) => m.id);

    // The bundled default model: kind, default mark, files with their sha256.
    const card = modelCard(page, bundled!);
    await card.waitFor();
    expect(await card.getByText('Default', { exact: true }).count()).toBe(1);
    expect(await card.getByText('Bundled', { exact: true }).count()).toBe(1);
    expect(await card.getByText(/^Time-independent/).count()).toBe(1);
    // Its fill defaults, as the manifest recommends them.
    expect(await card.getByText(`${bundled!.defaultSteps} steps, temperature ${bundled!.defaultTemperature}`, { exact: true }).count()).toBe(1);
    // The checksums are behind a Details toggle.
    const table = card.getByRole('table', { name: 'Files' });
    expect(await table.isVisible()).toBe(false);
    await card.getByText('Files and checksums (SHA-256)', { exact: true }).click();
    await table.waitFor();
    for (const f of bundled!.files) {
      const row = table.getByRole('row', { name: new RegExp(`^${f.name.replace('.', '\\.')}`) });
      expect(await row.getByRole('cell').nth(1).textContent()).toBe(f.sha256);
    }
    expect(await card.getByRole('button', { name: /^Remove/ }).count()).toBe(0); // bundled models stay
    expect(await dialog.getByText('Default', { exact: true }).count()).toBe(1);
    // A time-conditioned one says so.
    const conditioned = before.find((m) => m.timeConditioned);
    expect(conditioned).toBeDefined();
    expect(
      await modelCard(page, conditioned!)
        .getByText(/^Time-conditioned/)
        .count(),
    ).toBe(1);
    // A model whose sampler takes no temperature says it is fixed.
    const fixed = before.find((m) => !m.temperatureSupported);
    expect(fixed).toBeDefined();
    expect(await modelCard(page, fixed!).getByText(`${fixed!.defaultSteps} steps, temperature 1 (fixed)`, { exact: true }).count()).toBe(1);

    await card.getByRole('button', { name: 'Re-verify' }).click();
    await card
      .getByRole('status', { name: `Verification of ${bundled!.id}` })
      .filter({ hasText: /^Verified: 2 files \(.+\) match their sha256\.$/ })
      .waitFor();

    // Devices: the CPU is there, and each device says why it is not available.
    const devices = await lacuna.call<{ id: string; available: boolean; detail: string }[]>('engine.devices');
    const deviceList = dialog.getByRole('list', { name: 'Devices' });
    await deviceList.waitFor();
    const items = await deviceList.getByRole('listitem').allTextContents();
    expect(items).toHaveLength(devices.length);
    for (const d of devices) {
      const line = items.find((t) => t.includes(d.detail));
      expect(line, `device ${d.id}`).toBeDefined();
      expect(line).toContain(d.available ? 'available' : 'not available on this computer');
    }
    // An unavailable device's reason (inference-library text) is shown only behind Details.
    const unavailable = devices.find((d) => !d.available);
    if (unavailable) {
      const item = deviceList.getByRole('listitem').filter({ hasText: unavailable.detail });
      expect(await item.getByText(unavailable.detail).isVisible()).toBe(false);
      await item.getByText('Details', { exact: true }).click();
      await item.getByText(unavailable.detail).waitFor();
    }

    // A folder that is no checkpoint: a clear error, nothing imported.
    const folder = dialog.getByRole('textbox', { name: 'Checkpoint folder' });
    await folder.fill(join(FIXTURE, 'no-such-folder'));
    await dialog.getByRole('button', { name: 'Import model', exact: true }).click();
    const error = dialog.getByRole('alert').filter({ hasText: /^Could not import: / });
    await error.waitFor();
    expect(await lacuna.call<unknown[]>('models.list')).toHaveLength(before.length);

    // This computer's default through the path field: no GPU here, so int8 (precision.ts).
    let importRequest: unknown;
    page.on('request', (r) => {
      if (r.url().endsWith('/api/models.import')) importRequest = r.postDataJSON();
    });
    expect(await dialog.getByRole('radio', { name: /^int8/ }).isChecked()).toBe(true);
    await folder.fill(join(FIXTURE, 'checkpoint'));
    await dialog.getByRole('button', { name: 'Import model', exact: true }).click();
    const result = dialog.getByRole('status', { name: 'Import result' });
    await result.filter({ hasText: /^Imported “SEDD official-like-tiny \(int8\)” \(sedd-official-like-tiny-int8, .+\)\.$/ }).waitFor({ timeout: 120_000 });
    expect(importRequest).toEqual({ dir: join(FIXTURE, 'checkpoint'), precision: 'int8' });

    // fp32 when asked.
    await dialog.getByRole('radio', { name: /^fp32/ }).check();
    await folder.fill(join(FIXTURE, 'checkpoint'));
    await dialog.getByRole('button', { name: 'Import model', exact: true }).click();
    await result.filter({ hasText: /^Imported “SEDD official-like-tiny” \(sedd-official-like-tiny, .+\)\.$/ }).waitFor({ timeout: 120_000 });
    expect(importRequest).toEqual({ dir: join(FIXTURE, 'checkpoint'), precision: 'fp32' });
    expect(await error.count()).toBe(0);
    const imported = modelCard(page, { name: 'SEDD official-like-tiny', id: 'sedd-official-like-tiny' });
    await imported.waitFor();
    expect(await imported.getByText('Imported', { exact: true }).count()).toBe(1);
    expect(await imported.getByText('Default', { exact: true }).count()).toBe(0);

    // fp16: the same checkpoint as the float16 variant; busy while it runs.
    await dialog.getByRole('radio', { name: /^fp16/ }).check();
    await folder.fill(join(FIXTURE, 'checkpoint'));
    await dialog.getByRole('button', { name: 'Import model', exact: true }).click();
    await result.filter({ hasText: /\(sedd-official-like-tiny-fp16, / }).waitFor({ timeout: 120_000 });
    expect(importRequest).toEqual({ dir: join(FIXTURE, 'checkpoint'), precision: 'fp16' });
    const list = await lacuna.call<ModelInfo[]>('models.list');
    expect(list.map((m) => m.id).sort()).toEqual([...ids, 'sedd-official-like-tiny', 'sedd-official-like-tiny-fp16', 'sedd-official-like-tiny-int8'].sort());
    expect(await dialog.getByRole('region', { name: 'Installed models' }).getByRole('article').count()).toBe(before.length + 3);
    await imported.getByRole('button', { name: 'Re-verify' }).click();
    await imported
      .getByRole('status')
      .filter({ hasText: /^Verified: / })
      .waitFor();
    await screenshot(page, 'models-light');

    // Remove asks first; "Keep it" keeps it.
    await imported.getByRole('button', { name: 'Remove…' }).click();
    const confirm = page.getByRole('alertdialog', { name: 'Remove the model?' });
    await confirm.waitFor();
    await confirm.getByRole('button', { name: 'Keep it' }).click();
    await confirm.waitFor({ state: 'hidden' });
    expect(await lacuna.call<unknown[]>('models.list')).toHaveLength(before.length + 3);
    await imported.getByRole('button', { name: 'Remove…' }).click();
    await confirm.getByRole('button', { name: 'Remove', exact: true }).click();
    await dialog.getByRole('status').filter({ hasText: 'Removed “SEDD official-like-tiny” (sedd-official-like-tiny).' }).waitFor();
    await imported.waitFor({ state: 'detached' });
    expect((await lacuna.call<ModelInfo[]>('models.list')).map((m) => m.id).sort()).toEqual(
      [...ids, 'sedd-official-like-tiny-fp16', 'sedd-official-like-tiny-int8'].sort(),
    );
    // The dialog still has the focus (the confirmation gave it back).
    expect(await page.evaluate('!!document.activeElement?.closest("dialog")')).toBe(true);

    // The built-in model gets its int8 copy in one click; the int8 and fp16 packages offer none.
    const fp16Card = modelCard(page, { name: 'SEDD official-like-tiny', id: 'sedd-official-like-tiny-fp16' });
    expect(await fp16Card.getByRole('button', { name: /^Make an int8 copy/ }).count()).toBe(0);
    const mini = (await lacuna.call<ModelInfo[]>('models.list')).find((m) => m.id === 'lacuna-mini')!;
    await modelCard(page, mini)
      .getByRole('button', { name: /^Make an int8 copy/ })
      .click();
    await dialog
      .getByRole('status')
      .filter({ hasText: /^Made “Lacuna mini 2 \(int8\)” \(lacuna-mini-int8, .+\): choose it in Fill settings/ })
      .waitFor({ timeout: 60_000 });
    await modelCard(page, { name: 'Lacuna mini 2 (int8)', id: 'lacuna-mini-int8' }).waitFor();
    expect(
      await modelCard(page, mini)
        .getByRole('button', { name: /^Make an int8 copy/ })
        .count(),
    ).toBe(0);
    expect(problems.filter((p) => !/Failed to load resource: .* (400|404|422|500)/.test(p))).toEqual([]);
  });

  it('looks right in the dark', async () => {
    const { page, problems } = await openManager('dark');
    const fp16 = (await lacuna.call<ModelInfo[]>('models.list')).find((m) => m.id === 'sedd-official-like-tiny-fp16');
    await modelCard(page, fp16!).waitFor();
    await screenshot(page, 'models-dark');
    expect(problems).toEqual([]);
  });
});
