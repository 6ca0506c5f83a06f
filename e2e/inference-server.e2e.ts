/**
 * The inference server in the app end to end (issue 19): setting it in Models and devices (an
 * address checked before anything is sent, a write-only token, the timeout), choosing it as the fill
 * device with the warning that text leaves this computer, the editor's mark while it is the device,
 * "Check connection" and a fill against a server that does not answer (nothing listens on port 9
 * here: "Cannot reach"), and clearing it: the device is then shown as not set.
 */
import { mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import type { FillResult } from '../src-main/common/api';
import { REMOTE_WARNING, type ServerSetting } from '../src-main/common/inference-server';
import { exportForServer } from '../src-main/engine/model/server-export';
import { startKServe } from '../src-main/engine/runtime/kserve-test-server';
import { appRoot } from '../src-main/platform/paths';
import { newDocument, saved, screenshot, useApp } from './app';
import { ARTIFACTS } from './helpers';

const lacuna = useApp();
const SERVER = 'http://127.0.0.1:9';

async function openManager(page: Page): Promise<{ dialog: Locator; server: Locator }> {
  await page.keyboard.press('Control+Shift+KeyM');
  return managerOpened(page);
}

/** Models and devices once open (by its shortcut, or from the fill settings' warning), and its Inference server section. */
async function managerOpened(page: Page): Promise<{ dialog: Locator; server: Locator }> {
  const dialog = page.getByRole('dialog', { name: 'Models and devices' });
  await dialog.waitFor();
  const server = dialog.getByRole('region', { name: 'Inference server' });
  await server.waitFor();
  return { dialog, server };
}

async function openSettings(page: Page): Promise<Locator> {
  await page.keyboard.press('Control+Comma');
  const dialog = page.getByRole('dialog', { name: 'Fill settings' });
  await dialog.waitFor();
  return dialog;
}

/** A screenshot of one part of the page, in e2e/artifacts/. */
async function shoot(part: Locator, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  // Centred, so that a dialog's header does not cover its top.
  await part.evaluate((e) => e.scrollIntoView({ block: 'center' }));
  await part.screenshot({ path: join(ARTIFACTS, `${name}.png`) });
}

async function close(page: Page, dialog: Locator): Promise<void> {
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'hidden' });
}

