/** Fill settings: what is read back from storage, and what a fill asks the core for. */
import { describe, expect, it } from 'vitest';
import type { ModelInfo } from '../../../src-main/common/api';
import {
  DEFAULT_FILL_SETTINGS,
  describeSettings,
  effectiveModel,
  fillOptions,
  fillSettingsOrDefaults,
  formatTemperature,
  readFillSettings,
  stepPreset,
  type FillSettings,
} from './fill-settings';

const model = (id: string, over: Partial<ModelInfo> = {}): ModelInfo => ({
  id,
  name: id,
  description: '',
  dir: `/models/${id}`,
  isDefault: id === 'tiny-fixture',
  vocabSize: 512,
  length: 128,
  graph: 'absorb',
  noise: 'loglinear',
  timeConditioned: true,
  defaultSteps: 64,
  defaultTemperature: 1,
  temperatureSupported: true,
  bytes: 1,
  files: [],
  removable: false,
  demo: false,
  ...over,
});

/** Settings as versions before the temperature kept them (preferences and documents alike). */
const beforeTemperature = { steps: 16, seed: 7, alternatives: 2, mode: 'fast', device: 'cpu', model: 'sedd-small' };

describe('fill settings', () => {
  it('reads only valid settings back, and fills in the defaults for partial ones', () => {
    expect(readFillSettings({ ...DEFAULT_FILL_SETTINGS })).toEqual(DEFAULT_FILL_SETTINGS);
    expect(readFillSettings({ ...DEFAULT_FILL_SETTINGS, steps: 0 })).toBeNull();
    expect(readFillSettings({ ...DEFAULT_FILL_SETTINGS, device: 'tpu' })).toBeNull();
    expect(readFillSettings('64')).toBeNull();
    expect(fillSettingsOrDefaults({ steps: 16, alternatives: 99, mode: 'fast', extra: true })).toEqual({ ...DEFAULT_FILL_SETTINGS, steps: 16, mode: 'fast' });
    expect(fillSettingsOrDefaults(null)).toEqual(DEFAULT_FILL_SETTINGS);
  });

  it('says what it asks for, with presets by name', () => {
    expect(stepPreset(256)?.label).toBe('Best');
    expect(stepPreset(100)).toBeUndefined();
    expect(describeSettings(DEFAULT_FILL_SETTINGS)).toBe('Balanced (64 steps), 3 alternatives');
    expect(describeSettings({ ...DEFAULT_FILL_SETTINGS, steps: 100, alternatives: 1 })).toBe('100 steps, 1 alternative');
  });

  it('passes steps, seed, alternatives, mode, device and an installed model to fill.run', () => {
    const s: FillSettings = { steps: 16, seed: 7, alternatives: 2, mode: 'fast', device: 'cpu', model: 'sedd-small', temperature: null };
    expect(fillOptions(s, [model('tiny-fixture'), model('sedd-small')])).toEqual({
      options: { steps: 16, seed: 7, alternatives: 2, mode: 'fast', device: 'cpu', model: 'sedd-small' },
      skippedModel: null,
    });
    // A random seed is left out (the core draws one); a model that is gone is skipped and said.
    expect(fillOptions({ ...s, seed: null }, [model('tiny-fixture')])).toEqual({
      options: { steps: 16, alternatives: 2, mode: 'fast', device: 'cpu' },
      skippedModel: 'sedd-small',
    });
    // The list not loaded yet: the model is asked for as it is.
    expect(fillOptions(s, null).options.model).toBe('sedd-small');
    expect(fillOptions(DEFAULT_FILL_SETTINGS, null).options).toEqual({ steps: 64, alternatives: 3, mode: 'exact', device: 'auto' });
  });

  it('defaults the temperature to the model’s (null), also for settings kept before it existed', () => {
    expect(DEFAULT_FILL_SETTINGS.temperature).toBeNull();
    // Documents' own settings (readFillSettings) and the preferences (fillSettingsOrDefaults) alike.
    expect(readFillSettings(beforeTemperature)).toEqual({ ...beforeTemperature, temperature: null });
    expect(fillSettingsOrDefaults(beforeTemperature)).toEqual({ ...beforeTemperature, temperature: null });
    expect(readFillSettings({ ...beforeTemperature, temperature: 0.7 })).toEqual({ ...beforeTemperature, temperature: 0.7 });
    expect(fillSettingsOrDefaults({ ...beforeTemperature, temperature: 1.5 }).temperature).toBe(1.5);
    expect(readFillSettings({ ...beforeTemperature, temperature: null })?.temperature).toBeNull();
  });

  it('keeps the temperature within 0.1–2', () => {
    for (const t of [0.1, 0.7, 1, 2]) expect(readFillSettings({ ...DEFAULT_FILL_SETTINGS, temperature: t })?.temperature).toBe(t);
    for (const t of [0, 0.09, 2.01, -1, Number.NaN, Infinity, '0.7', true]) {
      expect(readFillSettings({ ...DEFAULT_FILL_SETTINGS, temperature: t })).toBeNull();
      // The preferences keep their other fields; a bad temperature falls back to the model's.
      expect(fillSettingsOrDefaults({ ...DEFAULT_FILL_SETTINGS, steps: 16, temperature: t })).toEqual({ ...DEFAULT_FILL_SETTINGS, steps: 16 });
    }
  });

  it('says a chosen temperature in the description only', () => {
    expect(describeSettings({ ...DEFAULT_FILL_SETTINGS, temperature: 0.8 })).toBe('Balanced (64 steps), 3 alternatives, temperature 0.8');
    expect(describeSettings({ ...DEFAULT_FILL_SETTINGS, temperature: null })).toBe('Balanced (64 steps), 3 alternatives');
    expect(formatTemperature(0.7000000000000001)).toBe('0.7');
    expect(formatTemperature(1)).toBe('1');
    expect(formatTemperature(1.25)).toBe('1.25');
  });

  it('sends a temperature only when one is set, and never to a model that takes none', () => {
    const s: FillSettings = { ...DEFAULT_FILL_SETTINGS, temperature: 0.5 };
    const installed = [model('tiny-fixture', { defaultTemperature: 0.7 }), model('tiny-uniform', { graph: 'uniform', temperatureSupported: false })];
    expect(fillOptions(s, installed).options.temperature).toBe(0.5);
    expect(fillOptions(s, null).options.temperature).toBe(0.5); // the list not loaded yet: asked for as it is
    expect('temperature' in fillOptions(DEFAULT_FILL_SETTINGS, installed).options).toBe(false); // null: the model's own
    expect('temperature' in fillOptions({ ...s, model: 'tiny-uniform' }, installed).options).toBe(false);
    expect(fillOptions({ ...s, model: 'tiny-uniform' }, installed).options).toEqual({ steps: 64, alternatives: 3, mode: 'exact', device: 'auto', model: 'tiny-uniform' });
    // A model that is gone: the default model runs, and takes the temperature.
    expect(fillOptions({ ...s, model: 'gone' }, installed)).toEqual({
      options: { steps: 64, alternatives: 3, mode: 'exact', device: 'auto', temperature: 0.5 },
      skippedModel: 'gone',
    });
    // The default model takes none either: left out.
    const uniformDefault = [model('tiny-uniform', { isDefault: true, temperatureSupported: false })];
    expect('temperature' in fillOptions(s, uniformDefault).options).toBe(false);
  });

  it('knows the model a fill runs on: the chosen one when installed, else the default', () => {
    const installed = [model('tiny-fixture'), model('sedd-small')];
    expect(effectiveModel({ model: 'sedd-small' }, installed)?.id).toBe('sedd-small');
    expect(effectiveModel({ model: null }, installed)?.id).toBe('tiny-fixture');
    expect(effectiveModel({ model: 'gone' }, installed)?.id).toBe('tiny-fixture');
    expect(effectiveModel({ model: 'sedd-small' }, null)).toBeUndefined();
  });
});
