/**
 * How the model fills blanks: steps (quality against speed), seed, number of alternatives, exact or
 * fast sampling, the device, the model and the temperature. The writer's defaults live in the preferences
 * (prefs.svelte.ts); a document may have its own, kept with the document (the rich text's document
 * attributes, editor/schema.ts), which then apply to it instead.
 */
import { z } from 'zod';
import { DeviceChoice, MAX_TEMPERATURE, MIN_TEMPERATURE, type FillRequest, type ModelInfo } from '../../../src-main/common/api';

export { MAX_TEMPERATURE, MIN_TEMPERATURE };

export const MAX_STEPS = 4096;
export const MAX_ALTERNATIVES = 16;
export const MAX_SEED = 2 ** 32 - 1;

export const FillSettings = z.object({
  steps: z.number().int().min(1).max(MAX_STEPS),
  /** null: a new random seed each time. */
  seed: z.number().int().min(0).max(MAX_SEED).nullable(),
  alternatives: z.number().int().min(1).max(MAX_ALTERNATIVES),
  mode: z.enum(['exact', 'fast']),
  device: DeviceChoice,
  /** null: the app's default model. */
  model: z.string().min(1).max(100).nullable(),
  /**
   * The temperature of the token choice (FillRequest.temperature); null: the model's recommended
   * value (ModelInfo.defaultTemperature). Settings kept by versions before it have none: null.
   */
  temperature: z.number().min(MIN_TEMPERATURE).max(MAX_TEMPERATURE).nullable().default(null),
});
export type FillSettings = z.infer<typeof FillSettings>;

/** Quality against speed: the number of denoising steps. */
export const STEP_PRESETS = [
  { id: 'quick', label: 'Quick', steps: 16 },
  { id: 'balanced', label: 'Balanced', steps: 64 },
  { id: 'best', label: 'Best', steps: 256 },
] as const;

export const DEFAULT_FILL_SETTINGS: FillSettings = Object.freeze({
  steps: 64,
  seed: null,
  alternatives: 3,
  mode: 'exact',
  device: 'auto',
  model: null,
  temperature: null,
});

export const DEVICE_LABELS: Record<DeviceChoice, string> = {
  auto: 'Automatic (best available)',
  cpu: 'CPU',
  cuda: 'NVIDIA GPU (CUDA)',
  dml: 'GPU (DirectML)',
  coreml: 'Apple (Core ML)',
  webgpu: 'GPU (WebGPU)',
};

/** Settings read back from storage, or null when they are not valid settings. */
export function readFillSettings(raw: unknown): FillSettings | null {
  const r = FillSettings.safeParse(raw);
  return r.success ? r.data : null;
}

/** Whatever fields of `raw` are valid, the defaults for the rest (preferences written by an older version). */
export function fillSettingsOrDefaults(raw: unknown): FillSettings {
  const out: Record<string, unknown> = { ...DEFAULT_FILL_SETTINGS };
  if (raw && typeof raw === 'object') {
    for (const [key, schema] of Object.entries(FillSettings.shape)) {
      const r = schema.safeParse((raw as Record<string, unknown>)[key]);
      if (r.success && (raw as Record<string, unknown>)[key] !== undefined) out[key] = r.data;
    }
  }
  return out as FillSettings;
}

export function stepPreset(steps: number): (typeof STEP_PRESETS)[number] | undefined {
  return STEP_PRESETS.find((p) => p.steps === steps);
}

export function sameSettings(a: FillSettings, b: FillSettings): boolean {
  return (Object.keys(DEFAULT_FILL_SETTINGS) as (keyof FillSettings)[]).every((k) => a[k] === b[k]);
}

/** A temperature as the writer reads it: at most two decimals ("0.7", "1", "1.25"). */
export function formatTemperature(t: number): string {
  return String(Math.round(t * 100) / 100);
}

/** A short description, e.g. "Balanced (64 steps), 3 alternatives" (", temperature 0.8" when one is set). */
export function describeSettings(s: FillSettings): string {
  const preset = stepPreset(s.steps);
  const steps = preset ? `${preset.label} (${s.steps} steps)` : `${s.steps} steps`;
  const temperature = s.temperature !== null ? `, temperature ${formatTemperature(s.temperature)}` : '';
  return `${steps}, ${s.alternatives} ${s.alternatives === 1 ? 'alternative' : 'alternatives'}${temperature}`;
}

/**
 * The model a fill with these settings runs on, as far as the list says: the chosen one when it is
 * installed, else the default model; undefined while the list is not loaded.
 */
export function effectiveModel(s: Pick<FillSettings, 'model'>, installed: readonly ModelInfo[] | null): ModelInfo | undefined {
  return (s.model !== null ? installed?.find((m) => m.id === s.model) : undefined) ?? installed?.find((m) => m.isDefault);
}

/**
 * The fill.run options for these settings. A model that is not installed (any more) is left out,
 * so the default model runs; `skippedModel` says so. The temperature is sent only when one is set
 * (null: the core uses the model's recommended value), and not to a model that takes none
 * (temperatureSupported false: its fills use 1, and the core refuses any other value).
 */
export function fillOptions(
  s: FillSettings,
  installed: readonly ModelInfo[] | null,
): { options: Pick<FillRequest, 'steps' | 'seed' | 'alternatives' | 'mode' | 'device' | 'model' | 'temperature'>; skippedModel: string | null } {
  const modelKnown = s.model !== null && (installed === null || installed.some((m) => m.id === s.model));
  const temperature = s.temperature !== null && effectiveModel(s, installed)?.temperatureSupported !== false ? s.temperature : null;
  return {
    options: {
      steps: s.steps,
      alternatives: s.alternatives,
      mode: s.mode,
      device: s.device,
      ...(s.seed !== null ? { seed: s.seed } : {}),
      ...(modelKnown && s.model !== null ? { model: s.model } : {}),
      ...(temperature !== null ? { temperature } : {}),
    },
    skippedModel: s.model !== null && !modelKnown ? s.model : null,
  };
}
