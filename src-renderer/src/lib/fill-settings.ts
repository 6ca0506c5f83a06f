/**
 * How the model fills blanks: steps (quality against speed), seed, number of alternatives, exact or
 * fast sampling, the device, the model, the token choice (temperature, word choice (top-p), whether
 * the surest words are written first) and how auto blanks lean toward shorter or longer fills.
 * The writer's defaults live in the preferences
 * (prefs.svelte.ts); a document may have its own, kept with the document (the rich text's document
 * attributes, editor/schema.ts), which then apply to it instead.
 */
import { z } from 'zod';
import type { FillRequest, ModelInfo } from '../../../src-main/common/api';
import { DEFAULT_STEPS, FILL_OPTIONS, FILL_SCHEMAS, type DeviceChoice } from '../../../src-main/common/fill-options';

/** The ranges and choices of every option (common/fill-options.ts): the form's bounds and messages. */
export { FILL_OPTIONS };

export const FillSettings = z.object({
  steps: FILL_SCHEMAS.steps,
  /** null: a new random seed each time. */
  seed: FILL_SCHEMAS.seed.nullable(),
  alternatives: FILL_SCHEMAS.alternatives,
  /** Exact or fast sampling (FillRequest.mode); null: the model's (ModelInfo.defaultMode). */
  mode: FILL_SCHEMAS.mode.nullable().default(null),
  /** Tokens the network reads around the blanks (FillRequest.context); null: the model's (its trained length). */
  context: FILL_SCHEMAS.context.nullable().default(null),
  device: FILL_SCHEMAS.device,
  /** null: the app's default model. */
  model: z.string().min(1).max(100).nullable(),
  /**
   * The temperature of the token choice (FillRequest.temperature); null: the model's recommended
   * value (ModelInfo.defaultTemperature). Settings kept by versions before it have none: null.
   */
  temperature: FILL_SCHEMAS.temperature.nullable().default(null),
  /**
   * Word choice: the nucleus mass of the token choice (FillRequest.topP); null: the model's
   * (ModelInfo.defaultTopP). Settings kept by versions before it have none: null.
   */
  topP: FILL_SCHEMAS.topP.nullable().default(null),
  /**
   * Which words are written first (FillRequest.unmasking): 'confident' writes the surest first;
   * null: the model's order (ModelInfo.defaultUnmasking). Settings kept before it have none: null.
   */
  unmasking: FILL_SCHEMAS.unmasking.nullable().default(null),
  /** Auto blanks: −1 leans toward shorter fills, +1 toward longer, 0 none (FillRequest.lengthBias). */
  lengthBias: FILL_SCHEMAS.lengthBias.default(0),
});
export type FillSettings = z.infer<typeof FillSettings>;

/** Quality against speed: the number of denoising steps. */
export const STEP_PRESETS = [
  { id: 'quick', label: 'Quick', steps: 16 },
  { id: 'balanced', label: 'Balanced', steps: DEFAULT_STEPS },
  { id: 'best', label: 'Best', steps: 256 },
] as const;

export const DEFAULT_FILL_SETTINGS: FillSettings = Object.freeze({
  steps: DEFAULT_STEPS,
  seed: null,
  alternatives: 3,
  mode: null,
  context: null,
  device: 'auto',
  model: null,
  temperature: null,
  topP: null,
  unmasking: null,
  lengthBias: 0,
});

/**
 * Word choice, in the writer's words: from every word the model finds possible (top-p 1) to only
 * the likeliest ones. The steps of the settings form; each within FILL_OPTIONS.topP.
 */
export const WORD_CHOICE_STEPS = [
  { topP: 1, label: 'Adventurous', help: 'any word the model finds possible' },
  { topP: 0.95, label: 'Varied', help: 'leaves out the least likely words' },
  { topP: 0.9, label: 'Careful', help: 'sticks to likely words' },
  { topP: 0.8, label: 'Safe', help: 'only the likeliest words' },
] as const;

/** A top-p as the writer reads it: the step's name, else the number ("Careful", "0.5"). */
export function describeTopP(topP: number): string {
  return WORD_CHOICE_STEPS.find((w) => w.topP === topP)?.label ?? String(Math.round(topP * 100) / 100);
}

/** The length slider's step (auto blanks: shorter ↔ longer). */
export const LENGTH_BIAS_STEP = 0.25;

