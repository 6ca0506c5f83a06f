/**
 * The options of a fill and a score, in one place: their ranges, their choices, their command-line
 * flags and the words that explain them. Everything else derives from this table — the contract's
 * schemas (api.ts FillRequest, ScoreRequest), the engine's checks of a job (engine.ts), the model
 * manifest's recommended values (model/package.ts), the CLI's flags and help (cli.ts) and the
 * renderer's settings form (fill-settings.ts, FillSettingsForm.svelte). A new option is a row here,
 * its use in the engine and its control in the form.
 */
import { z } from 'zod';

/** A numeric option: a whole number or a decimal within [min, max]. */
export interface NumberOption {
  readonly kind: 'integer' | 'number';
  readonly min: number;
  readonly max: number;
  /** The CLI flag and the word for its value in the help ("--steps N"). */
  readonly flag: string;
  readonly arg: string;
  /** What it does, for the CLI help (the form has its own, longer words). */
  readonly help: string;
}

/** An option that takes one of a few words. */
export interface ChoiceOption<T extends string = string> {
  readonly kind: 'choice';
  readonly values: readonly [T, ...T[]];
  readonly flag: string;
  readonly help: string;
}

/** Execution providers onnxruntime-node may run the network on (engine.devices lists this machine's). */
export const PROVIDER_IDS = ['cpu', 'cuda', 'dml', 'coreml', 'webgpu'] as const;
export type ProviderId = (typeof PROVIDER_IDS)[number];
/** A device of this computer to ask for: a provider, or 'auto' (GPUs first, then the CPU). */
export const LOCAL_DEVICE_CHOICES = ['auto', ...PROVIDER_IDS] as const;
export type LocalDeviceChoice = (typeof LOCAL_DEVICE_CHOICES)[number];
/** Any device: one of this computer's, or 'remote', the inference server in the settings (common/inference-server.ts). */
export const DEVICE_CHOICES = [...LOCAL_DEVICE_CHOICES, 'remote'] as const;

/** Steps a fill takes when neither the request nor the model's manifest names a number. */
export const DEFAULT_STEPS = 64;
/** Monte Carlo draws of a score when the request names none. */
export const DEFAULT_DRAWS = 16;

const SEED = {
  kind: 'integer',
  min: 0,
  max: 2 ** 32 - 1,
  flag: '--seed',
  arg: 'S',
  help: 'random seed (default: random); same seed, same fill',
} as const satisfies NumberOption;

/** A seed for a request that names none: uniform over the seed option's range (`random`: a uniform draw in [0, 1)). */
export function randomSeed(random: () => number = Math.random): number {
  return SEED.min + Math.floor(random() * (SEED.max - SEED.min + 1));
}

const DEVICE = {
  kind: 'choice',
  values: DEVICE_CHOICES,
  flag: '--device',
  help:
    'the device to run on (default auto; LACUNA_DEVICE overrides a local one); remote is the inference server set with `lacuna server set`, ' +
    'remote:URL one for this command only; the device used, and why others were passed over, go to stderr',
} as const satisfies ChoiceOption;

