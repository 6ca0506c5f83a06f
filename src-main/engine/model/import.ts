/**
 * Import an official SEDD checkpoint folder (Hugging Face louaaron/sedd-small, louaaron/sedd-medium:
 * `config.json` + `model.safetensors`) as a `lacuna-model/1` package (models/FORMAT.md), without
 * Python.
 *
 * The ONNX graph comes from a *graph template* (models/tools/make_templates.py): the reference
 * network exported for one configuration with every parameter stored as external data in
 * `weights.bin` at a fixed offset, described by `template.json`. The importer picks the template
 * whose configuration equals the checkpoint's, checks the checkpoint's tensors against the set the
 * configuration implies, writes `weights.bin` tensor by tensor (converted to float32, or to float16
 * for the GPU variant, `precision: 'fp16'`, from an fp16 template; streamed),
 * copies the graph and a tokenizer (the checkpoint folder's own `tokenizer.json`, else GPT-2's from
 * models/gpt2 when `tokens` = 50257), and writes manifest.json. Everything is written into a hidden
 * temporary folder inside the destination and renamed into place only when complete; on any
 * failure the temporary folder is removed.
 *
 * Tensor names: the official names (sedd.md §1). A file may carry one copy of the network under a
 * prefix made of the segments `module.` (DataParallel), `score_model.`, `model.`, `_orig_mod.`
 * (torch.compile), `ema.` / `ema_model.` / `model_ema.` (an EMA copy) — e.g. `module.blocks.0…`.
 * When the file holds several complete copies, the one with the most expected tensors wins, and on
 * a tie an EMA copy (the authors sample with the EMA weights), then the shortest prefix; the other
 * copies are ignored. Anything else that is not an expected tensor is reported as unexpected.
 * `rotary_emb.inv_freq` (a buffer) may be absent: the template's stored value is used.
 *
 * A configuration without a template (anything but the official small/medium absorb ones) needs
 * one made first with Python (the error names the command). `pytorch_model.bin` needs converting
 * with models/tools/convert_bin.py first (the error names the command).
 *
 * MDLM (Sahoo et al. 2024; Hugging Face `kuleshov-group/mdlm-owt`): a config.json with
 * `model_type: "mdlm"` (keys `vocab_size` — MASK, the last id, included — `hidden_dim`, `n_blocks`,
 * `n_heads`, `cond_dim`, `model_length`, `time_conditioning`) and a model.safetensors whose tensors
 * are SEDD's DDiT names under `backbone.` (the prefix may also be absent or combined with the
 * segments above). Its template (`"family": "mdlm"`, models/sedd/mdlm.py) computes MDLM's
 * x0-posterior (SUBS) and returns it as the SEDD absorbing log score the engine runs:
 * log p(x0 = y | x_t) − log(e^σ − 1) at masked positions, so the package says `scale_by_sigma: true`
 * and, for `time_conditioning: false` (the released model), `time_conditioned: false`. The Hub repo
 * has no tokenizer.json: GPT-2's is used for vocab_size 50258 (MASK = 50257).
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, readdir, rename, rm, writeFile, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { ApiError } from '../../common/api';
import { MODEL_FORMAT, readModelPackage, type ModelPackage } from './package';
import { SafetensorsFile, toHalf } from './safetensors';
import { inspectTokenizer, type TokenizerFacts } from './tokenizer-inspect';
import { parseJsonText } from '../../common/json-text';
import { MODEL_LIMITS, readModelJson } from './limits';
import { quantizePackage } from './quantize';
import { PRECISION_IDS, packageIdFor, type PrecisionId } from '../../common/precision';

export const TEMPLATE_FORMAT = 'lacuna-template/1';
export const CONVERT_COMMAND = 'OPENBLAS_NUM_THREADS=1 python3 models/tools/convert_bin.py';

/** The network configuration that selects a template (models/tools/make_templates.py). */
export interface NetworkConfig {
  hidden_size: number;
  n_blocks: number;
  n_heads: number;
  cond_dim: number;
  vocab_size: number;
  graph_type: 'absorb' | 'uniform';
  scale_by_sigma: boolean;
  /** Absent: SEDD (the official network). 'mdlm': MDLM's trunk + SUBS, as a SEDD log score. */
  family?: 'mdlm';
  /** MDLM only: whether the network sees σ (absent = true, as every SEDD network). */
  time_conditioning?: boolean;
}