describe('inference server', () => {
  it('is set, chosen with a warning, marked in the editor, checked, and cleared', async () => {
    const { page, problems } = await lacuna.open();
    const setRequests: unknown[] = [];
    page.on('request', (r) => {
      if (r.url().endsWith('/api/engine.setServer')) setRequests.push(r.postDataJSON());
    });
    await newDocument(page, 'Far away');
    await page.keyboard.type('The lamp ____ all night.');
    await saved(page);
    // Off out of the box: no mark in the editor.
    const mark = page.getByRole('button', { name: /^Fills (run|are set to run) on / });
    expect(await mark.count()).toBe(0);

    let { dialog, server } = await openManager(page);
    const state = server.getByRole('status', { name: 'Inference server setting' });
    await state.filter({ hasText: /Not set: the Inference server device is off/ }).waitFor();
    expect(await server.getByText(REMOTE_WARNING, { exact: true }).count()).toBe(1);
    const address = server.getByRole('textbox', { name: 'Server address' });
    const token = server.getByLabel('Token', { exact: true });
    expect(await token.getAttribute('type')).toBe('password');
    expect(await server.getByRole('button', { name: 'Stop using a server' }).count()).toBe(0);

    // A bad address: parseServerUrl's words, the field marked, nothing sent or saved.
    await address.fill('ftp://x');
    await server.getByRole('button', { name: 'Save', exact: true }).click();
    await server.getByRole('alert').filter({ hasText: 'The inference server must be reached over http or https, not ftp.' }).waitFor();
    expect(await address.getAttribute('aria-invalid')).toBe('true');
    expect(await page.evaluate('document.activeElement?.getAttribute("type")')).toBe('url');
    expect(setRequests).toEqual([]);
    expect((await lacuna.call<ServerSetting>('engine.server')).url).toBeNull();
    // A timeout out of range, likewise.
    await address.fill(SERVER);
    await server.getByRole('spinbutton', { name: 'Timeout' }).fill('0');
    await server.getByRole('button', { name: 'Save', exact: true }).click();
    await server.getByRole('alert').filter({ hasText: 'The timeout is a whole number of seconds from 1 to 600.' }).waitFor();
    expect(setRequests).toEqual([]);

    // Saved, with a token and a timeout: shown as set; the token never comes back.
    await server.getByRole('spinbutton', { name: 'Timeout' }).fill('5');
    await token.fill('s3cret-token');
    await server.getByRole('button', { name: 'Save', exact: true }).click();
    await server
      .getByRole('status', { name: 'Inference server result' })
      .filter({ hasText: `Saved: the Inference server device runs the model on ${SERVER}.` })
      .waitFor();
    await state.filter({ hasText: `Set: ${SERVER}, with a token; each call may take up to 5 s.` }).waitFor();
    expect(setRequests).toEqual([{ url: SERVER, token: 's3cret-token', timeoutSeconds: 5 }]);
    expect(await lacuna.call<ServerSetting>('engine.server')).toEqual({ url: SERVER, hasToken: true, timeoutSeconds: 5 });
    expect(await token.inputValue()).toBe('');
    expect(await token.getAttribute('placeholder')).toBe('Saved (leave empty to keep it)');
    await server.getByText('A token is saved for this server. Leave the field empty to keep it', { exact: false }).waitFor();
    expect(await page.content()).not.toContain('s3cret-token');
    // Saving again with the field empty keeps it (no token sent).
    await server.getByRole('button', { name: 'Save', exact: true }).click();
    await expect.poll(() => setRequests.length).toBe(2);
    expect(setRequests[1]).toEqual({ url: SERVER, timeoutSeconds: 5 });
    await state.filter({ hasText: ', with a token;' }).waitFor();
    // Removed on request.
    await server.getByRole('button', { name: 'Remove the saved token' }).click();
    await state.filter({ hasText: `Set: ${SERVER}; each call may take up to 5 s.` }).waitFor();
    expect(await lacuna.call<ServerSetting>('engine.server')).toEqual({ url: SERVER, hasToken: false, timeoutSeconds: 5 });
    await shoot(server, 'inference-server-section');

    // Check connection: nothing listens there, said in the writer's words (after the client's retries).
    await server.getByRole('button', { name: 'Check connection' }).click();
    const failed = server.getByRole('alert', { name: 'Connection check failed' });
    await failed.waitFor({ timeout: 60_000 });
    expect(await failed.textContent()).toMatch(/^Could not connect: Cannot reach the inference server 127\.0\.0\.1:9/);
    await shoot(server, 'inference-server-check');
    await close(page, dialog);

    // The device, in the fill settings: named with its host; the warning and the address shown while chosen.
    let settings = await openSettings(page);
    const device = settings.getByRole('combobox', { name: 'Device' });
    const remoteOption = device.locator('option[value="remote"]');
    expect(await remoteOption.textContent()).toBe('Inference server (127.0.0.1:9)');
    expect(await remoteOption.isDisabled()).toBe(false);
    const warning = settings.getByRole('note', { name: 'Text leaves this computer' });
    expect(await warning.count()).toBe(0);
    await device.selectOption('remote');
    await warning.waitFor();
    expect(await warning.getByText(REMOTE_WARNING, { exact: true }).isVisible()).toBe(true);
    expect(await warning.textContent()).toContain(`Server: ${SERVER}.`);
    await shoot(settings.getByRole('group', { name: 'Device and model' }), 'inference-server-warning');
    await settings.getByRole('button', { name: 'Save settings' }).click();
    await settings.waitFor({ state: 'hidden' });

    // The editor says where the fills run, without opening anything.
    await mark.filter({ hasText: 'Fills run on 127.0.0.1:9 — text leaves this computer' }).waitFor();
    await screenshot(page, 'inference-server-editor');
    // A fill there fails clearly, and the blank stays as it was.
    const alert = page.locator('.alerts').getByText(/^Could not fill the blanks: Cannot reach the inference server 127\.0\.0\.1:9/);
    await page.getByRole('textbox', { name: 'Text', exact: true }).focus();
    await page.keyboard.press('Control+Enter');
    await alert.waitFor({ timeout: 60_000 });
    await page.getByRole('status', { name: 'Fill status' }).filter({ hasText: 'Fill failed.' }).waitFor();

    // The mark opens the fill settings (where the device is changed).
    await mark.click();
    settings = page.getByRole('dialog', { name: 'Fill settings' });
    await settings.waitFor();
    await close(page, settings);

    // Cleared: the device is off, and shown as not set.
    ({ dialog, server } = await openManager(page));
    await server.getByRole('button', { name: 'Stop using a server' }).click();
    await state.filter({ hasText: /Not set: the Inference server device is off/ }).waitFor();
    await server
      .getByRole('status', { name: 'Inference server result' })
      .filter({ hasText: /No server is set: .* Fills set to run on it will fail until you set a server or choose another device/ })
      .waitFor();
    expect(await address.inputValue()).toBe('');
    expect((await lacuna.call<ServerSetting>('engine.server')).url).toBeNull();
    await close(page, dialog);
    await mark.filter({ hasText: 'Fills are set to run on an inference server, but none is set' }).waitFor();

    settings = await openSettings(page);
    // Still the value (so it is shown and can be changed), but named "not set", and the warning says so.
    expect(await device.inputValue()).toBe('remote');
    expect(await remoteOption.textContent()).toBe('Inference server — not set');
    expect(await remoteOption.isDisabled()).toBe(false);
    await warning.filter({ hasText: 'No inference server is set: fills on this device will fail until you set one.' }).waitFor();
    await shoot(settings.getByRole('group', { name: 'Device and model' }), 'inference-server-not-set');
    // "Set a server…" opens Models and devices over the form, at its Inference server section; Esc comes back.
    await warning.getByRole('button', { name: 'Set a server…' }).click();
    ({ dialog, server } = await managerOpened(page));
    await server
      .getByRole('status', { name: 'Inference server setting' })
      .filter({ hasText: /Not set:/ })
      .waitFor();
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    expect(await settings.isVisible()).toBe(true);
    expect(await page.evaluate('document.activeElement?.textContent')).toBe('Set a server…');
    // Another device: the warning goes, and the unset server cannot be chosen again.
    await device.selectOption('auto');
    await warning.waitFor({ state: 'detached' });
    expect(await remoteOption.isDisabled()).toBe(true);
    await settings.getByRole('button', { name: 'Save settings' }).click();
    await settings.waitFor({ state: 'hidden' });
    expect(await mark.count()).toBe(0);

    // The only problems are the calls that were meant to fail (the check and the fill), and the fill's alert, logged.
    expect(problems.filter((p) => !/Failed to load resource: .* 502|^console error: Could not fill the blanks ApiError: Cannot reach/.test(p))).toEqual([]);
  });

  it('checks the connection to a real KServe server, and fills there through the engine process as on the CPU', async () => {
    const repo = await mkdtemp(join(tmpdir(), 'lacuna-e2e-kserve-'));
    await exportForServer(join(appRoot(), 'models', 'lacuna-mini'), repo);
    const kserve = await startKServe(repo);
    try {
      await lacuna.call('engine.setServer', { url: kserve.url, timeoutSeconds: 30 });
      // Web mode runs the engine in its own process: the job crosses it with the server.
      const text = 'The lamp {{10}} all night, and the sea ____.';
      const local = await lacuna.call<FillResult>('fill.run', { text, seed: 21, steps: 24, device: 'cpu' });
      const there = await lacuna.call<FillResult>('fill.run', { text, seed: 21, steps: 24, device: 'remote' });
      expect(there.device).toBe(`remote:${kserve.url}`);
      expect(there.alternatives).toEqual(local.alternatives);
      expect(there.text).toBe(local.text);

      const { page } = await lacuna.open();
      const { dialog, server } = await openManager(page);
      await server.getByRole('button', { name: 'Check connection' }).click();
      const checked = server.getByRole('status', { name: 'Connection check' });
      await expect
        .poll(async () => (await checked.textContent())?.trim(), { timeout: 30_000 })
        .toMatch(new RegExp(`^Connected to ${kserve.url.replace(/[.:/]/g, '\\$&')}: it runs “Lacuna mini 2” \\(lacuna-mini\\), \\d+ ms\\.$`));
      await shoot(server, 'inference-server-connected');
      await close(page, dialog);
    } finally {
      await lacuna.call('engine.setServer', { url: null });
      await kserve.kill();
      await rm(repo, { recursive: true, force: true });
    }
  });

  it('looks right in the dark', async () => {
    await lacuna.call('engine.setServer', { url: 'https://gpu-box.example:8443/triton', token: 'dark-token' });
    try {
      const { page, problems } = await lacuna.open({ colorScheme: 'dark' });
      await newDocument(page, 'Dark');
      const { dialog, server } = await openManager(page);
      await server
        .getByRole('status', { name: 'Inference server setting' })
        .filter({ hasText: 'Set: https://gpu-box.example:8443/triton, with a token' })
        .waitFor();
      expect(await server.getByRole('textbox', { name: 'Server address' }).inputValue()).toBe('https://gpu-box.example:8443/triton');
      await shoot(server, 'inference-server-section-dark');
      await close(page, dialog);
      const settings = await openSettings(page);
      await settings.getByRole('combobox', { name: 'Device' }).selectOption('remote');
      await settings.getByRole('note', { name: 'Text leaves this computer' }).filter({ hasText: 'Server: https://gpu-box.example:8443/triton.' }).waitFor();
      await shoot(settings.getByRole('group', { name: 'Device and model' }), 'inference-server-warning-dark');
      await settings.getByRole('button', { name: 'Save settings' }).click();
      await settings.waitFor({ state: 'hidden' });
      await page.getByRole('button', { name: 'Fills run on gpu-box.example:8443 — text leaves this computer' }).waitFor();
      await screenshot(page, 'inference-server-editor-dark');
      // Nothing was sent to the server: no call failed.
      expect(problems).toEqual([]);
    } finally {
      await lacuna.call('engine.setServer', { url: null });
    }
  });
});
