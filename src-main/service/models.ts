/**
 * The models a front sees (models.* of the contract): the installed packages as one catalogue
 * (explicit packages first, then the registry's folders; re-read on every call, a few small JSON
 * files, so a model imported while the app runs shows up), which model a fill or score means,
 * imports, downloads from the catalogue with progress and cancel, verification and removal.
 */
import { basename, isAbsolute, join, relative, resolve as resolvePath, sep } from 'node:path';
import { mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { ApiError } from '../common/api';
import type { ApiEvent, ModelInfo } from '../common/api';
import { ModelRegistry, modelInfo } from '../engine/model/registry';
import { checkModelFiles, readModelPackage, type ModelPackage } from '../engine/model/package';
import { importIntoDataDir } from '../engine/model/import';
import { CATALOGUE, catalogueEntry, findCatalogueSource, stagedDownload } from '../engine/model/catalogue';
import { downloadHubFiles, hubEndpoint } from '../engine/model/download';
import type { Handlers, RunningJobs } from './handlers';
import { defaultPrecision, packageIdFor } from '../common/precision';
import { listDevices } from '../engine/runtime/providers';
import { exportForServer } from '../engine/model/server-export';
import { quantizePackage } from '../engine/model/quantize';

export interface ModelShelfOptions {
  dataDir: string;
  modelDirs: string[];
  modelPackages?: string[] | undefined;
  defaultModel: string;
  /** Where downloads read HF_ENDPOINT, HF_TOKEN and the proxy variables. */
  env: NodeJS.ProcessEnv;
  emit: (event: ApiEvent) => void;
  /** The core's requests in flight (a download is one, cancelled by fill.cancel like the others). */
  running: RunningJobs;
}

type ModelMethods =
  | 'models.list'
  | 'models.import'
  | 'models.catalogue'
  | 'models.download'
  | 'models.discardDownload'
  | 'models.verify'
  | 'models.remove'
  | 'models.exportServer'
  | 'models.quantize';

export function createModelShelf(options: ModelShelfOptions) {
  const { defaultModel, env, emit, running } = options;
  /** Downloads in flight: catalogue id → requestId (one download per entry at a time). */
  const downloading = new Map<string, string>();

  interface Catalog {
    models: ModelInfo[];
    /** Packages that failed to read, with why. */
    broken: { dir: string; error: string }[];
    /** Model id → the manifest's sampling.sampler ('analytic' when unnamed), for generation records. */
    samplers: Map<string, string>;
  }

  /**
   * Re-read on every call (a few small JSON files), so a model imported while the app runs shows up.
   * Explicit packages come first and win an id clash; then the registry's folders, in order.
   */
  /** Models imported into the data folder (models.import writes there); the only removable ones. */
  const importedModels = resolvePath(options.dataDir, 'models');
  function isImported(dir: string): boolean {
    const rel = relative(importedModels, resolvePath(dir));
    return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) && !rel.includes(sep);
  }

  async function catalog(): Promise<Catalog> {
    try {
      const packages: ModelPackage[] = [];
      const broken: Catalog['broken'] = [];
      for (const dir of options.modelPackages ?? []) {
        try {
          packages.push(await readModelPackage(dir));
        } catch (err) {
          broken.push({ dir, error: messageOf(err) });
        }
      }
      const registry = new ModelRegistry(options.modelDirs, defaultModel);
      const scanned = await registry.scan();
      broken.push(...scanned.broken);
      for (const pkg of scanned.models) {
        const first = packages.find((p) => p.manifest.id === pkg.manifest.id);
        if (first) broken.push({ dir: pkg.dir, error: `model package ${pkg.dir}: id "${pkg.manifest.id}" is already used by ${first.dir}` });
        else packages.push(pkg);
      }
      const listing = { models: packages, broken };
      const def = registry.resolveDefaultId(listing);
      const samplers = new Map(packages.map((p) => [p.manifest.id, p.manifest.sampling?.sampler ?? 'analytic']));
      return { models: packages.map((p) => modelInfo(p, p.manifest.id === def, isImported(p.dir))), broken, samplers };
    } catch (err) {
      throw err instanceof ApiError ? err : new ApiError('model_error', `cannot list models: ${messageOf(err)}`);
    }
  }

  async function resolveModel(id: string | undefined): Promise<ModelInfo & { sampler: string }> {
    const { models, broken, samplers } = await catalog();
    const found = id === undefined ? models.find((m) => m.isDefault) : models.find((m) => m.id === id);
    if (found) return { ...found, sampler: samplers.get(found.id) ?? 'analytic' };
    const wanted = id === undefined ? 'no model is installed' : `unknown model "${id}"`;
    const available = models.length
      ? `available: ${models.map((m) => m.id).join(', ')}`
      : `no model packages found in ${[...(options.modelPackages ?? []), ...options.modelDirs].join(', ')}`;
    const hint = broken.find((b) => id !== undefined && basename(b.dir) === id);
    throw new ApiError('not_found', `${wanted}; ${available}${hint ? ` (${hint.error})` : ''}`);
  }

  /** Where a download is put together (and kept, for resuming) until it is installed. */
  function stagingDir(id: string): string {
    return join(options.dataDir, 'downloads', id);
  }

  const handlers: Pick<Handlers, ModelMethods> = {
    'models.list': async () => (await catalog()).models,
    'models.import': async (p) => {
      const precision = p.precision ?? defaultPrecision(await listDevices(), false);
      const pkg = await importIntoDataDir(p.dir, options.dataDir, options.modelDirs, precision);
      return (await catalog()).models.find((m) => m.dir === pkg.dir) ?? modelInfo(pkg, false, true);
    },
    'models.catalogue': async () => {
      const installed = new Set((await catalog()).models.map((m) => m.id));
      const host = hubEndpoint(env).host;
      return Promise.all(
        CATALOGUE.map(async (source) => {
          const partial = await stagedDownload(stagingDir(source.id));
          const requestId = downloading.get(source.id);
          return catalogueEntry(source, { host, installed, ...(partial ? { partial } : {}), ...(requestId ? { running: requestId } : {}) });
        }),
      );
    },
    'models.download': async (p) => {
      const source = findCatalogueSource(p.id);
      if (!source) throw new ApiError('not_found', `"${p.id}" is not in the catalogue; it has ${CATALOGUE.map((c) => c.id).join(', ')}`);
      const precision = p.precision ?? defaultPrecision(await listDevices());
      const id = packageIdFor(source.id, precision);
      if ((await catalog()).models.some((m) => m.id === id)) throw new ApiError('conflict', `${id} is already installed`);
      const other = downloading.get(source.id);
      if (other !== undefined) throw new ApiError('conflict', `${source.name} is already being downloaded`);
      if (running.has(p.requestId)) throw new ApiError('bad_request', `requestId: a request with id "${p.requestId}" is already running`);
      const state = { cancelled: false, abort: new AbortController() };
      running.set(p.requestId, state);
      downloading.set(source.id, p.requestId);
      const progress = (e: Omit<Extract<ApiEvent, { type: 'download.progress' }>, 'type' | 'requestId' | 'id'>): void =>
        emit({ type: 'download.progress', requestId: p.requestId, id: source.id, ...e });
      try {
        const staging = stagingDir(source.id);
        progress({ phase: 'checking', bytesDone: 0, bytesTotal: source.downloadBytes, bytesPerSecond: 0 });
        const download = downloadHubFiles({
          repo: source.repo,
          revision: source.revision,
          files: [...source.files],
          stagingDir: staging,
          env,
          signal: state.abort.signal,
          // Room for the installed package too: the weights once more, in the chosen precision (int8
          // is made from an fp32 copy, which is deleted once it is written).
          extraBytesNeeded:
            precision === 'fp16' ? Math.ceil(source.downloadBytes / 2) : precision === 'int8' ? Math.ceil(source.downloadBytes * 1.5) : source.downloadBytes,
          onProgress: (d) =>
            progress({
              phase: 'downloading',
              file: d.file,
              bytesDone: d.bytesDone,
              bytesTotal: d.bytesTotal,
              bytesPerSecond: d.bytesPerSecond,
              ...(d.secondsLeft !== undefined ? { secondsLeft: d.secondsLeft } : {}),
            }),
        });
        // A damaged download starts over: nothing of it is kept for a resume. Anything else (cancel,
        // offline, disk full) keeps what arrived.
        await download.catch(async (err: unknown) => {
          if (err instanceof ApiError && err.code === 'model_error') await rm(staging, { recursive: true, force: true });
          throw err;
        });
        // Every file verified: from here on the download is not cancellable; the import writes the
        // package into a hidden folder and renames it into place only when complete.
        progress({ phase: 'installing', bytesDone: source.downloadBytes, bytesTotal: source.downloadBytes, bytesPerSecond: 0 });
        const pkg = await importIntoDataDir(staging, options.dataDir, options.modelDirs, precision, id);
        await rm(staging, { recursive: true, force: true });
        return (await catalog()).models.find((m) => m.dir === pkg.dir) ?? modelInfo(pkg, false, true);
      } finally {
        running.delete(p.requestId);
        downloading.delete(source.id);
      }
    },
    'models.discardDownload': async (p) => {
      const source = findCatalogueSource(p.id);
      if (!source) throw new ApiError('not_found', `"${p.id}" is not in the catalogue`);
      if (downloading.has(source.id)) throw new ApiError('conflict', `${source.name} is being downloaded; cancel it first`);
      await rm(stagingDir(source.id), { recursive: true, force: true });
      return { ok: true as const };
    },
    'models.verify': async (p) => {
      const started = performance.now();
      const info = await resolveModel(p.id);
      const { problems, bytes } = await checkModelFiles(await readModelPackage(info.dir));
      return { id: info.id, ok: problems.length === 0, problems, bytes, durationMs: performance.now() - started };
    },
    'models.remove': async (p) => {
      const info = await resolveModel(p.id);
      if (!info.removable) throw new ApiError('bad_request', `model "${info.id}" comes with Lacuna and cannot be removed`);
      // Hide it first (the registry skips hidden folders), then delete: an interrupted removal never
      // leaves a half-deleted package listed.
      const hidden = join(importedModels, `.removing-${info.id}-${Date.now()}`);
      await rename(info.dir, hidden);
      await rm(hidden, { recursive: true, force: true });
      return { ok: true as const };
    },
    'models.exportServer': async (p) => {
      // Relative to what? The server's working folder is nobody's choice: refused, nothing written.
      if (!isAbsolute(p.dir)) throw new ApiError('bad_request', `dir: the model repository's path must be absolute, not ${JSON.stringify(p.dir)}`);
      return exportForServer((await resolveModel(p.id)).dir, p.dir);
    },
    'models.quantize': async (p) => {
      const source = await resolveModel(p.id);
      const id = packageIdFor(source.id, 'int8');
      if ((await catalog()).models.some((m) => m.id === id)) throw new ApiError('conflict', `${id} is already installed`);
      await mkdir(importedModels, { recursive: true });
      // Written into a hidden folder (the registry skips them) and renamed into place when complete.
      const tmp = await mkdtemp(join(importedModels, `.quantize-${id}-`));
      const dest = join(importedModels, id);
      try {
        await quantizePackage(source.dir, tmp, { id });
        await rename(tmp, dest).catch((e: unknown) => {
          // Another quantize of the same model finished first.
          const code = (e as NodeJS.ErrnoException).code;
          throw code === 'EEXIST' || code === 'ENOTEMPTY' ? new ApiError('conflict', `${id} is already installed`) : e;
        });
      } catch (e) {
        await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
        throw e;
      }
      return (await catalog()).models.find((m) => m.id === id) ?? modelInfo(await readModelPackage(dest), false, true);
    },
  };
  return { catalog, resolveModel, handlers };
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