/** What config.json says, as the importer uses it. */
export interface CheckpointConfig {
  network: NetworkConfig;
  /** Tokenizer ids (MASK excluded for the absorbing graph). */
  tokens: number;
  noise: { type: 'loglinear'; eps: number } | { type: 'geometric'; sigma_min: number; sigma_max: number };
  length: number;
  name: string | undefined;
}

/** The precisions a graph template comes in (int8 packages are made from the fp32 one: quantize.ts). */
export type TemplatePrecision = 'fp32' | 'fp16';

export interface TemplateTensor {
  name: string;
  dtype: 'float32' | 'float16';
  shape: number[];
  offset: number;
  bytes: number;
  default?: number[];
}

export interface Template {
  dir: string;
  config: NetworkConfig;
  /** fp32, or fp16: the float16 variant for GPUs (float16 weights and compute, float32 inputs and outputs). */
  precision: TemplatePrecision;
  graph: string;
  graph_sha256: string;
  weights: string;
  weights_bytes: number;
  tensors: TemplateTensor[];
}

export interface ImportOptions {
  /** Folders whose subfolders hold templates (`template.json` + graph), searched in order. */
  templateDirs: readonly string[];
  /** GPT-2's tokenizer.json (models/gpt2/tokenizer.json), used when the folder has none and tokens = 50257. */
  gpt2Tokenizer?: string;
  /** Destination: packages go to `<modelsDir>/<id>/` (the data folder's `models`). */
  modelsDir: string;
  /** Package id; default `sedd-<model.name>` from config.json, else the folder name (+ `-fp16`). */
  id?: string;
  /**
   * 'fp32' (default); 'fp16': the float16 variant for GPUs, half the size (needs an fp16 template);
   * 'int8': int8 weights for the CPU, made from the fp32 import by quantize.ts.
   */
  precision?: PrecisionId;
}

const OPTIONAL = new Set(['rotary_emb.inv_freq']);
const PREFIX_SEGMENTS: ReadonlySet<string> = new Set(['module', 'score_model', 'model', '_orig_mod', 'ema', 'ema_model', 'model_ema']);
/** MDLM's Hugging Face model keeps the trunk as `backbone` (state dict `backbone.*`). */
const MDLM_PREFIX_SEGMENTS: ReadonlySet<string> = new Set([...PREFIX_SEGMENTS, 'backbone']);
export const MDLM_MODEL_TYPE = 'mdlm';
const LIST_MAX = 8;

function bad(message: string): never {
  throw new ApiError('bad_request', message);
}

function configObject(v: unknown, what: string): Record<string, unknown> {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : bad(`config.json: ${what} must be an object`);
}

function configInt(v: unknown, what: string, min = 1, max = Number.MAX_SAFE_INTEGER): number {
  if (Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= max) return v as number;
  const shown = JSON.stringify(v);
  const got = shown === undefined ? 'nothing' : shown.length > 24 ? `${shown.slice(0, 24)}…` : shown;
  return bad(`config.json: ${what} must be an integer ${max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `from ${min} to ${max}`} (got ${got})`);
}

/**
 * Parse an MDLM Hugging Face config.json (kuleshov-group/mdlm-owt: `model_type` "mdlm",
 * `vocab_size` with MASK, `hidden_dim`, `n_blocks`, `n_heads`, `cond_dim`, `model_length`,
 * `time_conditioning`; models/sedd/mdlm.py). The noise is MDLM's default, log-linear with ε 1e-3.
 */
