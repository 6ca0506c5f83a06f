/**
 * Library search off the calling thread: a worker thread (search-worker.ts) with its own read-only
 * connection runs the queries of store/search.ts, so that a search, however large the library,
 * delays only itself; the core's thread (Electron's main process in the desktop app, the server in
 * web mode) keeps answering saves, opens and fills meanwhile.
 *
 * The worker is started on the first search and kept. A worker that dies fails the searches it had
 * and is started afresh by the next one; a search that takes longer than SEARCH_TIMEOUT_MS (the
 * work per query is bounded, so only a broken disk or a bug gets there) ends the worker.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { ApiError, type ErrorCode } from '../common/api';
import { appRoot } from '../platform/paths';
import { DEFAULT_BUSY_TIMEOUT_MS } from './database';
import type { SearchHit } from './search';

export const SEARCH_TIMEOUT_MS = 30_000;

export interface SearchWorkerData {
  file: string;
  nativeBinding?: string;
  busyTimeoutMs: number;
}
export interface SearchRequest {
  id: number;
  query: string;
  limit?: number;
}
export type SearchReply = { id: number; hits: SearchHit[] } | { id: number; error: { code: ErrorCode; message: string } };

export function defaultSearchWorkerPath(): string {
  return join(appRoot(), 'out', 'main', 'search-worker.js');
}

export interface SearchServiceOptions {
  /** The library file (database.ts databasePath). */
  file: string;
  nativeBinding?: string;
  workerPath?: string;
  timeoutMs?: number;
}

interface Pending {
  resolve: (hits: SearchHit[]) => void;
  reject: (err: ApiError) => void;
  timer: NodeJS.Timeout;
}

export class SearchService {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;

  constructor(private readonly options: SearchServiceOptions) {}

  search(query: string, limit?: number): Promise<SearchHit[]> {
    if (this.closed) return Promise.reject(new ApiError('internal', 'the library search has been closed'));
    let worker: Worker;
    try {
      worker = this.ensureWorker();
    } catch (err) {
      return Promise.reject(ApiError.from(err));
    }
    const id = this.nextId++;
    return new Promise<SearchHit[]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(worker, new ApiError('storage_error', 'could not search: the search took too long and was stopped'));
      }, this.options.timeoutMs ?? SEARCH_TIMEOUT_MS);
      this.pending.set(id, { resolve, reject, timer });
      worker.postMessage({ id, query, ...(limit === undefined ? {} : { limit }) } satisfies SearchRequest);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    this.worker = undefined;
    this.rejectAll(new ApiError('internal', 'the library search has been closed'));
    if (worker) await worker.terminate();
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const path = this.options.workerPath ?? defaultSearchWorkerPath();
    if (!existsSync(path)) throw new ApiError('internal', `the search worker ${path} is missing; build it first (npm run build)`);
    const worker = new Worker(path, {
      workerData: {
        file: this.options.file,
        busyTimeoutMs: DEFAULT_BUSY_TIMEOUT_MS,
        ...(this.options.nativeBinding ? { nativeBinding: this.options.nativeBinding } : {}),
      } satisfies SearchWorkerData,
    });
    worker.on('message', (reply: SearchReply) => {
      const p = this.pending.get(reply.id);
      if (!p) return;
      this.pending.delete(reply.id);
      clearTimeout(p.timer);
      if ('error' in reply) p.reject(new ApiError(reply.error.code, reply.error.message));
      else p.resolve(reply.hits);
    });
    worker.on('error', (err) => this.fail(worker, new ApiError('storage_error', `could not search: ${err.message}`)));
    worker.on('exit', (code) => this.fail(worker, new ApiError('storage_error', `could not search: the search worker stopped (exit code ${code})`)));
    // An idle worker does not keep a CLI process alive.
    worker.unref();
    this.worker = worker;
    return worker;
  }

  private fail(worker: Worker, err: ApiError): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    this.rejectAll(err);
    void worker.terminate();
  }

  private rejectAll(err: ApiError): void {
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) {
      clearTimeout(p.timer);
      p.reject(err);
    }
  }
}
