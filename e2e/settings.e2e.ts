/**
 * Fill settings end to end (issue 6): quality presets and exact steps, a fixed or random seed,
 * alternatives, exact or fast sampling, the device (why a GPU is unavailable; the fill's notes when
 * the chosen device was passed over), the model, the temperature (the model's recommended value,
 * sent as none, or the writer's), word choice, surest words first and the auto blanks' length lean
 * (likewise), all passed to fill.run; the writer's defaults persist, and a
 * document may have its own, kept with it across a reload.
 */
import type { Page, Response } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { focusedLabel, newDocument, saved, screenshot, useApp } from './app';

const lacuna = useApp();

interface FillRun {
  request: Record<string, unknown>;
  result: { alternatives: unknown[]; device: string; deviceNotes?: string[]; temperature: number; topP?: number; unmasking?: string; generationId?: number };
}

interface ModelListing {
  id: string;
  name: string;
  isDefault: boolean;
  defaultTemperature: number;
  defaultTopP: number;
  defaultUnmasking: string;
  temperatureSupported: boolean;
}

function nextFill(page: Page): Promise<FillRun> {
  return page
    .waitForResponse((r: Response) => r.url().endsWith('/api/fill.run'), { timeout: 150_000 })
    .then(async (r) => {
      const body = (await r.json()) as { ok: boolean; result: FillRun['result'] };
      expect(body.ok).toBe(true);
      return { request: r.request().postDataJSON() as Record<string, unknown>, result: body.result };
    });
}

const settingsButton = (page: Page) => page.getByRole('button', { name: /^Fill settings: / });

async function openSettings(page: Page): Promise<ReturnType<Page['getByRole']>> {
  await page.keyboard.press('Control+Comma');
  const dialog = page.getByRole('dialog', { name: 'Fill settings' });
  await dialog.waitFor();
  return dialog;
}