export function parseMdlmConfig(root: Record<string, unknown>): CheckpointConfig {
  if (root.model_type !== MDLM_MODEL_TYPE) bad(`config.json: model_type must be "${MDLM_MODEL_TYPE}" (got ${JSON.stringify(root.model_type)})`);
  const vocab = configInt(root.vocab_size, '"vocab_size"', 3, MODEL_LIMITS.vocabSize);
  const tc = root.time_conditioning;
  if (tc !== undefined && typeof tc !== 'boolean') bad('config.json: time_conditioning must be true or false');
  const network: NetworkConfig = {
    hidden_size: configInt(root.hidden_dim, '"hidden_dim"', 1, MODEL_LIMITS.hiddenSize),
    n_blocks: configInt(root.n_blocks, '"n_blocks"', 1, MODEL_LIMITS.blocks),
    n_heads: configInt(root.n_heads, '"n_heads"', 1, MODEL_LIMITS.heads),
    cond_dim: configInt(root.cond_dim, '"cond_dim"', 1, MODEL_LIMITS.hiddenSize),
    vocab_size: vocab,
    graph_type: 'absorb',
    scale_by_sigma: true,
    family: 'mdlm',
    time_conditioning: tc === true,
  };
  checkHeads(network);
  const length = root.model_length === undefined ? 1024 : configInt(root.model_length, '"model_length"', 1, MODEL_LIMITS.length);
  const path = typeof root._name_or_path === 'string' ? root._name_or_path.split('/').filter(Boolean).pop() : undefined;
  return { network, tokens: vocab - 1, noise: { type: 'loglinear', eps: 1e-3 }, length, name: path };
}

function checkHeads(network: NetworkConfig): void {
  const [h, n] = network.family === 'mdlm' ? ['hidden_dim', 'n_heads'] : ['model.hidden_size', 'model.n_heads'];
  if (network.hidden_size % network.n_heads) bad(`config.json: ${h} ${network.hidden_size} is not a multiple of ${n} ${network.n_heads}`);
  if ((network.hidden_size / network.n_heads) % 2) bad('config.json: the head size must be even (rotary embeddings)');
}

/**
 * Parse a checkpoint's config.json: an official-style SEDD one (sedd.md §1; `tokens`, `graph`,
 * `noise`, `model`), or an MDLM Hugging Face one (`model_type` "mdlm", {@link parseMdlmConfig}).
 */
export function parseCheckpointConfig(json: unknown): CheckpointConfig {
  const obj = configObject;
  const int = configInt;
  const root = obj(json, 'the file');
  if (root.model_type === MDLM_MODEL_TYPE) return parseMdlmConfig(root);
  const model = obj(root.model, '"model"');
  const graphType = obj(root.graph, '"graph"').type;
  if (graphType !== 'absorb' && graphType !== 'uniform') bad(`config.json: graph.type must be "absorb" or "uniform" (got ${JSON.stringify(graphType)})`);
  const noise = obj(root.noise, '"noise"');
  const tokens = int(root.tokens, '"tokens"', 2, MODEL_LIMITS.vocabSize - 1);
  const scaleRaw = model.scale_by_sigma;
  if (scaleRaw !== undefined && typeof scaleRaw !== 'boolean') bad('config.json: model.scale_by_sigma must be true or false');
  if (graphType === 'uniform' && scaleRaw === true) bad('config.json: model.scale_by_sigma is only defined for the absorbing graph');
  const network: NetworkConfig = {
    hidden_size: int(model.hidden_size, 'model.hidden_size', 1, MODEL_LIMITS.hiddenSize),
    n_blocks: int(model.n_blocks, 'model.n_blocks', 1, MODEL_LIMITS.blocks),
    n_heads: int(model.n_heads, 'model.n_heads', 1, MODEL_LIMITS.heads),
    cond_dim: int(model.cond_dim, 'model.cond_dim', 1, MODEL_LIMITS.hiddenSize),
    vocab_size: graphType === 'absorb' ? tokens + 1 : tokens,
    graph_type: graphType,
    scale_by_sigma: graphType === 'absorb' && scaleRaw !== false,
  };
  checkHeads(network);
  let n: CheckpointConfig['noise'];
  if (noise.type === 'loglinear') n = { type: 'loglinear', eps: 1e-3 };
  else if (noise.type === 'geometric') {
    const num = (v: unknown, d: number, what: string): number =>
      v === undefined ? d : typeof v === 'number' && v > 0 ? v : bad(`config.json: ${what} must be a positive number`);
    n = { type: 'geometric', sigma_min: num(noise.sigma_min, 1e-4, 'noise.sigma_min'), sigma_max: num(noise.sigma_max, 20, 'noise.sigma_max') };
  } else bad(`config.json: noise.type must be "loglinear" or "geometric" (got ${JSON.stringify(noise.type)})`);
  const length = model.length === undefined ? 1024 : int(model.length, 'model.length', 1, MODEL_LIMITS.length);
  const name = typeof model.name === 'string' ? model.name : undefined;
  return { network, tokens, noise: n, length, name };
}

