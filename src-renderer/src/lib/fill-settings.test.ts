/** Fill settings: what is read back from storage, and what a fill asks the core for. */
import { describe, expect, it } from 'vitest';
import type { ModelInfo } from '../../../src-main/common/api';
import {
  DEFAULT_FILL_SETTINGS,
  describeSettings,
  effectiveModel,
  fillOptions,
  fillSettingsOrDefaults,
  describeLengthBias,
  describeTopP,
  formatTemperature,
  FILL_OPTIONS,
  readFillSettings,
  stepPreset,
  WORD_CHOICE_STEPS,
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
  defaultTopP: 1,
  defaultUnmasking: 'random',
  defaultMode: 'exact',
  precision: 'fp32',
  temperatureSupported: true,
  bytes: 1,
  files: [],
  removable: false,
  demo: false,
  ...over,
});

/** Settings as versions before the temperature kept them (preferences and documents alike). */
const beforeTemperature = { steps: 16, seed: 7, alternatives: 2, mode: 'fast', device: 'cpu', model: 'sedd-small' };
/** The token choice and length lean as they read back from settings kept before them. */
const untouched = { topP: null, unmasking: null, lengthBias: 0, context: null };
/** Settings as versions before word choice, unmasking order and length lean kept them. */
const beforeTopP = { ...beforeTemperature, temperature: 0.7 };

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
    const s: FillSettings = { steps: 16, seed: 7, alternatives: 2, mode: 'fast', device: 'cpu', model: 'sedd-small', temperature: null, ...untouched };
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
    expect(fillOptions(DEFAULT_FILL_SETTINGS, null).options).toEqual({ steps: 64, alternatives: 3, device: 'auto' });
  });

  it('leaves the mode to the model unless the writer picked another', () => {
    expect(DEFAULT_FILL_SETTINGS.mode).toBeNull();
    const fastModel = model('sedd-small-int8', { defaultMode: 'fast' });
    const s: FillSettings = { ...DEFAULT_FILL_SETTINGS, model: 'sedd-small-int8' };
    expect(fillOptions(s, [fastModel]).options.mode).toBeUndefined();
    expect(fillOptions({ ...s, mode: 'fast' }, [fastModel]).options.mode).toBeUndefined();
    expect(fillOptions({ ...s, mode: 'exact' }, [fastModel]).options.mode).toBe('exact');
    expect(fillOptions({ ...s, mode: 'fast' }, [model('sedd-small-int8')]).options.mode).toBe('fast');
    // the list not loaded: a choice is sent as it is
    expect(fillOptions({ ...s, mode: 'exact' }, null).options.mode).toBe('exact');
    // the window: the model's unless the writer set one
    expect('context' in fillOptions(s, [fastModel]).options).toBe(false);
    expect(fillOptions({ ...s, context: 128 }, [fastModel]).options.context).toBe(128);
  });

  it('defaults the temperature to the model’s (null), also for settings kept before it existed', () => {
    expect(DEFAULT_FILL_SETTINGS.temperature).toBeNull();
    // Documents' own settings (readFillSettings) and the preferences (fillSettingsOrDefaults) alike.
    expect(readFillSettings(beforeTemperature)).toEqual({ ...beforeTemperature, temperature: null, ...untouched });
    expect(fillSettingsOrDefaults(beforeTemperature)).toEqual({ ...beforeTemperature, temperature: null, ...untouched });
    expect(readFillSettings({ ...beforeTemperature, temperature: 0.7 })).toEqual({ ...beforeTemperature, temperature: 0.7, ...untouched });
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
    expect(fillOptions({ ...s, model: 'tiny-uniform' }, installed).options).toEqual({
      steps: 64,
      alternatives: 3,
      device: 'auto',
      model: 'tiny-uniform',
    });
    // A model that is gone: the default model runs, and takes the temperature.
    expect(fillOptions({ ...s, model: 'gone' }, installed)).toEqual({
      options: { steps: 64, alternatives: 3, device: 'auto', temperature: 0.5 },
      skippedModel: 'gone',
    });
    // The default model takes none either: left out.
    const uniformDefault = [model('tiny-uniform', { isDefault: true, temperatureSupported: false })];
    expect('temperature' in fillOptions(s, uniformDefault).options).toBe(false);
  });

  it('reads settings kept before word choice, unmasking order and length lean with the model’s own and no lean', () => {
    expect(DEFAULT_FILL_SETTINGS).toMatchObject(untouched);
    expect(readFillSettings(beforeTopP)).toEqual({ ...beforeTopP, ...untouched });
    expect(fillSettingsOrDefaults(beforeTopP)).toEqual({ ...beforeTopP, ...untouched });
    const chosen = { ...beforeTopP, topP: 0.9, unmasking: 'confident', lengthBias: -0.5, context: 128 };
    expect(readFillSettings(chosen)).toEqual(chosen);
    expect(fillSettingsOrDefaults(chosen)).toEqual(chosen);
  });

  it('keeps word choice and length lean within the contract’s ranges, and the order to its two values', () => {
    for (const topP of [FILL_OPTIONS.topP.min, 0.5, FILL_OPTIONS.topP.max]) expect(readFillSettings({ ...beforeTopP, topP })?.topP).toBe(topP);
    for (const lengthBias of [FILL_OPTIONS.lengthBias.min, 0.25, FILL_OPTIONS.lengthBias.max])
      expect(readFillSettings({ ...beforeTopP, lengthBias })?.lengthBias).toBe(lengthBias);
    const bad = [
      { topP: FILL_OPTIONS.topP.min - 0.01 },
      { topP: FILL_OPTIONS.topP.max + 0.01 },
      { topP: '0.9' },
      { lengthBias: FILL_OPTIONS.lengthBias.min - 0.1 },
      { lengthBias: FILL_OPTIONS.lengthBias.max + 0.1 },
      { lengthBias: null },
      { unmasking: 'greedy' },
    ];
    for (const b of bad) {
      expect(readFillSettings({ ...beforeTopP, ...b }), JSON.stringify(b)).toBeNull();
      // The preferences keep their other fields; a bad one falls back to its default.
      expect(fillSettingsOrDefaults({ ...beforeTopP, ...b }), JSON.stringify(b)).toEqual({ ...beforeTopP, ...untouched });
    }
    // Every word-choice step is a valid top-p, from adventurous (all words) down.
    expect(WORD_CHOICE_STEPS[0].topP).toBe(FILL_OPTIONS.topP.max);
    for (const w of WORD_CHOICE_STEPS) expect(readFillSettings({ ...beforeTopP, topP: w.topP })?.topP).toBe(w.topP);
    expect(WORD_CHOICE_STEPS.map((w) => w.topP)).toEqual([...WORD_CHOICE_STEPS.map((w) => w.topP)].sort((a, b) => b - a));
  });

  it('says word choice, order and lean in words', () => {
    expect(describeTopP(1)).toBe('Adventurous');
    expect(describeTopP(0.8)).toBe('Safe');
    expect(describeTopP(0.5)).toBe('0.5');
    expect([-1, -0.5, -0.25, 0, 0.25, 0.75].map(describeLengthBias)).toEqual([
      'Much shorter',
      'Shorter',
      'Slightly shorter',
      'No lean',
      'Slightly longer',
      'Much longer',
    ]);
    expect(describeSettings({ ...DEFAULT_FILL_SETTINGS, topP: 0.9, unmasking: 'confident', lengthBias: 0.5 })).toBe(
      'Balanced (64 steps), 3 alternatives, word choice Careful, surest words first, auto blanks longer',
    );
  });

  it('sends word choice and order only where the writer set them apart from the model’s, never to a model that takes none', () => {
    const installed = [
      model('tiny-fixture', { defaultTopP: 0.9, defaultUnmasking: 'confident' }),
      model('plain'),
      model('tiny-uniform', { graph: 'uniform', temperatureSupported: false }),
    ];
    const s: FillSettings = { ...DEFAULT_FILL_SETTINGS, topP: 0.8, unmasking: 'random' };
    // The default model's own are 0.9 and confident: the writer's differ, so they are sent.
    expect(fillOptions(s, installed).options).toMatchObject({ topP: 0.8, unmasking: 'random' });
    // Set to what the model does anyway: left out (the model's own applies).
    const same = fillOptions({ ...s, topP: 0.9, unmasking: 'confident' }, installed).options;
    expect('topP' in same || 'unmasking' in same).toBe(false);
    expect(fillOptions({ ...s, model: 'plain' }, installed).options).toMatchObject({ topP: 0.8 });
    expect('unmasking' in fillOptions({ ...s, model: 'plain' }, installed).options).toBe(false);
    // Not set (null): the model's own.
    const none = fillOptions(DEFAULT_FILL_SETTINGS, installed).options;
    expect('topP' in none || 'unmasking' in none || 'lengthBias' in none).toBe(false);
    // The list not loaded yet: asked for as set.
    expect(fillOptions(s, null).options).toMatchObject({ topP: 0.8, unmasking: 'random' });
    // A model that takes no token choice gets none.
    expect(fillOptions({ ...s, model: 'tiny-uniform' }, installed).options).toEqual({
      steps: 64,
      alternatives: 3,
      device: 'auto',
      model: 'tiny-uniform',
    });
  });

  it('sends a length lean only when there is one', () => {
    expect('lengthBias' in fillOptions(DEFAULT_FILL_SETTINGS, null).options).toBe(false);
    expect(fillOptions({ ...DEFAULT_FILL_SETTINGS, lengthBias: -0.75 }, null).options.lengthBias).toBe(-0.75);
  });

  it('knows the model a fill runs on: the chosen one when installed, else the default', () => {
    const installed = [model('tiny-fixture'), model('sedd-small')];
    expect(effectiveModel({ model: 'sedd-small' }, installed)?.id).toBe('sedd-small');
    expect(effectiveModel({ model: null }, installed)?.id).toBe('tiny-fixture');
    expect(effectiveModel({ model: 'gone' }, installed)?.id).toBe('tiny-fixture');
    expect(effectiveModel({ model: 'sedd-small' }, null)).toBeUndefined();
  });
});