describe('fill settings', () => {
  it('passes the defaults to every fill, and a document’s own settings to its fills, across a reload', async () => {
    const { page, problems } = await lacuna.open();
    await newDocument(page, 'Own settings');
    await page.keyboard.type('Before ____ after.');
    await saved(page);
    // Out of the box: Balanced, three alternatives.
    expect(await settingsButton(page).getAttribute('aria-label')).toBe('Fill settings: Balanced (64 steps), 3 alternatives');

    // A device this computer cannot use (CUDA, DirectML or Core ML on a machine without them).
    const devices = await lacuna.call<{ id: string; available: boolean; detail: string }[]>('engine.devices');
    const unusable = ['cuda', 'dml', 'coreml'].find((id) => !devices.some((d) => d.id === id && d.available))!;
    expect(unusable).toBeDefined();

    let dialog = await openSettings(page);
    expect(await dialog.getByRole('radio', { name: 'All documents (defaults)' }).isChecked()).toBe(true);
    await dialog.getByRole('radio', { name: /^Quick/ }).check();
    expect(await dialog.getByRole('spinbutton', { name: 'Exact steps' }).inputValue()).toBe('16');
    await dialog.getByRole('radio', { name: /^Fixed/ }).check();
    await dialog.getByRole('spinbutton', { name: 'Fixed seed' }).fill('7');
    await dialog.getByRole('spinbutton', { name: 'Alternatives per fill' }).fill('2');
    await dialog.getByRole('radio', { name: /^Fast/ }).check();
    await dialog.getByRole('combobox', { name: 'Device' }).selectOption(unusable);
    const availability = dialog.getByRole('status', { name: 'Device availability' });
    const listed = devices.find((d) => d.id === unusable);
    await availability.filter({ hasText: /^\s*Not available on this computer\. Fills will run on the CPU instead\./ }).waitFor();
    if (listed) {
      // The reason, in the inference library's words, only behind Details.
      expect(await availability.textContent()).toContain(listed.detail);
      expect(await availability.getByText(listed.detail).isVisible()).toBe(false);
      await availability.getByText('Details', { exact: true }).click();
      await availability.getByText(listed.detail).waitFor();
    }
    await dialog.getByRole('combobox', { name: 'Model' }).selectOption('tiny-fixture');
    await screenshot(page, 'settings-light');
    await dialog.getByRole('button', { name: 'Save settings' }).click();
    await dialog.waitFor({ state: 'hidden' });
    expect(await focusedLabel(page)).toBe('Text');
    expect(await settingsButton(page).getAttribute('aria-label')).toBe('Fill settings: Quick (16 steps), 2 alternatives');

    let answer = nextFill(page);
    await page.keyboard.press('Control+Enter');
    let run = await answer;
    expect(run.request).toMatchObject({ steps: 16, seed: 7, alternatives: 2, mode: 'fast', device: unusable, model: 'tiny-fixture' });
    expect(run.request.temperature).toBeUndefined(); // the model's default: none sent
    expect(run.result.alternatives).toHaveLength(2);
    await page.getByRole('status', { name: 'Alternative' }).filter({ hasText: 'Alternative 1 of 2' }).waitFor();
    // The device asked for was passed over: the fill says why.
    expect(run.result.device).not.toBe(unusable);
    expect(run.result.deviceNotes?.length).toBeGreaterThan(0);
    const note = page.getByRole('status', { name: 'Device' });
    await note.filter({ hasText: /Ran on .+ instead of .+: it is not available on this computer\./ }).waitFor();
    // The engine's own words (inference-library, CUDA text) only behind Details.
    const reasons = run.result.deviceNotes!.join('; ');
    expect(await note.getByText(reasons).isVisible()).toBe(false);
    await note.getByText('Details', { exact: true }).click();
    await note.getByText(reasons).waitFor();
    await page.getByRole('textbox', { name: 'Text', exact: true }).focus(); // back to the text (its caret kept)

    // This document's own: Best, four alternatives, 64 tokens read around the blanks, random seed, on the CPU.
    dialog = await openSettings(page);
    await dialog.getByRole('radio', { name: /^This document only/ }).check();
    await dialog.getByRole('radio', { name: /^Best/ }).check();
    await dialog.getByRole('spinbutton', { name: 'Alternatives per fill' }).fill('4');
    await dialog.getByRole('spinbutton', { name: 'Tokens read around the blanks' }).fill('64');
    await dialog.getByRole('radio', { name: 'Random each time' }).check();
    await dialog.getByRole('combobox', { name: 'Device' }).selectOption('cpu');
    await dialog.getByRole('button', { name: 'Save settings' }).click();
    await dialog.waitFor({ state: 'hidden' });
    expect(await settingsButton(page).getAttribute('aria-label')).toBe('Fill settings: Best (256 steps), 4 alternatives, this document’s own');
    answer = nextFill(page);
    await page.keyboard.press('Alt+KeyR'); // regenerate the filled blank at the cursor
    run = await answer;
    expect(run.request).toMatchObject({ steps: 256, alternatives: 4, mode: 'fast', context: 64, device: 'cpu', model: 'tiny-fixture' });
    expect(run.request.seed).toBeUndefined();
    await page.getByRole('status', { name: 'Alternative' }).filter({ hasText: 'Alternative 1 of 4' }).waitFor();
    await saved(page);
    const list = await lacuna.call<{ id: string; title: string }[]>('documents.list');
    const stored = await lacuna.call<{ richText?: string }>('documents.open', { id: list.find((d) => d.title === 'Own settings')!.id });
    expect((JSON.parse(stored.richText!) as { attrs: { fillSettings: unknown } }).attrs.fillSettings).toEqual({
      steps: 256,
      seed: null,
      alternatives: 4,
      mode: 'fast',
      context: 64,
      device: 'cpu',
      model: 'tiny-fixture',
      temperature: null,
      topP: null,
      unmasking: null,
      lengthBias: 0,
    });

    // After a reload: this document keeps its own, a new one has the defaults.
    await page.reload();
    await page
      .getByRole('navigation', { name: 'Documents' })
      .getByRole('button', { name: /^Own settings/ })
      .click();
    await expect.poll(() => settingsButton(page).getAttribute('aria-label')).toBe('Fill settings: Best (256 steps), 4 alternatives, this document’s own');
    dialog = await openSettings(page);
    expect(await dialog.getByRole('radio', { name: /^This document only/ }).isChecked()).toBe(true);
    expect(await dialog.getByRole('spinbutton', { name: 'Exact steps' }).inputValue()).toBe('256');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    await newDocument(page, 'Uses defaults');
    expect(await settingsButton(page).getAttribute('aria-label')).toBe('Fill settings: Quick (16 steps), 2 alternatives');

    // Back to the defaults for the first one.
    await page
      .getByRole('navigation', { name: 'Documents' })
      .getByRole('button', { name: /^Own settings/ })
      .click();
    await expect.poll(() => settingsButton(page).getAttribute('aria-label')).toContain('this document’s own');
    dialog = await openSettings(page);
    await dialog.getByRole('button', { name: 'Use the defaults for it' }).click();
    await dialog.getByRole('status').filter({ hasText: 'This document now uses the defaults.' }).waitFor();
    await page.keyboard.press('Escape');
    expect(await settingsButton(page).getAttribute('aria-label')).toBe('Fill settings: Quick (16 steps), 2 alternatives');
    // Chromium logs a 4xx for nothing here; any console error is a problem.
    expect(problems).toEqual([]);
  });

  it('sends a chosen temperature to fill.run, none for the model default, and none to a model that takes none', async () => {
    const { page, problems } = await lacuna.open();
    const models = await lacuna.call<ModelListing[]>('models.list');
    const fixture = models.find((m) => m.id === 'tiny-fixture')!;
    const uniform = models.find((m) => m.id === 'tiny-uniform')!;
    const byDefault = models.find((m) => m.isDefault)!;
    expect(fixture.temperatureSupported).toBe(true);
    expect(uniform.temperatureSupported).toBe(false);
    await newDocument(page, 'Temperature');
    await page.keyboard.type('Before ____ after.');
    await saved(page);

    let dialog = await openSettings(page);
    const group = dialog.getByRole('group', { name: 'Temperature' });
    const spin = group.getByRole('spinbutton', { name: 'Temperature' });
    // Out of the box: the model's recommended value, shown for the model the fills run on.
    const modelDefault = (t: number) => group.getByRole('radio', { name: `Model default (${String(Math.round(t * 100) / 100)})` });
    expect(await modelDefault(byDefault.defaultTemperature).isChecked()).toBe(true);
    expect(await spin.isDisabled()).toBe(true);
    expect(await group.getAttribute('aria-describedby')).toBeTruthy();
    await dialog.getByRole('radio', { name: /^Quick/ }).check();
    await dialog.getByRole('combobox', { name: 'Model' }).selectOption('tiny-fixture');
    await modelDefault(fixture.defaultTemperature).waitFor();
    // By keyboard: the custom radio (arrow keys move within the group), then the field.
    await modelDefault(fixture.defaultTemperature).focus();
    await page.keyboard.press('ArrowDown');
    expect(await group.getByRole('radio', { name: /^Custom/ }).isChecked()).toBe(true);
    expect(await spin.isEnabled()).toBe(true);
    const start = Number(await spin.inputValue());
    expect(Math.abs(start - fixture.defaultTemperature)).toBeLessThanOrEqual(0.025); // the model's value, on the field's steps
    await spin.focus();
    await page.keyboard.press('ArrowUp');
    expect(Number(await spin.inputValue())).toBeCloseTo(Math.min(2, start + 0.05), 5);
    await spin.fill('0.6');
    await dialog.getByRole('button', { name: 'Save settings' }).click();
    await dialog.waitFor({ state: 'hidden' });
    expect(await settingsButton(page).getAttribute('aria-label')).toBe('Fill settings: Quick (16 steps), 3 alternatives, temperature 0.6');
    expect(JSON.parse((await page.evaluate('localStorage.getItem("lacuna.prefs")')) as string)).toMatchObject({ fillDefaults: { temperature: 0.6 } });

    let answer = nextFill(page);
    await page.keyboard.press('Control+Enter');
    let run = await answer;
    expect(run.request).toMatchObject({ steps: 16, model: 'tiny-fixture', temperature: 0.6 });
    expect(run.result.temperature).toBe(0.6);
    const list = await lacuna.call<{ id: string; title: string }[]>('documents.list');
    const docId = list.find((d) => d.title === 'Temperature')!.id;
    const generations = await lacuna.call<{ generationId: number; temperature: number }[]>('generations.list', { id: docId });
    expect(generations.find((g) => g.generationId === run.result.generationId)?.temperature).toBe(0.6);
    await page.getByRole('status', { name: 'Alternative' }).filter({ hasText: 'Alternative 1 of 3' }).waitFor();

    // Back to the model default: the field keeps 0.6 for later, and nothing is sent.
    dialog = await openSettings(page);
    expect(await group.getByRole('radio', { name: /^Custom/ }).isChecked()).toBe(true);
    expect(await spin.inputValue()).toBe('0.6');
    await modelDefault(fixture.defaultTemperature).check();
    expect(await spin.isDisabled()).toBe(true);
    expect(await spin.inputValue()).toBe('0.6');
    await dialog.getByRole('button', { name: 'Save settings' }).click();
    await dialog.waitFor({ state: 'hidden' });
    expect(await settingsButton(page).getAttribute('aria-label')).toBe('Fill settings: Quick (16 steps), 3 alternatives');
    answer = nextFill(page);
    await page.keyboard.press('Alt+KeyR'); // regenerate the filled blank at the cursor
    run = await answer;
    expect(run.request).toMatchObject({ steps: 16, model: 'tiny-fixture' });
    expect(run.request.temperature).toBeUndefined();
    expect(run.result.temperature).toBe(fixture.defaultTemperature);

    // A temperature out of range is refused: the dialog stays open, nothing is saved.
    dialog = await openSettings(page);
    await group.getByRole('radio', { name: /^Custom/ }).check();
    await spin.fill('2.5');
    await dialog.getByRole('button', { name: 'Save settings' }).click();
    await expect.poll(() => dialog.isVisible()).toBe(true);
    expect(await settingsButton(page).getAttribute('aria-label')).toBe('Fill settings: Quick (16 steps), 3 alternatives');

    // A model whose sampler takes no temperature: the control is off, and says why.
    await spin.fill('0.6');
    await screenshot(page, 'settings-temperature');
    await dialog.getByRole('combobox', { name: 'Model' }).selectOption(uniform.id);
    const why = dialog.getByRole('status', { name: 'Temperature availability' });
    await why.filter({ hasText: `“${uniform.name}” takes no temperature: its fills always use 1.` }).waitFor();
    expect(await modelDefault(1).isChecked()).toBe(true);
    expect(await modelDefault(1).isDisabled()).toBe(true);
    expect(await group.getByRole('radio', { name: /^Custom/ }).isDisabled()).toBe(true);
    expect(await spin.isDisabled()).toBe(true);
    await screenshot(page, 'settings-temperature-off');
    // Back on a model that takes one, the writer's choice is there again.
    await dialog.getByRole('combobox', { name: 'Model' }).selectOption('tiny-fixture');
    await why.waitFor({ state: 'hidden' }); // empty: not shown
    expect(await group.getByRole('radio', { name: /^Custom/ }).isChecked()).toBe(true);
    expect(await spin.inputValue()).toBe('0.6');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    expect(problems).toEqual([]);
  });

  it('sends word choice, surest words first and a length lean to fill.run, none for the model’s own, none to a model that takes none', async () => {
    const { page, problems } = await lacuna.open();
    const models = await lacuna.call<ModelListing[]>('models.list');
    const fixture = models.find((m) => m.id === 'tiny-fixture')!;
    const uniform = models.find((m) => m.id === 'tiny-uniform')!;
    expect(fixture).toMatchObject({ temperatureSupported: true, defaultTopP: 1, defaultUnmasking: 'random' });
    await newDocument(page, 'Word choice');
    await page.keyboard.type('Before ____ after.');
    await saved(page);

    let dialog = await openSettings(page);
    const group = dialog.getByRole('group', { name: 'Word choice' });
    const surest = group.getByRole('checkbox', { name: 'Write the surest words first' });
    const lean = dialog.getByRole('slider', { name: 'Auto blanks: shorter ↔ longer' });
    await dialog.getByRole('radio', { name: /^Quick/ }).check();
    await dialog.getByRole('combobox', { name: 'Model' }).selectOption('tiny-fixture');
    // Out of the box: the model's own (all words, random order), no lean.
    expect(await group.getByRole('radio', { name: 'Model default (Adventurous)' }).isChecked()).toBe(true);
    expect(await surest.isChecked()).toBe(false);
    expect(await lean.inputValue()).toBe('0');
    expect(await lean.getAttribute('aria-valuetext')).toBe('No lean');
    await group.getByRole('radio', { name: 'Safe', exact: true }).check();
    await surest.check();
    await lean.focus();
    await page.keyboard.press('ArrowLeft');
    await page.keyboard.press('ArrowLeft');
    expect(await lean.inputValue()).toBe('-0.5');
    expect(await lean.getAttribute('aria-valuetext')).toBe('Shorter');
    await screenshot(page, 'settings-word-choice');
    await dialog.getByRole('button', { name: 'Save settings' }).click();
    await dialog.waitFor({ state: 'hidden' });
    expect(await settingsButton(page).getAttribute('aria-label')).toBe(
      'Fill settings: Quick (16 steps), 3 alternatives, word choice Safe, surest words first, auto blanks shorter',
    );
    expect(JSON.parse((await page.evaluate('localStorage.getItem("lacuna.prefs")')) as string)).toMatchObject({
      fillDefaults: { topP: 0.8, unmasking: 'confident', lengthBias: -0.5 },
    });

    let answer = nextFill(page);
    await page.keyboard.press('Control+Enter');
    let run = await answer;
    expect(run.request).toMatchObject({ steps: 16, model: 'tiny-fixture', topP: 0.8, unmasking: 'confident', lengthBias: -0.5 });
    expect(run.result).toMatchObject({ topP: 0.8, unmasking: 'confident' });
    const list = await lacuna.call<{ id: string; title: string }[]>('documents.list');
    const docId = list.find((d) => d.title === 'Word choice')!.id;
    const generations = await lacuna.call<{ generationId: number; topP: number; unmasking: string }[]>('generations.list', { id: docId });
    expect(generations.find((g) => g.generationId === run.result.generationId)).toMatchObject({ topP: 0.8, unmasking: 'confident' });
    await page.getByRole('status', { name: 'Alternative' }).filter({ hasText: 'Alternative 1 of 3' }).waitFor();

    // Back to the model's own: nothing sent for them; the lean stays.
    dialog = await openSettings(page);
    expect(await group.getByRole('radio', { name: 'Safe', exact: true }).isChecked()).toBe(true);
    expect(await surest.isChecked()).toBe(true);
    await group.getByRole('radio', { name: 'Model default (Adventurous)' }).check();
    await surest.uncheck();
    await dialog.getByRole('button', { name: 'Save settings' }).click();
    await dialog.waitFor({ state: 'hidden' });
    expect(await settingsButton(page).getAttribute('aria-label')).toBe('Fill settings: Quick (16 steps), 3 alternatives, auto blanks shorter');
    answer = nextFill(page);
    await page.keyboard.press('Alt+KeyR'); // regenerate the filled blank at the cursor
    run = await answer;
    expect(run.request).toMatchObject({ steps: 16, model: 'tiny-fixture', lengthBias: -0.5 });
    expect('topP' in run.request || 'unmasking' in run.request).toBe(false);
    expect(run.result).toMatchObject({ topP: 1, unmasking: 'random' });

    // A model that takes no token choice: the controls are off, and say why.
    dialog = await openSettings(page);
    await dialog.getByRole('combobox', { name: 'Model' }).selectOption(uniform.id);
    await dialog
      .getByRole('status', { name: 'Word choice availability' })
      .filter({ hasText: `“${uniform.name}” has no word-choice settings` })
      .waitFor();
    expect(await surest.isDisabled()).toBe(true);
    expect(await group.getByRole('radio', { name: 'Safe', exact: true }).isDisabled()).toBe(true);
    expect(await lean.isDisabled()).toBe(true);
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    expect(problems).toEqual([]);
  });

  it('refuses values out of range, and looks right in the dark', async () => {
    const { page, problems } = await lacuna.open({ colorScheme: 'dark' });
    const dialog = await openSettings(page);
    await dialog.getByRole('spinbutton', { name: 'Alternatives per fill' }).fill('40');
    await dialog.getByRole('button', { name: 'Save settings' }).click();
    // The browser's own range check or ours: the dialog stays open and nothing is saved.
    await expect.poll(() => dialog.isVisible()).toBe(true);
    expect(await page.evaluate('localStorage.getItem("lacuna.prefs")')).toBeNull(); // a fresh browser: nothing saved
    expect(await settingsButton(page).getAttribute('aria-label')).toBe('Fill settings: Balanced (64 steps), 3 alternatives');
    await dialog.getByRole('spinbutton', { name: 'Alternatives per fill' }).fill('3');
    await screenshot(page, 'settings-dark');
    expect(problems).toEqual([]);
  });
});