/**
 * Every tensor of the official state dict for a configuration, in state-dict order (sedd.md §1).
 * MDLM's trunk has the same names and shapes (under `backbone.` in its checkpoint).
 */
export function expectedTensors(c: NetworkConfig): Map<string, number[]> {
  const H = c.hidden_size;
  const C = c.cond_dim;
  const m = new Map<string, number[]>();
  m.set('vocab_embed.embedding', [c.vocab_size, H]);
  m.set('sigma_map.mlp.0.weight', [C, 256]);
  m.set('sigma_map.mlp.0.bias', [C]);
  m.set('sigma_map.mlp.2.weight', [C, C]);
  m.set('sigma_map.mlp.2.bias', [C]);
  m.set('rotary_emb.inv_freq', [H / c.n_heads / 2]);
  for (let i = 0; i < c.n_blocks; i++) {
    const b = `blocks.${i}.`;
    m.set(`${b}norm1.weight`, [H]);
    m.set(`${b}attn_qkv.weight`, [3 * H, H]);
    m.set(`${b}attn_out.weight`, [H, H]);
    m.set(`${b}norm2.weight`, [H]);
    m.set(`${b}mlp.0.weight`, [4 * H, H]);
    m.set(`${b}mlp.0.bias`, [4 * H]);
    m.set(`${b}mlp.2.weight`, [H, 4 * H]);
    m.set(`${b}mlp.2.bias`, [H]);
    m.set(`${b}adaLN_modulation.weight`, [6 * H, C]);
    m.set(`${b}adaLN_modulation.bias`, [6 * H]);
  }
  m.set('output_layer.norm_final.weight', [H]);
  m.set('output_layer.linear.weight', [c.vocab_size, H]);
  m.set('output_layer.linear.bias', [c.vocab_size]);
  m.set('output_layer.adaLN_modulation.weight', [2 * H, C]);
  m.set('output_layer.adaLN_modulation.bias', [2 * H]);
  return m;
}

export interface TensorMapping {
  /** Expected name → name in the file. */
  names: Map<string, string>;
  /** The prefix of the copy used ('' for none). */
  prefix: string;
  /** Keys of other copies of the network that were ignored. */
  ignored: string[];
}

/**
 * Match a file's tensors against the expected set (see the module doc for prefixes). Throws one
 * ApiError('bad_request') listing every missing, unexpected and mis-shaped tensor.
 */
export function matchTensors(
  file: string,
  tensors: ReadonlyMap<string, { shape: number[]; dtype: string }>,
  expected: ReadonlyMap<string, number[]>,
  prefixSegments: ReadonlySet<string> = PREFIX_SEGMENTS,
): TensorMapping {
  const groups = new Map<string, Map<string, string>>();
  const unexpected: string[] = [];
  for (const key of tensors.keys()) {
    let found = false;
    const parts = key.split('.');
    for (let k = 0; k < parts.length && !found; k++) {
      if (k > 0 && !prefixSegments.has(parts[k - 1]!)) break;
      const name = parts.slice(k).join('.');
      if (expected.has(name)) {
        const prefix = parts
          .slice(0, k)
          .map((p) => `${p}.`)
          .join('');
        if (!groups.has(prefix)) groups.set(prefix, new Map());
        groups.get(prefix)!.set(name, key);
        found = true;
      }
    }
    if (!found) unexpected.push(key);
  }
  const isEma = (p: string): boolean => /(^|\.)(ema|ema_model|model_ema)\./.test(p);
  const ranked = [...groups.entries()].sort(
    ([pa, a], [pb, b]) => b.size - a.size || Number(isEma(pb)) - Number(isEma(pa)) || pa.length - pb.length || (pa < pb ? -1 : 1),
  );
  const [prefix, names] = ranked[0] ?? ['', new Map<string, string>()];
  const ignored = ranked.slice(1).flatMap(([, g]) => [...g.values()]);

  const missing = [...expected.keys()].filter((n) => !names.has(n) && !OPTIONAL.has(n)).map((n) => prefix + n);
  const misshaped: string[] = [];
  for (const [name, key] of names) {
    const t = tensors.get(key)!;
    const want = expected.get(name)!;
    if (t.shape.length !== want.length || t.shape.some((d, i) => d !== want[i]))
      misshaped.push(`${key} has shape ${fmtShape(t.shape)}, expected ${fmtShape(want)}`);
    else if (!['F32', 'F16', 'BF16'].includes(t.dtype)) misshaped.push(`${key} has dtype ${t.dtype} (supported: F32, F16, BF16)`);
  }
  const problems: string[] = [];
  if (missing.length) problems.push(`missing ${list(missing)}`);
  if (unexpected.length) problems.push(`unexpected ${list(unexpected.sort())}`);
  if (misshaped.length) problems.push(list(misshaped));
  if (problems.length) bad(`${file}: ${problems.join('; ')}`);
  return { names, prefix, ignored };
}