/** The options of fill.run, in the order the CLI's help lists them. */
export const FILL_OPTIONS = {
  /** Denoising steps; default: the model's (manifest sampling.default_steps), else DEFAULT_STEPS. */
  steps: {
    kind: 'integer',
    min: 1,
    max: 4096,
    flag: '--steps',
    arg: 'N',
    help: "sampling steps (default: the model's): more is slower and follows the model more closely",
  },
  /** The same seed, model and options give the same fill; default: a random one (FillResult.seed says which). */
  seed: SEED,
  /** Alternative fills, sampled as one batch (default 1). */
  alternatives: {
    kind: 'integer',
    min: 1,
    max: 16,
    flag: '--alternatives',
    arg: 'N',
    help: 'sample N alternative fills as one batch; each is printed, numbered',
  },
  /**
   * Temperature of the token choice: below 1 each unmasked position takes likelier tokens (plainer,
   * more predictable text), above 1 less likely ones; when and how many positions unmask per step is
   * unchanged. Default: the model's recommended value (manifest sampling.temperature), else 1 (the
   * SEDD sampler as specified). Absorbing models with the analytic sampler only.
   */
  temperature: {
    kind: 'number',
    min: 0.1,
    max: 2,
    flag: '--temperature',
    arg: 'T',
    help:
      "default: the model's, see models list. Lower picks likelier words (plainer, more predictable), " +
      'higher less likely ones (more surprising, more errors); the token choice used goes to stderr',
  },
  /**
   * Nucleus (top-p) of the token choice: an unmasking position picks only among the likeliest tokens
   * that together hold this share of the model's probability (1 keeps them all; lower cuts the
   * unlikely tail that makes word salad). Default: the model's (manifest sampling.top_p), else 1.
   */
  topP: {
    kind: 'number',
    min: 0.05,
    max: 1,
    flag: '--top-p',
    arg: 'P',
    help:
      "default: the model's. Each word is picked among the likeliest ones that together hold this share " +
      "of the model's belief; lower cuts the unlikely tail (fewer garbled words, plainer text), 1 keeps every word possible",
  },
  /**
   * Which masked positions are written first: 'random' (the sampler as specified) or 'confident' (the
   * positions the model is surest of first; as many per step as the sampler would write). Default:
   * the model's (manifest sampling.unmasking), else 'random'.
   */
  unmasking: {
    kind: 'choice',
    values: ['random', 'confident'],
    flag: '--unmasking',
    help:
      "which words are written first (default: the model's): random is the sampler as specified; " +
      'confident writes the ones the model is surest of first and decides the rest around them',
  },
  /**
   * For blanks of 'auto' length (____): −1 leans toward the shortest length tried, +1 toward the
   * longest, 0 (default) takes the fill the model finds most natural per token.
   */
  lengthBias: {
    kind: 'number',
    min: -1,
    max: 1,
    flag: '--length-bias',
    arg: 'B',
    help: 'default 0. For auto blanks (____), lean toward the shortest (-1) or longest (1) of the lengths tried; the lengths chosen go to stderr',
  },
  /**
   * 'exact' follows the sampler exactly; 'fast' reuses the previous network output on steps that
   * unmasked nothing even for σ-conditioned weights (approximate; exact anyway for time-independent
   * models). Default: the model's (manifest sampling.mode), else 'exact'.
   */
  mode: {
    kind: 'choice',
    values: ['exact', 'fast'],
    flag: '--mode',
    help: 'fast reuses the network output on steps that unmask nothing (approximate for σ-conditioned models; exact anyway for time-independent ones)',
  },
  /**
   * Tokens of text the network sees at once around the blanks (a window; engine.ts planAttempts):
   * fewer is faster per step, more lets a fill follow text further away. Default: the model's
   * (manifest sampling.context), else its trained length; never more than the trained length.
   */
  context: {
    kind: 'integer',
    min: 32,
    max: 4096,
    flag: '--context',
    arg: 'N',
    help: "tokens of text around the blanks the model reads at once (default: the model's; at most its trained length): fewer is faster",
  },
  /** Execution provider to run on ('auto' tries GPUs first); default: the app's (LACUNA_DEVICE overrides both). */
  device: DEVICE,
} as const satisfies Record<string, NumberOption | ChoiceOption>;

/** The options of score.run. */
export const SCORE_OPTIONS = {
  draws: {
    kind: 'integer',
    min: 1,
    max: 1024,
    flag: '--draws',
    arg: 'N',
    help: `Monte Carlo draws over t (default ${DEFAULT_DRAWS}): more draws, a tighter estimate`,
  },
  seed: SEED,
  device: DEVICE,
} as const satisfies Record<string, NumberOption | ChoiceOption>;

