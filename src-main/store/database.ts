/**
 * The library database: one SQLite file, `<dataDir>/lacuna.db`, opened with better-sqlite3.
 *
 * better-sqlite3 is synchronous. That is deliberate: every statement here is a single-row lookup
 * or write on a local file, well under a millisecond except for the fsync on commit, and a
 * synchronous API makes each save atomic with respect to the rest of the (single-threaded) core.
 */
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import type { Database } from 'better-sqlite3';
import { ApiError } from '../common/api';
import { migrate } from './migrations';

export type { Database } from 'better-sqlite3';

export const DB_FILE_NAME = 'lacuna.db';
/** How long a statement waits for another process's write lock (desktop app and CLI share the file). */
export const DEFAULT_BUSY_TIMEOUT_MS = 5_000;

export interface OpenDatabaseOptions {
  /** The user-data folder; created when missing. */
  dataDir: string;
  /**
   * Path to a better_sqlite3.node built for the running ABI (better-sqlite3's `nativeBinding`
   * option). The Electron shell passes an Electron-ABI build; Node fronts leave it unset.
   */
  nativeBinding?: string;
  busyTimeoutMs?: number;
}

export function databasePath(dataDir: string): string {
  return join(dataDir, DB_FILE_NAME);
}

/** Open (creating when needed) and migrate the library. Throws ApiError('storage_error') on failure. */
export function openDatabase(options: OpenDatabaseOptions): Database {
  const file = databasePath(options.dataDir);
  const busyTimeout = options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
  try {
    mkdirSync(options.dataDir, { recursive: true });
  } catch (err) {
    throw toStorageError(err, `cannot create the data folder ${options.dataDir}`);
  }
  let db: Database;
  try {
    db = new BetterSqlite3(file, {
      timeout: busyTimeout,
      ...(options.nativeBinding ? { nativeBinding: options.nativeBinding } : {}),
    });
  } catch (err) {
    throw toStorageError(err, `cannot open the library ${file}`);
  }
  try {
    // Write-ahead logging: readers never block the writer, and a crash mid-write cannot tear the
    // main file. Some filesystems (network shares) cannot do WAL; SQLite then keeps its rollback
    // journal, which is slower but just as safe, so the result is not checked.
    db.pragma('journal_mode = WAL');
    // synchronous=FULL: fsync the WAL on every commit. With NORMAL, WAL mode stays consistent but
    // the last commits before a power cut or OS crash can vanish; here a save that reported
    // success must survive that (it is someone's writing). Saves are debounced and rare, so the
    // extra fsync per commit costs nothing a writer could notice.
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    db.pragma(`busy_timeout = ${Math.max(0, Math.floor(busyTimeout))}`);
    // A fast structural check (no index cross-checks) so a damaged file is caught at open, before
    // anything writes to it, instead of failing some later save.
    const check = db.pragma('quick_check', { simple: true });
    if (check !== 'ok') throw new DamagedError(String(check));
    migrate(db);
  } catch (err) {
    try {
      db.close();
    } catch {
      // already failing; report the first error
    }
    if (isDamage(err)) throw moveAside(file, err);
    throw toStorageError(err, `cannot open the library ${file}`);
  }
  return db;
}

class DamagedError extends Error {}

/**
 * The storage_error thrown when the library was damaged and has been moved aside; `damagedFile`
 * says where it went (the core uses it to restore the newest backup, store/recovery.ts).
 */
export class DamagedLibraryError extends ApiError {
  readonly damagedFile: string;
  constructor(message: string, damagedFile: string) {
    super('storage_error', message);
    this.damagedFile = damagedFile;
  }
}

function isDamage(err: unknown): boolean {
  if (err instanceof DamagedError) return true;
  const code = err && typeof err === 'object' && 'code' in err && typeof err.code === 'string' ? err.code : '';
  return /^SQLITE_(CORRUPT|NOTADB)/.test(code);
}

/**
 * Rename a damaged library (with its -wal and -shm, so the copy stays openable as it was) to
 * `lacuna.db.damaged-<timestamp>` next to it, and say so. The next open starts an empty library;
 * nothing is deleted.
 */
function moveAside(file: string, cause: unknown): ApiError {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('.', '-');
  const aside = `${file}.damaged-${stamp}`;
  // quick_check can report many lines; one short line is enough to say what kind of damage.
  const reason = (cause instanceof Error ? cause.message : String(cause))
    .replace(/\*\*\*[^*]*\*\*\*/g, '')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 200);
  try {
    for (const suffix of ['-wal', '-shm']) if (existsSync(file + suffix)) renameSync(file + suffix, aside + suffix);
    renameSync(file, aside);
  } catch (err) {
    return toStorageError(err, `the library ${file} is damaged or is not a Lacuna database (${reason}) and could not be moved aside`);
  }
  return new DamagedLibraryError(
    `the library ${file} is damaged or is not a Lacuna database (${reason}); it was moved to ${aside} ` +
      'and a new, empty library will be started — restore a backup with "lacuna restore FILE"',
    aside,
  );
}

export function closeDatabase(db: Database): void {
  if (!db.open) return;
  try {
    // Cheap housekeeping SQLite recommends before closing a long-lived connection.
    db.pragma('optimize');
  } catch {
    // best effort (e.g. read-only file); closing matters more
  }
  db.close();
}

const FRIENDLY: Array<[RegExp, string]> = [
  [/^SQLITE_FULL/, 'the disk is full'],
  [/^SQLITE_READONLY/, 'the library is read-only'],
  [/^SQLITE_(BUSY|LOCKED)/, 'the library is locked by another process'],
  [/^SQLITE_(CORRUPT|NOTADB)/, 'the library file is damaged or is not a Lacuna database'],
  [/^SQLITE_(IOERR|CANTOPEN|PERM|AUTH)/, 'the disk refused the operation'],
  [/^(EACCES|EPERM)$/, 'permission denied'],
  [/^EROFS$/, 'the disk is read-only'],
  [/^(ENOSPC|EDQUOT)$/, 'the disk is full'],
  [/^(ENOTDIR|EEXIST)$/, 'a file is in the way of the data folder'],
];

/**
 * Turn a failure from SQLite or the filesystem into ApiError('storage_error', "<action>: <reason>").
 * ApiErrors pass through; anything else (a programming error) becomes ApiError('internal').
 */
export function toStorageError(err: unknown, action: string): ApiError {
  if (err instanceof ApiError) return err;
  const code = err && typeof err === 'object' && 'code' in err && typeof err.code === 'string' ? err.code : '';
  const message = err instanceof Error ? err.message : String(err);
  if (code.startsWith('SQLITE_') || /^E[A-Z]+$/.test(code) || /NODE_MODULE_VERSION|dlopen|\.node\b/.test(message)) {
    const friendly = FRIENDLY.find(([re]) => re.test(code))?.[1];
    return new ApiError('storage_error', `${action}: ${friendly ? `${friendly} (${message})` : message}`);
  }
  return new ApiError('internal', `${action}: ${message}`);
}