function fmtShape(s: readonly number[]): string {
  return `[${s.join(', ')}]`;
}

function list(items: string[]): string {
  return items.length > LIST_MAX ? `${items.slice(0, LIST_MAX).join(', ')} (and ${items.length - LIST_MAX} more)` : items.join(', ');
}

/** A configuration with its optional fields filled in (SEDD: no family, time conditioned). */
function normalConfig(c: NetworkConfig): Required<Omit<NetworkConfig, 'family'>> & { family: 'sedd' | 'mdlm' } {
  return { ...c, family: c.family ?? 'sedd', time_conditioning: c.time_conditioning ?? true };
}

function sameConfig(a: NetworkConfig, b: NetworkConfig): boolean {
  const x = normalConfig(a);
  const y = normalConfig(b);
  return (Object.keys(x) as (keyof typeof x)[]).every((k) => x[k] === y[k]) && Object.keys(y).length === Object.keys(x).length;
}

/** Read one template folder; ApiError('internal') if it is inconsistent. */
export async function readTemplate(dir: string): Promise<Template> {
  const broken = (m: string): never => {
    throw new ApiError('internal', `graph template ${dir}: ${m}`);
  };
  const json = JSON.parse(await readFile(join(dir, 'template.json'), 'utf8')) as Omit<Template, 'dir'> & { format?: string };
  if (json.format !== TEMPLATE_FORMAT) broken(`unknown format ${JSON.stringify(json.format)}`);
  const t: Template = { ...json, precision: json.precision ?? 'fp32', dir };
  if (t.precision !== 'fp32' && t.precision !== 'fp16') broken(`unknown precision ${JSON.stringify(t.precision)}`);
  const expected = expectedTensors(t.config);
  if (t.tensors.length !== expected.size) broken(`${t.tensors.length} tensors, the configuration has ${expected.size}`);
  let end = 0;
  for (const x of t.tensors) {
    const want = expected.get(x.name);
    if (!want || fmtShape(want) !== fmtShape(x.shape)) broken(`tensor ${x.name} ${fmtShape(x.shape)} is not in the configuration`);
    const width = x.dtype === 'float32' ? 4 : x.dtype === 'float16' ? 2 : 0;
    if (!width || x.bytes !== width * x.shape.reduce((a, b) => a * b, 1) || x.offset < end) broken(`tensor ${x.name} has a bad layout`);
    end = x.offset + x.bytes;
  }
  if (end !== t.weights_bytes) broken(`weights_bytes ${t.weights_bytes} ≠ end of the last tensor ${end}`);
  return t;
}

/** The template for a configuration and precision, or undefined. */
export async function findTemplate(dirs: readonly string[], config: NetworkConfig, precision: TemplatePrecision = 'fp32'): Promise<Template | undefined> {
  for (const root of dirs) {
    let names: string[];
    try {
      names = (await readdir(root)).sort();
    } catch {
      continue;
    }
    for (const name of names) {
      const dir = join(root, name);
      if (!existsSync(join(dir, 'template.json'))) continue;
      const raw = JSON.parse(await readFile(join(dir, 'template.json'), 'utf8')) as { config?: NetworkConfig; precision?: TemplatePrecision };
      if (raw.config && sameConfig(raw.config, config) && (raw.precision ?? 'fp32') === precision) return readTemplate(dir);
    }
  }
  return undefined;
}