type Option = NumberOption | ChoiceOption;
type SchemaOf<O> = O extends ChoiceOption<infer T> ? z.ZodEnum<{ [K in T]: K }> : z.ZodNumber;
type SchemasOf<T extends Record<string, Option>> = { [K in keyof T]: SchemaOf<T[K]> };

/** The zod schema of one option's value. */
export function optionSchema<O extends Option>(o: O): SchemaOf<O> {
  if (o.kind === 'choice') return z.enum(o.values) as unknown as SchemaOf<O>;
  const n = o.kind === 'integer' ? z.number().int() : z.number();
  return n.min(o.min).max(o.max) as unknown as SchemaOf<O>;
}

function schemasOf<T extends Record<string, Option>>(options: T): SchemasOf<T> {
  return Object.fromEntries(Object.entries(options).map(([k, o]) => [k, optionSchema(o)])) as SchemasOf<T>;
}

/** Each option's schema, by name (FillRequest and the settings form are built from these). */
export const FILL_SCHEMAS = schemasOf(FILL_OPTIONS);
export const SCORE_SCHEMAS = schemasOf(SCORE_OPTIONS);

/** The options as optional fields of a request (api.ts FillRequest, ScoreRequest extend these). */
export const FillOptions = z.object(FILL_SCHEMAS).partial();
export type FillOptions = z.infer<typeof FillOptions>;
export const ScoreOptions = z.object(SCORE_SCHEMAS).partial();
export type ScoreOptions = z.infer<typeof ScoreOptions>;

/** The options of `table` that `source` holds (absent ones left out): a request's options, handed on to the engine. */
export function pickOptions<T extends Record<string, Option>, S extends object>(table: T, source: S): Partial<Pick<S, keyof T & keyof S>> {
  const out: Record<string, unknown> = {};
  for (const name of Object.keys(table)) {
    const value = (source as Record<string, unknown>)[name];
    if (value !== undefined) out[name] = value;
  }
  return out as Partial<Pick<S, keyof T & keyof S>>;
}

export const DeviceChoice = FILL_SCHEMAS.device;
export type DeviceChoice = z.infer<typeof DeviceChoice>;
export const UnmaskingOrder = FILL_SCHEMAS.unmasking;
export type UnmaskingOrder = z.infer<typeof UnmaskingOrder>;
export const FillMode = FILL_SCHEMAS.mode;
export type FillMode = z.infer<typeof FillMode>;

/** The range of a numeric option in words: "1 to 4096", "0.1 to 2". */
export function rangeText(o: NumberOption): string {
  return `${o.min} to ${o.max}`;
}

/**
 * Why `value` is not a valid `name` (an option of `options`), or undefined when it is (absent counts
 * as valid: every option is optional). The engine checks its jobs with this; the words match the
 * CLI's.
 */
export function optionProblem(options: Record<string, Option>, name: string, value: unknown): string | undefined {
  const o = options[name];
  if (o === undefined || value === undefined) return undefined;
  if (o.kind === 'choice') {
    return (o.values as readonly unknown[]).includes(value) ? undefined : `${name} must be one of ${o.values.join(', ')}, got ${JSON.stringify(value)}`;
  }
  const ok = typeof value === 'number' && Number.isFinite(value) && value >= o.min && value <= o.max && (o.kind === 'number' || Number.isInteger(value));
  return ok ? undefined : `${name} must be ${o.kind === 'integer' ? 'a whole number' : 'a number'} from ${rangeText(o)}, got ${JSON.stringify(value)}`;
}

/** The first problem among the options `job` holds (see optionProblem). */
export function optionsProblem(options: Record<string, Option>, job: object): string | undefined {
  for (const name of Object.keys(options)) {
    const problem = optionProblem(options, name, (job as Record<string, unknown>)[name]);
    if (problem) return problem;
  }
  return undefined;
}
