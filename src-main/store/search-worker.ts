/**
 * Entry point of the search worker thread (built to out/main/search-worker.js; started by
 * search-service.ts). It opens the library read-only on its own connection (WAL: it reads while
 * the core writes) and answers searches one at a time, so a search never runs on the thread that
 * answers the window or the web front. Never imports 'electron'.
 */
import { parentPort, workerData } from 'node:worker_threads';
import BetterSqlite3 from 'better-sqlite3';
import type { Database } from 'better-sqlite3';
import { ApiError } from '../common/api';
import { toStorageError } from './database';
import { searchDocuments } from './search';
import type { SearchReply, SearchRequest, SearchWorkerData } from './search-service';

const data = workerData as SearchWorkerData;
let db: Database | undefined;

function connection(): Database {
  if (!db) {
    db = new BetterSqlite3(data.file, {
      readonly: true,
      fileMustExist: true,
      timeout: data.busyTimeoutMs,
      ...(data.nativeBinding ? { nativeBinding: data.nativeBinding } : {}),
    });
  }
  return db;
}

parentPort?.on('message', (m: SearchRequest) => {
  let reply: SearchReply;
  try {
    const conn = connection();
    // One read transaction: the passages walked and the documents read agree.
    const hits = conn.transaction(() => searchDocuments(conn, m.query, m.limit))();
    reply = { id: m.id, hits };
  } catch (err) {
    const e = err instanceof ApiError ? err : toStorageError(err, 'could not search');
    reply = { id: m.id, error: { code: e.code, message: e.message } };
  }
  parentPort?.postMessage(reply);
});