/** Import a checkpoint folder; returns the installed package. See the module doc. */
export async function importModel(srcDir: string, options: ImportOptions): Promise<ModelPackage> {
  const src = resolve(srcDir);
  const st = await stat(src).catch(() => null);
  if (!st?.isDirectory()) bad(`${src} is not a folder`);
  let configJson: unknown;
  try {
    configJson = parseJsonText(await readModelJson(join(src, 'config.json')), 'config.json');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    bad(code === 'ENOENT' ? `${src} has no config.json (expected a SEDD checkpoint folder: config.json + model.safetensors)` : (e as Error).message);
  }
  const cfg = parseCheckpointConfig(configJson);

  const weightsPath = join(src, 'model.safetensors');
  if (!existsSync(weightsPath)) {
    if (existsSync(join(src, 'pytorch_model.bin'))) {
      bad(`${src} holds pytorch_model.bin but no model.safetensors; convert it first: ${CONVERT_COMMAND} ${JSON.stringify(src)}`);
    }
    bad(`${src} has no model.safetensors`);
  }

  const expected = expectedTensors(cfg.network);
  const mdlm = cfg.network.family === 'mdlm';
  const file = await SafetensorsFile.open(weightsPath);
  try {
    const mapping = matchTensors('model.safetensors', file.tensors, expected, mdlm ? MDLM_PREFIX_SEGMENTS : PREFIX_SEGMENTS);
    const precision = options.precision ?? 'fp32';
    if (!(PRECISION_IDS as readonly string[]).includes(precision))
      bad(`precision must be one of ${PRECISION_IDS.join(', ')}, got ${JSON.stringify(precision)}`);
    const template = await findTemplate(options.templateDirs, cfg.network, precision === 'fp16' ? 'fp16' : 'fp32');
    if (!template && precision === 'fp16' && (await findTemplate(options.templateDirs, cfg.network, 'fp32'))) {
      bad(
        `no float16 graph template for this configuration (${JSON.stringify(cfg.network)}); import it in fp32, or make one with: ` +
          `.venv-fp16/bin/python models/tools/make_templates.py --config ${JSON.stringify(join(src, 'config.json'))} ` +
          '--precision fp16 --out <Lacuna models folder>/templates/<name>-fp16',
      );
    }
    if (!template) {
      bad(
        `no graph template for this configuration (${JSON.stringify(cfg.network)}); ` +
          'only the official sedd-small, sedd-medium and mdlm-owt ship with Lacuna. ' +
          `Make one with: OPENBLAS_NUM_THREADS=1 python3 models/tools/make_templates.py --config ${JSON.stringify(join(src, 'config.json'))} ` +
          '--out <Lacuna models folder>/templates/<name>',
      );
    }
    const tokenizerSrc = await pickTokenizer(src, cfg, options);

    const id = options.id ?? packageIdFor(defaultId(src, cfg), precision);
    if (!/^[a-z0-9][a-z0-9._-]*$/.test(id) || id.length > 100) bad(`bad model id ${JSON.stringify(id)}`);
    await mkdir(options.modelsDir, { recursive: true });
    const dest = join(options.modelsDir, id);
    if (existsSync(dest)) bad(`a model "${id}" is already installed at ${dest}; remove it first`);

    let tmp = await mkdtemp(join(options.modelsDir, `.import-${id}-`));
    try {
      const weights = await writeWeights(file, mapping, template, join(tmp, template.weights));
      const graphDigest = await copyHashed(join(template.dir, template.graph), join(tmp, 'model.onnx'));
      if (graphDigest.sha256 !== template.graph_sha256)
        throw new ApiError('internal', `graph template ${template.dir}: ${template.graph} does not match its sha256 in template.json`);
      const tok = await copyHashed(tokenizerSrc.path, join(tmp, 'tokenizer.json'));
      const kind = mdlm ? 'MDLM' : 'SEDD';
      const title = cfg.name ? `${kind} ${cfg.name}` : `${kind} ${basename(src)}`;
      const n = cfg.network;
      const timeConditioned = n.time_conditioning ?? true;
      const card = [
        `# ${title}`,
        '',
        `Imported by Lacuna from ${src} (config.json + model.safetensors${mapping.prefix ? `, tensors under "${mapping.prefix}"` : ''}).`,
        '',
        mdlm
          ? 'Masked Diffusion Language Model (MDLM; Sahoo et al., 2024): the SEDD DDiT trunk predicting the clean token (SUBS parameterisation), ' +
            `hidden ${n.hidden_size}, ${n.n_blocks} blocks, ${n.n_heads} heads, cond ${n.cond_dim}, vocabulary ${n.vocab_size} (MASK ${n.vocab_size - 1}), ` +
            `${timeConditioned ? 'time conditioned' : 'not time conditioned'}, ${cfg.noise.type} noise, trained length ${cfg.length}. ` +
            'The graph turns its x0-posterior into the absorbing-graph score the sampler uses: log p(x0 = y | x_t) − log(e^σ − 1) at masked positions.'
          : `Score Entropy Discrete Diffusion (Lou, Meng & Ermon, 2024) network: hidden ${n.hidden_size}, ${n.n_blocks} blocks, ${n.n_heads} heads, ` +
            `cond ${n.cond_dim}, vocabulary ${n.vocab_size}, ${n.graph_type} graph, ${cfg.noise.type} noise, trained length ${cfg.length}.`,
        precision === 'fp16'
          ? `Graph from template ${basename(template.dir)}: float16 weights and compute (float32 for the noise level, rotary tables and the token draw), ` +
            'for GPUs; weights rounded to float16 (nearest even). On a CPU the fp32 import is faster and exact.'
          : `Graph from template ${basename(template.dir)}; weights converted to float32.`,
        '',
      ].join('\n');
      await writeFile(join(tmp, 'MODEL_CARD.md'), card);
      const manifest = {
        format: MODEL_FORMAT,
        id,
        name: title,
        description:
          `Imported ${kind} checkpoint (${n.graph_type}, hidden ${n.hidden_size}, ` +
          `${n.n_blocks} blocks${precision === 'fp16' ? ', float16 for GPUs' : ''}).`,
        graph: { type: n.graph_type },
        noise: cfg.noise,
        vocab_size: n.vocab_size,
        mask_id: n.graph_type === 'absorb' ? n.vocab_size - 1 : null,
        length: cfg.length,
        scale_by_sigma: n.scale_by_sigma,
        time_conditioned: timeConditioned,
        tokenizer: { type: 'byte-bpe', file: 'tokenizer.json', eos_id: tokenizerSrc.eosId },
        network: { file: 'model.onnx', config: { hidden_size: n.hidden_size, n_blocks: n.n_blocks, n_heads: n.n_heads, cond_dim: n.cond_dim } },
        // σ-conditioned networks fill in fast mode by default: its measured cost is within the noise
        // of exact (docs/cpu-speed.md: a σ-conditioned lacuna-mini, 48 blanks, the judge's NLL
        // −0.038 ± 0.043) at about half the time; time-independent ones are exact at that speed anyway.
        sampling: { default_steps: 64, sampler: 'analytic', ...(timeConditioned ? { mode: 'fast' as const } : {}) },
        precision: precision === 'fp16' ? 'fp16' : 'fp32',
        files: {
          'model.onnx': { bytes: graphDigest.bytes, sha256: graphDigest.sha256 },
          [template.weights]: weights,
          'tokenizer.json': { bytes: tok.bytes, sha256: tok.sha256 },
        },
      };
      await writeFile(join(tmp, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
      if (precision === 'int8') {
        // The int8 package is made from the complete fp32 one, which is then deleted.
        const fp32 = tmp;
        tmp = await mkdtemp(join(options.modelsDir, `.import-${id}-`));
        try {
          await quantizePackage(fp32, tmp, { id });
        } finally {
          await rm(fp32, { recursive: true, force: true });
        }
      }
      try {
        await rename(tmp, dest);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EEXIST' || code === 'ENOTEMPTY') bad(`a model "${id}" is already installed at ${dest}; remove it first`);
        throw e;
      }
    } catch (e) {
      await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
      throw e;
    }
    return await readModelPackage(dest);
  } finally {
    await file.close().catch(() => undefined);
  }
}

function defaultId(src: string, cfg: CheckpointConfig): string {
  // MDLM: the Hub repository's name (kuleshov-group/mdlm-owt → mdlm-owt); SEDD: sedd-<model.name>
  const raw = cfg.name ? (cfg.network.family === 'mdlm' ? cfg.name : `sedd-${cfg.name}`) : basename(src);
  return (
    raw
      .toLowerCase()
      .replace(/[^a-z0-9._-]+/g, '-')
      .replace(/^[^a-z0-9]+/, '') || 'sedd-imported'
  );
}

async function pickTokenizer(src: string, cfg: CheckpointConfig, options: ImportOptions): Promise<{ path: string; eosId: number | null }> {
  const own = join(src, 'tokenizer.json');
  const path = existsSync(own) ? own : cfg.tokens === 50257 && options.gpt2Tokenizer ? options.gpt2Tokenizer : undefined;
  if (!path) {
    const what =
      cfg.network.family === 'mdlm' ? `vocab_size = ${cfg.network.vocab_size} is not GPT-2's 50257 + MASK` : `tokens = ${cfg.tokens} is not GPT-2's 50257`;
    bad(`${src} has no tokenizer.json and config.json's ${what}; put the tokenizer.json the model was trained with into the folder`);
  }
  let tok: TokenizerFacts;
  try {
    // On a worker thread: a tokenizer.json may be up to 64 MiB (tokenizer-inspect.ts).
    tok = await inspectTokenizer(path);
  } catch (e) {
    if (e instanceof ApiError) throw e;
    bad(`${path}: ${(e as Error).message}`);
  }
  if (tok.size !== cfg.tokens)
    bad(
      `${path} has ${tok.size} token ids but config.json says ` +
        `${cfg.network.family === 'mdlm' ? `vocab_size = ${cfg.network.vocab_size} (${cfg.tokens} tokens + MASK)` : `tokens = ${cfg.tokens}`}`,
    );
  return { path, eosId: tok.eosId };
}

/** weights.bin per the template: tensors in order at their offsets, zero gaps; streamed and hashed. */
async function writeWeights(file: SafetensorsFile, mapping: TensorMapping, template: Template, path: string): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256');
  const out = await open(path, 'wx');
  let pos = 0;
  const put = async (bytes: Uint8Array): Promise<void> => {
    hash.update(bytes);
    let done = 0;
    while (done < bytes.length) done += (await out.write(bytes, done, bytes.length - done)).bytesWritten;
    pos += bytes.length;
  };
  try {
    for (const t of template.tensors) {
      if (t.offset > pos) await put(new Uint8Array(t.offset - pos));
      const key = mapping.names.get(t.name);
      const encode = (values: Float32Array): Uint8Array => {
        if (t.dtype === 'float32') return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
        const half = toHalf(values);
        for (let i = 0; i < half.length; i++) {
          if ((half[i]! & 0x7c00) === 0x7c00 && Number.isFinite(values[i]!)) {
            bad(`model.safetensors: ${key ?? t.name} holds ${values[i]}, outside the float16 range (±65504); import this checkpoint in fp32`);
          }
        }
        return new Uint8Array(half.buffer);
      };
      if (key !== undefined) {
        for await (const chunk of file.readFloat32Chunks(key)) await put(encode(chunk));
      } else if (t.default) {
        await put(encode(Float32Array.from(t.default)));
      } else {
        throw new ApiError('internal', `graph template ${template.dir}: no value for ${t.name}`);
      }
      if (pos !== t.offset + t.bytes) throw new ApiError('internal', `weights.bin: ${t.name} wrote ${pos - t.offset} bytes, expected ${t.bytes}`);
    }
  } finally {
    await out.close();
  }
  return { bytes: pos, sha256: hash.digest('hex') };
}

async function copyHashed(from: string, to: string): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256');
  const out = await open(to, 'wx');
  let bytes = 0;
  try {
    for await (const chunk of createReadStream(from)) {
      const b = chunk as Buffer;
      hash.update(b);
      let done = 0;
      while (done < b.length) done += (await out.write(b, done, b.length - done)).bytesWritten;
      bytes += b.length;
    }
  } finally {
    await out.close();
  }
  return { bytes, sha256: hash.digest('hex') };
}

/**
 * models.import and models.download for the core: templates from `<folder>/templates` and GPT-2's
 * tokenizer from `<folder>/gpt2/tokenizer.json` of the model folders (the bundled `models/` first),
 * the package into `<dataDir>/models/<id>/` (id: ImportOptions.id's default unless given).
 */
export function importIntoDataDir(srcDir: string, dataDir: string, modelDirs: readonly string[], precision?: PrecisionId, id?: string): Promise<ModelPackage> {
  const gpt2 = modelDirs.map((d) => join(d, 'gpt2', 'tokenizer.json')).find((p) => existsSync(p));
  return importModel(srcDir, {
    templateDirs: modelDirs.map((d) => join(d, 'templates')),
    ...(gpt2 ? { gpt2Tokenizer: gpt2 } : {}),
    modelsDir: join(dataDir, 'models'),
    ...(precision ? { precision } : {}),
    ...(id ? { id } : {}),
  });
}
