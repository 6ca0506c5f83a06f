/**
 * The Lacuna core: the one implementation of the API contract (common/api.ts), shared by every
 * front. Plain Node — never imports electron. A front hands it options (where the data lives,
 * where models are, which engine to use) and then only ever calls `call` and `onEvent`.
 *
 * Every call validates its params with the contract's schema (bad → ApiError('bad_request')
 * naming the field) and its result before returning it, and every failure leaves as an ApiError.
 */
import { ApiError, api, isMethod, parseParams } from '../common/api';
import { diffWords } from '../common/diff';
import { FILL_OPTIONS, pickOptions, SCORE_OPTIONS } from '../common/fill-options';
import type { ApiClient, ApiEvent, Method, Params, Result } from '../common/api';
import { DEFAULT_MODEL_ID } from '../platform/paths';
import type { EngineService } from '../engine/types';
import { EngineClient } from '../engine/process/engine-client';
import { listDevices } from '../engine/runtime/providers';
import { createModelShelf } from './models';
import type { Handlers, RunningJobs } from './handlers';
import { closeDatabase, databasePath } from '../store/database';
import { SearchService } from '../store/search-service';
import type { Database } from '../store/database';
import { DocumentStore } from '../store/documents';
import { exportDocument, parseImport } from '../store/exchange';
import { backupLibrary } from '../store/backup';
import { autoBackup, openWithRecovery } from '../store/auto-backup';
import type { RecoveryNotice } from '../store/auto-backup';
import { GenerationLog } from '../store/generations';
import { isAbsolute } from 'node:path';
import type { RemoteServer } from '../common/inference-server';
import { ServerSettingStore } from './inference-server';

export type Front = 'electron' | 'web' | 'cli' | 'test';

export interface CoreOptions {
  /** The user-data folder; lacuna.db lives here. Created on first use. */
  dataDir: string;
  /** Folders searched for model packages, in priority order (paths.ts modelDirs()). */
  modelDirs: string[];
  front: Front;
  /** The app version (package.json). */
  version: string;
  /** The engine; default: a separate engine process (EngineClient). Closed with the core. */
  engine?: EngineService;
  /** better-sqlite3 native binding built for the running ABI (the Electron shell passes one). */
  sqliteNativeBinding?: string;
  /**
   * Model id used when a fill names none; default paths.ts DEFAULT_MODEL_ID. When it is not
   * installed, the first model found is the default (the registry's rule).
   */
  defaultModel?: string;
  /** Individual model package folders (e.g. the CLI's --model DIR), listed before modelDirs' packages. */
  modelPackages?: string[];
  /** Where models.download reads HF_ENDPOINT, HF_TOKEN and the proxy variables; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** An inference server for this process only (the CLI's `--device remote:URL`), instead of the saved setting. */
  inferenceServer?: RemoteServer;
}

export interface Core extends ApiClient {
  readonly options: Readonly<CoreOptions>;
  /** Stop the engine and close the database. Idempotent; calls after it fail. */
  close(): Promise<void>;
}

