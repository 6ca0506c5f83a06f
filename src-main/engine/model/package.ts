/**
 * Model packages (models/FORMAT.md, format "lacuna-model/1"): a folder with manifest.json naming
 * every file the engine reads, each checked against its recorded size and SHA-256.
 *
 * readModelPackage is cheap (manifest, file presence and sizes) and suits listing; verifyModelFiles
 * hashes the files and belongs before a model is loaded. Errors are ApiError('model_error') whose
 * message names the folder and the offending field or file.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { z } from 'zod';
import { ApiError } from '../../common/api';
import { FILL_SCHEMAS, UnmaskingOrder } from '../../common/fill-options';
import { parseJsonText } from '../../common/json-text';
import { PRECISION_IDS } from '../../common/precision';
import { MODEL_LIMITS, readModelJson } from './limits';

export const MODEL_FORMAT = 'lacuna-model/1';
export const MANIFEST_FILE = 'manifest.json';

const FileName = z
  .string()
  .min(1)
  .refine((f) => !isAbsolute(f) && !f.includes('\\') && f.split('/').every((p) => p !== '' && p !== '.' && p !== '..'), {
    message: 'must be a relative path inside the package folder (no "..", no absolute path)',
  });

const FileEntry = z.object({
  bytes: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits'),
});

const Noise = z.discriminatedUnion('type', [
  z.object({ type: z.literal('loglinear'), eps: z.number().gt(0).lt(1).default(1e-3) }),
  z.object({ type: z.literal('geometric'), sigma_min: z.number().positive(), sigma_max: z.number().positive() }),
]);

export const Manifest = z
  .object({
    format: z.literal(MODEL_FORMAT),
    id: z
      .string()
      .regex(/^[a-z0-9][a-z0-9._-]*$/, 'must match [a-z0-9][a-z0-9._-]*')
      .max(100),
    name: z.string().min(1),
    description: z.string().default(''),
    graph: z.object({ type: z.enum(['absorb', 'uniform']) }),
    noise: Noise,
    vocab_size: z.number().int().min(2).max(MODEL_LIMITS.vocabSize),
    mask_id: z.number().int().nonnegative().nullable(),
    length: z.number().int().positive().max(MODEL_LIMITS.length),
    scale_by_sigma: z.boolean(),
    time_conditioned: z.boolean(),
    tokenizer: z.object({
      type: z.literal('byte-bpe'),
      file: FileName,
      eos_id: z.number().int().nonnegative().nullish(),
    }),
    network: z.object({
      file: FileName,
      config: z.record(z.string(), z.unknown()).optional(),
    }),
    sampling: z
      .object({
        default_steps: FILL_SCHEMAS.steps.optional(),
        sampler: z.string().optional(),
        /** Recommended temperature of the token choice (engine.ts; FillRequest.temperature). */
        temperature: FILL_SCHEMAS.temperature.optional(),
        /** Recommended nucleus mass (token-choice.ts; FillRequest.topP). */
        top_p: FILL_SCHEMAS.topP.optional(),
        /** Recommended unmasking order (token-choice.ts; FillRequest.unmasking). */
        unmasking: UnmaskingOrder.optional(),
        /** Default mode (FillRequest.mode): 'fast' where its measured quality is within noise of exact. */
        mode: FILL_SCHEMAS.mode.optional(),
        /** Default window in tokens (FillRequest.context); at most `length`. */
        context: FILL_SCHEMAS.context.optional(),
      })
      .optional(),
    files: z.record(FileName, FileEntry),
    /** A small demonstration model that writes rough text: the app says so and offers a real one. */
    demo: z.boolean().optional(),
    /** How the network's weights are stored (common/precision.ts); absent: not recorded (fp32 or an fp16 import made before it was). */
    precision: z.enum(PRECISION_IDS).optional(),
    /** int8 packages: the largest |q| of the weights (quantize.ts): 127 needs VNNI on x86, 63 runs anywhere. */
    int8_range: z.union([z.literal(127), z.literal(63)]).optional(),
  })
  .superRefine((m, ctx) => {
    if (m.graph.type === 'absorb' && m.mask_id !== m.vocab_size - 1) {
      ctx.addIssue({ code: 'custom', path: ['mask_id'], message: `must be vocab_size − 1 = ${m.vocab_size - 1} for an absorbing model` });
    }
    if (m.graph.type === 'uniform' && m.mask_id !== null) {
      ctx.addIssue({ code: 'custom', path: ['mask_id'], message: 'must be null for a uniform model' });
    }
    const analytic = m.graph.type === 'absorb' && m.noise.type === 'loglinear';
    if (m.sampling?.temperature !== undefined && m.sampling.temperature !== 1 && !analytic) {
      ctx.addIssue({
        code: 'custom',
        path: ['sampling', 'temperature'],
        message: 'a temperature other than 1 needs the absorbing graph with log-linear noise',
      });
    }
    if (m.sampling?.top_p !== undefined && m.sampling.top_p !== 1 && !analytic) {
      ctx.addIssue({ code: 'custom', path: ['sampling', 'top_p'], message: 'a top_p below 1 needs the absorbing graph with log-linear noise' });
    }
    if (m.sampling?.unmasking !== undefined && m.sampling.unmasking !== 'random' && !analytic) {
      ctx.addIssue({ code: 'custom', path: ['sampling', 'unmasking'], message: 'confident unmasking needs the absorbing graph with log-linear noise' });
    }
    if (m.noise.type === 'geometric' && !(m.noise.sigma_max > m.noise.sigma_min)) {
      ctx.addIssue({ code: 'custom', path: ['noise', 'sigma_max'], message: 'must be greater than sigma_min' });
    }
    for (const [field, file] of [
      ['tokenizer', m.tokenizer.file],
      ['network', m.network.file],
    ] as const) {
      if (!Object.prototype.hasOwnProperty.call(m.files, file)) {
        ctx.addIssue({
          code: 'custom',
          path: [field, 'file'],
          message: `"${file}" has no entry in files (every file the engine reads needs its size and sha256)`,
        });
      }
    }
  });
