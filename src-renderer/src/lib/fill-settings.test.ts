/** Fill settings: what is read back from storage, and what a fill asks the core for. */
import { describe, expect, it } from 'vitest';
import type { ModelInfo } from '../../../src-main/common/api';
import { DEFAULT_FILL_SETTINGS, describeSettings, fillOptions, fillSettingsOrDefaults, readFillSettings, stepPreset } from './fill-settings';

const model = (id: string): ModelInfo => ({
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
  bytes: 1,
  files: [],
  removable: false,
});

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
    const s = { steps: 16, seed: 7, alternatives: 2, mode: 'fast' as const, device: 'cpu' as const, model: 'sedd-small' };
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
});