export function createCore(options: CoreOptions): Core {
  const engine: EngineService = options.engine ?? new EngineClient();
  const defaultModel = options.defaultModel ?? DEFAULT_MODEL_ID;
  const listeners = new Set<(event: ApiEvent) => void>();
  const failedListeners = new WeakSet<(event: ApiEvent) => void>();
  const running: RunningJobs = new Map();
  const env = options.env ?? process.env;
  let db: Database | undefined;
  let documents: DocumentStore | undefined;
  /** Searches run on a worker thread with its own connection (store/search-service.ts). */
  let searcher: SearchService | undefined;
  let generations: GenerationLog | undefined;
  /** Set when the library was found damaged and a backup restored (store/auto-backup.ts); shown by app.info. */
  let recovery: RecoveryNotice | undefined;
  /** The automatic backup started when the library was opened; close() waits for it. */
  let maintenance: Promise<void> | undefined;
  let closing: Promise<void> | undefined;

  // The library is opened on first use, not at start: `lacuna fill` never needs it, and a
  // storage problem then surfaces as a storage_error on the call that needed it (and is retried
  // on the next call) instead of taking the whole app down.
  // A damaged library is moved aside and the newest automatic backup that verifies is restored
  // (recorded in `recovery`); then a daily automatic backup is started in the background, whose
  // failure is only logged.
  function docs(): DocumentStore {
    if (!documents) {
      const binding = options.sqliteNativeBinding ? { nativeBinding: options.sqliteNativeBinding } : {};
      const opened = openWithRecovery({ dataDir: options.dataDir, ...binding });
      db = opened.db;
      if (opened.recovery) recovery = opened.recovery;
      documents = new DocumentStore(db);
      searcher = new SearchService({ file: databasePath(options.dataDir), ...binding });
      generations = new GenerationLog(db);
      maintenance = autoBackup(db, options.dataDir, binding).then(
        () => undefined,
        (err: unknown) => console.error(`lacuna: the automatic backup failed (the library is unaffected): ${messageOf(err)}`),
      );
    }
    return documents;
  }

  function gens(): GenerationLog {
    docs();
    return generations!;
  }

  function emit(event: ApiEvent): void {
    for (const listener of [...listeners]) {
      try {
        listener(event);
      } catch (err) {
        // One broken listener must not break the fill or the other fronts. Said once per listener.
        if (!failedListeners.has(listener)) console.error('lacuna: an event listener failed:', err);
        failedListeners.add(listener);
      }
    }
  }

  const servers = new ServerSettingStore(options.dataDir, options.inferenceServer);
  /** The job's server when it runs on the remote device (fills, scores, warm-ups). */
  const serverOf = (device: string | undefined): { server?: RemoteServer } => {
    const server = servers.serverFor(device);
    return server ? { server } : {};
  };
  const shelf = createModelShelf({ ...options, defaultModel, env, emit, running });
  const { catalog, resolveModel } = shelf;

  const handlers: Handlers = {
    ...shelf.handlers,
    'app.info': async () => {
      // The effective default: the configured id when installed, else the registry's fallback.
      const effective = (await catalog().catch(() => undefined))?.models.find((m) => m.isDefault)?.id;
      return {
        version: options.version,
        dataDir: options.dataDir,
        defaultModel: effective ?? defaultModel,
        front: options.front,
        ...(recovery ? { recovery: { ...recovery } } : {}),
      };
    },
    'documents.list': () => docs().list(),
    'documents.create': (p) => docs().create(p),
    'documents.open': (p) => docs().open(p.id),
    'documents.save': (p) => docs().save(p),
    // Store: revisions, search, trash.
    'revisions.list': (p) => docs().listRevisions(p.id),
    'revisions.get': (p) => docs().getRevision(p.revisionId),
    'revisions.diff': (p) => {
      // The text as the writer sees it on both sides (common/writer-text.ts), not the stored markup.
      const revision = docs().revisionShown(p.revisionId);
      const current = docs().shown(revision.documentId);
      return {
        revisionId: p.revisionId,
        currentRevision: current.revision,
        titleChanged: revision.title !== current.title,
        ops: diffWords(revision.shown, current.shown),
      };
    },
    'revisions.restore': (p) => docs().restoreRevision(p.revisionId, p.baseRevision),
    'documents.search': (p) => {
      docs();
      return searcher!.search(p.query, p.limit);
    },
    'documents.trash': (p) => {
      docs().trash(p.id);
      return { ok: true as const };
    },
    'documents.restore': (p) => docs().untrash(p.id),
    'documents.listTrash': () => docs().listTrash(),
    'documents.emptyTrash': () => ({ deleted: docs().emptyTrash() }),
    // Library: export/import (store/exchange.ts), backup (store/backup.ts). Restore is CLI-only.
    'documents.export': (p) => exportDocument(docs().open(p.id), p.format, p.blanks),
    'documents.import': (p) => docs().create(parseImport(p.text, p.format, p.title)),
    'library.backup': async (p) => {
      if (!isAbsolute(p.file)) throw new ApiError('bad_request', `file: the backup path must be absolute, not ${JSON.stringify(p.file)}`);
      docs();
      return backupLibrary(db!, p.file, options.sqliteNativeBinding ? { nativeBinding: options.sqliteNativeBinding } : {});
    },
    // Generations: provenance of fills for a document (store/generations.ts).
    'generations.list': (p) => gens().list(p.id),
    'generations.get': (p) => gens().get(p.generationId),
    'generations.accept': (p) => gens().accept(p.generationId, p.alternative),
    'engine.warm': async (p) => {
      const model = await resolveModel(p.model);
      const out = await engine.warm({
        requestId: `warm-${crypto.randomUUID()}`,
        modelDir: model.dir,
        ...(p.device !== undefined ? { device: p.device } : {}),
        ...serverOf(p.device),
      });
      return { model: model.id, device: out.device, durationMs: out.durationMs };
    },
    'fill.run': async (p) => {
      if (running.has(p.requestId)) {
        throw new ApiError('bad_request', `requestId: a fill with id "${p.requestId}" is already running`);
      }
      const state = { cancelled: false };
      running.set(p.requestId, state);
      try {
        // A fill for a document is recorded; refuse an unknown document before spending the work.
        if (p.documentId !== undefined) docs().open(p.documentId);
        const model = await resolveModel(p.model);
        if (state.cancelled) throw new ApiError('cancelled', `fill ${p.requestId} was cancelled`);
        const out = await engine.fill(
          {
            requestId: p.requestId,
            text: p.text,
            modelDir: model.dir,
            ...pickOptions(FILL_OPTIONS, p),
            ...serverOf(p.device),
          },
          (progress) =>
            emit({
              type: 'fill.progress',
              requestId: p.requestId,
              step: progress.step,
              steps: progress.steps,
              masked: progress.masked,
              unmasked: progress.unmasked,
              ...(progress.lengths ? { lengths: progress.lengths } : {}),
            }),
        );
        // Only a fill that succeeded is recorded. A failure to record is logged, not thrown: the
        // writer keeps the fill, it just has no provenance record.
        let generationId: number | undefined;
        if (p.documentId !== undefined) {
          try {
            generationId = gens().record({
              documentId: p.documentId,
              model: model.id,
              seed: out.seed,
              steps: out.steps,
              sampler: model.sampler,
              temperature: out.temperature,
              topP: out.topP,
              unmasking: out.unmasking,
              device: out.device,
              mode: p.mode ?? 'exact',
              durationMs: out.durationMs,
              networkCalls: out.networkCalls,
              inputText: p.text,
              alternatives: out.alternatives ?? [{ text: out.text, fills: out.fills }],
            });
          } catch (err) {
            console.error(`lacuna: fill ${p.requestId} succeeded but could not be recorded: ${messageOf(err)}`);
          }
        }
        return {
          ...(generationId !== undefined ? { generationId } : {}),
          requestId: p.requestId,
          text: out.text,
          fills: out.fills,
          alternatives: out.alternatives,
          model: model.id,
          steps: out.steps,
          seed: out.seed,
          temperature: out.temperature,
          topP: out.topP,
          unmasking: out.unmasking,
          device: out.device,
          ...(out.deviceNotes?.length ? { deviceNotes: out.deviceNotes } : {}),
          networkCalls: out.networkCalls,
          durationMs: out.durationMs,
        };
      } finally {
        running.delete(p.requestId);
      }
    },
    // Probed in throwaway child processes (providers.ts), cached per process; never loads a GPU provider here.
    'engine.devices': () => listDevices(),
    'engine.server': () => servers.get(),
    'engine.setServer': (p) => servers.set(p),
    // score.run: in the engine process (Engine.score, on its cached network). fill.cancel with the
    // request's requestId (one is made up when the client gives none) stops it between draws.
    'score.run': async (p) => {
      const requestId = p.requestId ?? `score-${crypto.randomUUID()}`;
      if (running.has(requestId)) {
        throw new ApiError('bad_request', `requestId: a request with id "${requestId}" is already running`);
      }
      // Registered like a fill, so fill.cancel works even before the engine has the job.
      const state = { cancelled: false };
      running.set(requestId, state);
      try {
        const model = await resolveModel(p.model);
        if (state.cancelled) throw new ApiError('cancelled', `scoring ${requestId} was cancelled`);
        const out = await engine.score(
          { requestId, text: p.text, modelDir: model.dir, ...pickOptions(SCORE_OPTIONS, p), ...serverOf(p.device) },
          undefined,
          (progress) => emit({ type: 'score.progress', requestId, done: progress.done, total: progress.total }),
        );
        return {
          model: model.id,
          tokens: out.tokens,
          draws: out.draws,
          seed: out.seed,
          nll: out.nll,
          nllStdErr: out.nllStdErr,
          perplexityBound: out.perplexityBound,
          perToken: out.perToken,
          durationMs: out.durationMs,
        };
      } finally {
        running.delete(requestId);
      }
    },
    'fill.cancel': (p) => {
      const state = running.get(p.requestId);
      if (state) state.cancelled = true;
      state?.abort?.abort();
      engine.cancel(p.requestId);
      return { ok: true as const };
    },
  };

  async function call<M extends Method>(method: M, params: Params<M>): Promise<Result<M>> {
    if (closing) throw new ApiError('internal', 'the Lacuna core has been closed');
    if (!isMethod(method)) throw new ApiError('not_found', `unknown method "${String(method)}"`);
    const parsed = parseParams(method, params);
    let result: unknown;
    try {
      result = await (handlers[method] as (p: unknown) => unknown)(parsed);
    } catch (err) {
      throw ApiError.from(err);
    }
    const checked = api[method].result.safeParse(result);
    if (!checked.success) {
      throw new ApiError('internal', `${method}: the core produced a malformed result: ${checked.error.issues[0]?.message ?? ''}`);
    }
    return checked.data as Result<M>;
  }

  return {
    options: Object.freeze({ ...options }),
    call,
    onEvent(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
    close() {
      closing ??= (async () => {
        const errors: unknown[] = [];
        try {
          await engine.close();
        } catch (err) {
          errors.push(err);
        }
        try {
          await maintenance;
        } catch (err) {
          errors.push(err);
        }
        try {
          await searcher?.close();
        } catch (err) {
          errors.push(err);
        }
        try {
          if (db) closeDatabase(db);
        } catch (err) {
          errors.push(err);
        }
        listeners.clear();
        if (errors.length) throw ApiError.from(errors[0]);
      })();
      return closing;
    },
  };
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Warm start (desktop app and web mode, at launch): load the default model into the engine before
 * the writer's first fill, so that fill does not wait for the engine process to start and the
 * network to load. The renderer then warms the model its fill settings name (usually the same, a
 * no-op). LACUNA_WARM_START=0 turns it off (measured in `npm run bench:ui`). A failure is only
 * logged: the first fill reports the same problem in the writer's words.
 */
export function warmStart(core: Core, env: NodeJS.ProcessEnv = process.env): void {
  if (env.LACUNA_WARM_START === '0') return;
  core.call('engine.warm', {}).catch((err: unknown) => console.error(`lacuna: could not load the default model at start: ${messageOf(err)}`));
}