export type Manifest = z.output<typeof Manifest>;

export interface ModelPackage {
  /** Absolute path of the package folder. */
  dir: string;
  manifest: Manifest;
  /** Absolute paths of the files the engine reads. */
  tokenizerPath: string;
  networkPath: string;
}

function fail(dir: string, message: string): never {
  throw new ApiError('model_error', `model package ${dir}: ${message}`);
}

/** Read and validate manifest.json; check that every listed file exists inside the folder with its recorded size. */
export async function readModelPackage(dirIn: string): Promise<ModelPackage> {
  const dir = resolve(dirIn);
  const manifestPath = resolve(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = await readModelJson(manifestPath);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    fail(dir, code === 'ENOENT' ? `${MANIFEST_FILE} is missing` : `cannot read ${MANIFEST_FILE} (${(e as Error).message})`);
  }
  let json: unknown;
  try {
    json = parseJsonText(text, MANIFEST_FILE);
  } catch (e) {
    fail(dir, (e as Error).message);
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) fail(dir, `${MANIFEST_FILE} must hold a JSON object`);
  const format = (json as { format?: unknown }).format;
  if (format !== MODEL_FORMAT) {
    fail(
      dir,
      format === undefined
        ? `${MANIFEST_FILE} has no "format" field (expected "${MODEL_FORMAT}")`
        : `unknown format ${JSON.stringify(format)} in ${MANIFEST_FILE} (this version of Lacuna reads "${MODEL_FORMAT}")`,
    );
  }
  const parsed = Manifest.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 3).map((i) => `field "${i.path.join('.') || '(root)'}": ${i.message}`);
    fail(dir, `invalid ${MANIFEST_FILE}: ${issues.join('; ')}`);
  }
  const manifest = parsed.data;

  const realDir = await realpath(dir).catch(() => dir);
  for (const [name, entry] of Object.entries(manifest.files)) {
    const path = await resolveInside(dir, realDir, name);
    const st = await stat(path).catch(() => null);
    if (!st || !st.isFile()) fail(dir, `model file ${name} is missing`);
    if (st.size !== entry.bytes) {
      fail(dir, `model file ${name} is corrupt (size mismatch: ${st.size} bytes, manifest.json says ${entry.bytes}; truncated or replaced?)`);
    }
  }
  return {
    dir,
    manifest,
    tokenizerPath: resolve(dir, manifest.tokenizer.file),
    networkPath: resolve(dir, manifest.network.file),
  };
}

/**
 * Re-read and hash every listed file (models.verify): one line per problem (missing, size or sha256
 * mismatch), and the bytes hashed. Never throws for a bad file.
 */
export async function checkModelFiles(pkg: ModelPackage): Promise<{ problems: string[]; bytes: number }> {
  const problems: string[] = [];
  let bytes = 0;
  const realDir = await realpath(pkg.dir).catch(() => pkg.dir);
  for (const [name, entry] of Object.entries(pkg.manifest.files)) {
    let path: string;
    try {
      path = await resolveInside(pkg.dir, realDir, name);
    } catch (e) {
      problems.push(`${name}: ${(e as Error).message}`);
      continue;
    }
    const st = await stat(path).catch(() => null);
    if (!st?.isFile()) {
      problems.push(`${name}: missing`);
      continue;
    }
    if (st.size !== entry.bytes) {
      problems.push(`${name}: ${st.size} bytes, the manifest says ${entry.bytes} (truncated or replaced)`);
      continue;
    }
    try {
      const digest = await sha256File(path);
      bytes += st.size;
      if (digest !== entry.sha256) problems.push(`${name}: sha256 mismatch (the file is corrupt)`);
    } catch (e) {
      problems.push(`${name}: cannot read (${(e as Error).message})`);
    }
  }
  return { problems, bytes };
}

/** Hash every listed file and compare with the manifest. */
export async function verifyModelFiles(pkg: ModelPackage): Promise<void> {
  for (const [name, entry] of Object.entries(pkg.manifest.files)) {
    const path = resolve(pkg.dir, name);
    let digest: string;
    try {
      digest = await sha256File(path);
    } catch (e) {
      fail(pkg.dir, `cannot read model file ${name} (${(e as Error).message})`);
    }
    if (digest !== entry.sha256) fail(pkg.dir, `model file ${name} is corrupt (sha256 mismatch)`);
  }
}

/** readModelPackage, then verifyModelFiles. */
export async function loadModelPackage(dir: string): Promise<ModelPackage> {
  const pkg = await readModelPackage(dir);
  await verifyModelFiles(pkg);
  return pkg;
}

export function sha256File(path: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('error', reject)
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => resolvePromise(hash.digest('hex')));
  });
}

/** The absolute path of a listed file, refusing anything that leaves the folder (also through symlinks). */
async function resolveInside(dir: string, realDir: string, name: string): Promise<string> {
  const path = resolve(dir, name);
  if (!isWithin(dir, path)) fail(dir, `file "${name}" lies outside the package folder`);
  const real = await realpath(path).catch(() => null);
  if (real !== null && !isWithin(realDir, real)) fail(dir, `file "${name}" links outside the package folder`);
  return path;
}

function isWithin(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel !== '' && !rel.startsWith('..' + sep) && rel !== '..' && !isAbsolute(rel);
}
