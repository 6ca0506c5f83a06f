/**
 * The installed models: every subfolder holding a manifest.json in a list of folders
 * (paths.ts modelDirs: bundled models first, then the ones imported into the data folder).
 * A broken package is listed with its error instead of failing the whole listing.
 */
import { readdir } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { ApiError, type ModelInfo } from '../../common/api';
import { DEFAULT_MODEL_ID } from '../../platform/paths';
import { MANIFEST_FILE, readModelPackage, type ModelPackage } from './package';
import { supportsTemperature } from '../sampling/choice';
import { DEFAULT_STEPS } from '../../common/fill-options';

export interface BrokenModel {
  dir: string;
  error: string;
}

export interface ModelListing {
  models: ModelPackage[];
  broken: BrokenModel[];
}

export class ModelRegistry {
  constructor(
    readonly folders: readonly string[],
    readonly defaultId: string = DEFAULT_MODEL_ID,
  ) {}

  /**
   * Scan the folders (in order; subfolders by name). Folders that do not exist are skipped, as are
   * subfolders without manifest.json and hidden ones. When two packages share an id the first wins
   * and the later one is reported as broken.
   */
  async scan(): Promise<ModelListing> {
    const models: ModelPackage[] = [];
    const broken: BrokenModel[] = [];
    const byId = new Map<string, ModelPackage>();
    for (const folder of this.folders) {
      let names: string[];
      try {
        const entries = await readdir(folder, { withFileTypes: true });
        names = entries.filter((e) => (e.isDirectory() || e.isSymbolicLink()) && !e.name.startsWith('.')).map((e) => e.name);
      } catch {
        continue;
      }
      names.sort();
      for (const name of names) {
        const dir = resolve(folder, name);
        if (!existsSync(join(dir, MANIFEST_FILE))) continue;
        try {
          const pkg = await readModelPackage(dir);
          const first = byId.get(pkg.manifest.id);
          if (first) {
            broken.push({ dir, error: `model package ${dir}: id "${pkg.manifest.id}" is already used by ${first.dir}` });
            continue;
          }
          byId.set(pkg.manifest.id, pkg);
          models.push(pkg);
        } catch (e) {
          broken.push({ dir, error: e instanceof Error ? e.message : String(e) });
        }
      }
    }
    return { models, broken };
  }

  /** The id used when none is given: defaultId if installed, else the first model found. */
  resolveDefaultId(listing: ModelListing): string | undefined {
    return listing.models.some((m) => m.manifest.id === this.defaultId) ? this.defaultId : listing.models[0]?.manifest.id;
  }

  /** A model by id (the default model when id is omitted); ApiError('not_found') when absent, naming a broken package's error if that is why. */
  async find(id?: string): Promise<ModelPackage> {
    const listing = await this.scan();
    const wanted = id ?? this.resolveDefaultId(listing);
    const found = listing.models.find((m) => m.manifest.id === wanted);
    if (found) return found;
    if (wanted === undefined) {
      const why = listing.broken.length ? ` (broken: ${listing.broken.map((b) => b.error).join('; ')})` : '';
      throw new ApiError('not_found', `no model is installed; looked in ${this.folders.join(', ')}${why}`);
    }
    const hint = listing.broken.find((b) => basename(b.dir) === wanted);
    throw new ApiError('not_found', `model "${wanted}" is not installed${hint ? `: ${hint.error}` : ''}`);
  }

  /** models.list: the working models as API ModelInfo, default flagged. */
  async list(): Promise<ModelInfo[]> {
    const listing = await this.scan();
    const def = this.resolveDefaultId(listing);
    return listing.models.map((p) => modelInfo(p, p.manifest.id === def));
  }
}

/** `removable`: the package was imported into the data folder (not bundled with the app). */
export function modelInfo(pkg: ModelPackage, isDefault: boolean, removable = false): ModelInfo {
  const m = pkg.manifest;
  const files = Object.entries(m.files).map(([name, f]) => ({ name, bytes: f.bytes, sha256: f.sha256 }));
  return {
    id: m.id,
    name: m.name,
    description: m.description,
    dir: pkg.dir,
    isDefault,
    vocabSize: m.vocab_size,
    length: m.length,
    graph: m.graph.type,
    noise: m.noise.type,
    timeConditioned: m.time_conditioned !== false,
    defaultSteps: m.sampling?.default_steps ?? DEFAULT_STEPS,
    defaultTemperature: m.sampling?.temperature ?? 1,
    defaultTopP: m.sampling?.top_p ?? 1,
    defaultUnmasking: m.sampling?.unmasking ?? 'random',
    defaultMode: m.sampling?.mode ?? 'exact',
    precision: m.precision ?? null,
    temperatureSupported: supportsTemperature(m),
    bytes: files.reduce((n, f) => n + f.bytes, 0),
    files,
    removable,
    demo: m.demo === true,
  };
}

/** models.list for a list of folders: the working packages as ModelInfo, the default flagged. */
export function listModels(folders: readonly string[], defaultId: string = DEFAULT_MODEL_ID): Promise<ModelInfo[]> {
  return new ModelRegistry(folders, defaultId).list();
}

/**
 * One package folder as ModelInfo (manifest validated, files present with their recorded sizes;
 * hashes are checked when the engine loads it). Rejects with ApiError('model_error') naming the problem.
 */
export async function readModelInfo(dir: string, defaultId: string = DEFAULT_MODEL_ID): Promise<ModelInfo> {
  const pkg = await readModelPackage(dir);
  return modelInfo(pkg, pkg.manifest.id === defaultId);
}
