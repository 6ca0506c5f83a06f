/**
 * Library backup and restore.
 *
 * Backup runs on the open library (SQLite's online backup, so the app can keep running) into
 * `<file>.tmp`, which is switched to a self-contained rollback-journal file, fsynced, verified
 * (opens read-only, integrity_check ok, has a schema version) and only then renamed to `<file>`.
 *
 * Restore is a maintenance operation for when the app is closed (`lacuna restore FILE`): it never
 * runs inside a running core. The file is verified first; if that fails nothing is touched. Then
 * it is copied into the data folder, migrated to the current schema, the current library is moved
 * aside to `lacuna.db.before-restore-<timestamp>` (nothing is deleted) and the copy renamed into
 * place. A library still open in another process (the desktop app, a web server) is refused.
 */
import { closeSync, existsSync, fsyncSync, openSync, readSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { ApiError } from '../../common/api';
import type { Database } from './database';
import { databasePath, toStorageError } from './database';
import { migrate, migrations, schemaVersion } from './migrations';

export interface BackupResult {
  file: string;
  bytes: number;
  documents: number;
}

export interface RestoreResult {
  /** The backup that was restored. */
  file: string;
  /** Documents (live and trashed) in the restored library. */
  documents: number;
  /** Schema version of the backup before migration. */
  fromVersion: number;
  /** Where the replaced library went; null when there was none. */
  previous: string | null;
}

export interface BackupOptions {
  /** better-sqlite3 native binding for the running ABI (see database.ts). */
  nativeBinding?: string;
}

const SQLITE_HEADER = 'SQLite format 3\u0000';
const CURRENT_VERSION = migrations[migrations.length - 1]!.version;

/** Copy the open library to `file` (absolute), verified. Overwrites only an existing SQLite file. */
export async function backupLibrary(db: Database, file: string, options: BackupOptions = {}): Promise<BackupResult> {
  const target = resolve(file);
  const tmp = `${target}.tmp`;
  if (db.name && resolve(db.name) === target) throw new ApiError('bad_request', 'the backup file cannot be the library itself');
  if (!existsSync(dirname(target)) || !statSync(dirname(target)).isDirectory()) {
    throw new ApiError('storage_error', `could not back up the library to ${target}: the folder ${dirname(target)} does not exist`);
  }
  if (existsSync(target)) {
    if (!statSync(target).isFile()) throw new ApiError('bad_request', `${target} exists and is not a file`);
    if (!hasSqliteHeader(target)) throw new ApiError('bad_request', `${target} exists and is not a SQLite file; it was not overwritten`);
  }
  try {
    rmSync(tmp, { force: true });
    await db.backup(tmp);
    // A backup is one self-contained file: rollback journal, not WAL (no -wal/-shm to lose).
    const w = open(tmp, false, options);
    try {
      w.pragma('journal_mode = DELETE');
    } finally {
      w.close();
    }
    fsyncFile(tmp);
    const documents = verify(tmp, options).documents;
    renameSync(tmp, target);
    fsyncDir(dirname(target));
    return { file: target, bytes: statSync(target).size, documents };
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err instanceof ApiError ? err : toStorageError(err, `could not back up the library to ${target}`);
  }
}

/**
 * Replace the library in `dataDir` with the backup `file`. Call with no connection to the library
 * open in this process. Throws ApiError: bad_request (not a usable backup), storage_error (in use,
 * disk problems). On any failure before the final rename the current library is untouched.
 */
export function restoreLibrary(dataDir: string, file: string, options: BackupOptions = {}): RestoreResult {
  const source = resolve(file);
  const live = databasePath(dataDir);
  if (!existsSync(source)) throw new ApiError('bad_request', `${source}: no such file`);
  if (!statSync(source).isFile()) throw new ApiError('bad_request', `${source} is not a file`);
  if (existsSync(live) && resolve(live) === source) throw new ApiError('bad_request', 'the backup file is the library itself');

  // 1. Verify the backup; nothing has been touched yet.
  const checked = verify(source, options);

  // 2. Refuse a library that another process has open, and fold its WAL into the main file.
  if (existsSync(live)) quiesce(live, options);

  // 3. A migrated copy next to the library (same filesystem, so the final rename is atomic).
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('.', '-');
  const tmp = `${live}.restore-${stamp}.tmp`;
  try {
    const src = open(source, true, options);
    try {
      copyDatabase(src, tmp);
    } finally {
      src.close();
    }
    const w = open(tmp, false, options);
    try {
      w.pragma('journal_mode = DELETE');
      w.pragma('foreign_keys = ON');
      migrate(w);
      const check = w.pragma('quick_check', { simple: true });
      if (check !== 'ok') throw new ApiError('storage_error', `the restored copy failed its check: ${String(check)}`);
    } finally {
      w.close();
    }
    fsyncFile(tmp);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err instanceof ApiError ? err : toStorageError(err, `could not restore ${source}`);
  }

  // 4. Move the current library aside (with any sidecars) and put the copy in its place.
  let previous: string | null = null;
  try {
    if (existsSync(live)) {
      quiesce(live, options); // again, right before the move: narrow the window for a new opener
      previous = `${live}.before-restore-${stamp}`;
      for (const suffix of ['-wal', '-shm', '-journal']) if (existsSync(live + suffix)) renameSync(live + suffix, previous + suffix);
      renameSync(live, previous);
    }
    renameSync(tmp, live);
    fsyncDir(dataDir);
  } catch (err) {
    // Put the old library back if it was moved and the new one is not in place.
    if (previous && !existsSync(live) && existsSync(previous)) {
      try {
        renameSync(previous, live);
      } catch {
        // reported below; the old library is still at `previous`
      }
    }
    rmSync(tmp, { force: true });
    throw toStorageError(err, `could not put the restored library in place${previous ? ` (the previous library is at ${previous} if it is not back at ${live})` : ''}`);
  }
  return { file: source, documents: checked.documents, fromVersion: checked.version, previous };
}

/** Open read-only and check: a SQLite file, integrity ok, a Lacuna schema version this build knows. */
export function verify(file: string, options: BackupOptions = {}): { version: number; documents: number } {
  let db: Database;
  try {
    db = open(file, true, options);
  } catch (err) {
    throw notABackup(file, err);
  }
  try {
    let check: unknown;
    let version: number;
    try {
      check = db.pragma('integrity_check', { simple: true });
      version = schemaVersion(db);
    } catch (err) {
      throw notABackup(file, err);
    }
    if (check !== 'ok') throw new ApiError('bad_request', `${file} is damaged (integrity check: ${String(check).replace(/\s+/g, ' ').slice(0, 200)})`);
    if (version < 1) throw new ApiError('bad_request', `${file} is not a Lacuna library (it has no schema version)`);
    if (version > CURRENT_VERSION) {
      throw new ApiError('bad_request', `${file} is from a newer Lacuna (schema version ${version}; this one knows up to ${CURRENT_VERSION})`);
    }
    const table = db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'documents'").get();
    if (!table) throw new ApiError('bad_request', `${file} is not a Lacuna library (it has no documents table)`);
    const documents = (db.prepare('SELECT count(*) AS n FROM documents').get() as { n: number }).n;
    return { version, documents };
  } finally {
    db.close();
  }
}

function notABackup(file: string, err: unknown): ApiError {
  const message = err instanceof Error ? err.message : String(err);
  return new ApiError('bad_request', `${file} is not a readable Lacuna backup (${message})`);
}

/**
 * Fail with storage_error when another connection has the library open; otherwise checkpoint the
 * WAL into the main file and switch it to a rollback journal, so moving the one file moves it all
 * (the next open switches it back to WAL).
 */
function quiesce(live: string, options: BackupOptions): void {
  const inUse = (): ApiError =>
    new ApiError('storage_error', `the library ${live} is in use by another process; close Lacuna (and any "lacuna" web server) and try again`);
  let db: Database;
  try {
    db = open(live, false, options);
  } catch (err) {
    throw toStorageError(err, `cannot open the current library ${live}`);
  }
  try {
    db.pragma('busy_timeout = 0');
    try {
      db.exec('BEGIN EXCLUSIVE');
      db.exec('COMMIT');
    } catch (err) {
      if (isBusy(err)) throw inUse();
      throw err;
    }
    // In WAL mode BEGIN EXCLUSIVE does not block readers, and an idle app holds no lock at all
    // but its shared-memory one. Leaving WAL needs every other connection closed: the real test.
    let mode: unknown;
    try {
      db.pragma('wal_checkpoint(TRUNCATE)');
      mode = db.pragma('journal_mode = DELETE', { simple: true });
    } catch (err) {
      if (isBusy(err)) throw inUse();
      throw err;
    }
    if (String(mode).toLowerCase() === 'wal') throw inUse();
  } catch (err) {
    throw err instanceof ApiError ? err : toStorageError(err, `cannot prepare the current library ${live} for the restore`);
  } finally {
    db.close();
  }
}

function isBusy(err: unknown): boolean {
  const code = err && typeof err === 'object' && 'code' in err && typeof err.code === 'string' ? err.code : '';
  return /^SQLITE_(BUSY|LOCKED)/.test(code);
}

function open(file: string, readonly: boolean, options: BackupOptions): Database {
  return new BetterSqlite3(file, {
    readonly,
    fileMustExist: true,
    timeout: readonly ? 0 : 5_000,
    ...(options.nativeBinding ? { nativeBinding: options.nativeBinding } : {}),
  });
}

/** A synchronous page-by-page copy via VACUUM INTO (consistent snapshot, WAL content included). */
function copyDatabase(src: Database, dest: string): void {
  rmSync(dest, { force: true });
  src.prepare('VACUUM INTO ?').run(dest);
}

function hasSqliteHeader(file: string): boolean {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(16);
    const n = readSync(fd, buf, 0, 16, 0);
    return n === 16 && buf.toString('latin1') === SQLITE_HEADER;
  } finally {
    closeSync(fd);
  }
}

function fsyncFile(file: string): void {
  const fd = openSync(file, 'r+');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Make a rename durable. Not possible on Windows (directories cannot be opened); best effort. */
function fsyncDir(dir: string): void {
  if (process.platform === 'win32') return;
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // best effort
  }
}