/** How far auto blanks lean, in words: "No lean", "Slightly shorter", "Longer", "Much longer". */
export function describeLengthBias(bias: number): string {
  if (bias === 0) return 'No lean';
  const size = Math.abs(bias);
  const way = bias < 0 ? 'shorter' : 'longer';
  return size <= 0.25 ? `Slightly ${way}` : size < 0.75 ? `${way[0]!.toUpperCase()}${way.slice(1)}` : `Much ${way}`;
}

export const DEVICE_LABELS: Record<DeviceChoice, string> = {
  auto: 'Automatic (best available)',
  cpu: 'CPU',
  cuda: 'NVIDIA GPU (CUDA)',
  dml: 'GPU (DirectML)',
  coreml: 'Apple (Core ML)',
  webgpu: 'GPU (WebGPU)',
  remote: 'Inference server',
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

/**
 * A short description, e.g. "Balanced (64 steps), 3 alternatives"; the writer's own token choice
 * and length lean are added when set (", temperature 0.8, word choice Safe, surest words first").
 */
export function describeSettings(s: FillSettings): string {
  const preset = stepPreset(s.steps);
  const steps = preset ? `${preset.label} (${s.steps} steps)` : `${s.steps} steps`;
  const extra = [
    s.temperature !== null ? `temperature ${formatTemperature(s.temperature)}` : '',
    s.topP !== null ? `word choice ${describeTopP(s.topP)}` : '',
    s.unmasking === 'confident' ? 'surest words first' : s.unmasking === 'random' ? 'words in random order' : '',
    s.lengthBias !== 0 ? `auto blanks ${describeLengthBias(s.lengthBias).toLowerCase()}` : '',
  ]
    .filter(Boolean)
    .map((x) => `, ${x}`)
    .join('');
  return `${steps}, ${s.alternatives} ${s.alternatives === 1 ? 'alternative' : 'alternatives'}${extra}`;
}

/**
 * The model a fill with these settings runs on, as far as the list says: the chosen one when it is
 * installed, else the default model; undefined while the list is not loaded.
 */
export function effectiveModel(s: Pick<FillSettings, 'model'>, installed: readonly ModelInfo[] | null): ModelInfo | undefined {
  return (s.model !== null ? installed?.find((m) => m.id === s.model) : undefined) ?? installed?.find((m) => m.isDefault);
}

/** The fill.run options fillOptions sets. */
export type FillOptions = Pick<
  FillRequest,
  'steps' | 'seed' | 'alternatives' | 'mode' | 'context' | 'device' | 'model' | 'temperature' | 'topP' | 'unmasking' | 'lengthBias'
>;

/**
 * The fill.run options for these settings. A model that is not installed (any more) is left out,
 * so the default model runs; `skippedModel` says so. The mode and the token choice (temperature,
 * top-p, unmasking order) are sent only where the writer set them (null: the core uses the model's own), and
 * only where it differs from the model's own when the list says what that is; never to a model that
 * takes none (temperatureSupported false: the core refuses anything but the plain choice). The
 * length lean is sent only when it is not 0 (the core's default).
 */
export function fillOptions(s: FillSettings, installed: readonly ModelInfo[] | null): { options: FillOptions; skippedModel: string | null } {
  const modelKnown = s.model !== null && (installed === null || installed.some((m) => m.id === s.model));
  const model = effectiveModel(s, installed);
  const choice = model?.temperatureSupported !== false;
  const temperature = s.temperature !== null && choice ? s.temperature : null;
  const topP = s.topP !== null && choice && s.topP !== model?.defaultTopP ? s.topP : null;
  const unmasking = s.unmasking !== null && choice && s.unmasking !== model?.defaultUnmasking ? s.unmasking : null;
  const mode = s.mode !== null && s.mode !== model?.defaultMode ? s.mode : null;
  return {
    options: {
      steps: s.steps,
      alternatives: s.alternatives,
      ...(mode !== null ? { mode } : {}),
      ...(s.context !== null ? { context: s.context } : {}),
      device: s.device,
      ...(s.seed !== null ? { seed: s.seed } : {}),
      ...(modelKnown && s.model !== null ? { model: s.model } : {}),
      ...(temperature !== null ? { temperature } : {}),
      ...(topP !== null ? { topP } : {}),
      ...(unmasking !== null ? { unmasking } : {}),
      ...(s.lengthBias !== 0 ? { lengthBias: s.lengthBias } : {}),
    },
    skippedModel: s.model !== null && !modelKnown ? s.model : null,
  };
}
