/**
 * Library backup and restore.
 *
 * Backup runs on the open library (SQLite's online backup, so the app can keep running) into a
 * temporary file of its own beside the destination (`.<name>.<pid>.<random>.tmp`, created
 * exclusively, so concurrent backups never share one and no one else's file is touched), which is
 * switched to a self-contained rollback-journal file, fsynced, verified (opens read-only,
 * integrity_check ok, has a schema version) and only then renamed to `<file>` (the last rename
 * wins). Where it may write is decided on real files, not path strings: see checkDestination.
 *
 * Restore is a maintenance operation for when the app is closed (`lacuna restore FILE`): it never
 * runs inside a running core. The file is verified first; if that fails nothing is touched. Then
 * it is copied into the data folder, migrated to the current schema, the current library is moved
 * aside to `lacuna.db.before-restore-<timestamp>` (nothing is deleted) and the copy renamed into
 * place. A library still open in another process (the desktop app, a web server) is refused.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, lstatSync, openSync, readSync, realpathSync, renameSync, rmSync, statSync } from 'node:fs';
import type { BigIntStats } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { ApiError } from '../common/api';
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
  const folder = dirname(target);
  const live = db.name && db.name !== ':memory:' ? resolve(db.name) : null;
  const folderStat = statOrNull(folder, `could not back up the library to ${target}`);
  if (!folderStat?.isDirectory()) {
    throw new ApiError('bad_request', `could not back up the library to ${target}: the folder ${folder} does not exist`);
  }
  checkDestination(target, live);
  let tmp: string;
  try {
    tmp = createOwnTemporary(folder, basename(target));
  } catch (err) {
    throw fsError(err, `could not back up the library to ${target}`);
  }
  try {
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
    checkDestination(target, live); // again, right before the rename: narrow the window for a swap
    renameSync(tmp, target);
    fsyncDir(folder);
    return { file: target, bytes: statSync(target).size, documents };
  } catch (err) {
    removeOwnTemporary(tmp);
    throw err instanceof ApiError ? err : fsError(err, `could not back up the library to ${target}`);
  }
}

/**
 * Refuse (ApiError bad_request, naming the path) a backup destination that is not a place for a
 * backup. Decided on real files — device and inode — not on how the path is spelled, so `..`,
 * symlinked folders, hard links and another letter case on a case-insensitive disk are all seen
 * through. Refused:
 *  - a symbolic link: the rename would replace the link, not write where it points (and a link to
 *    the library is the library, not a backup);
 *  - the library file or one of its -wal/-shm/-journal files under any name (same device and
 *    inode): replacing the file a running app has open loses what it writes afterwards;
 *  - in the library's own folder (the same folder by device and inode), any name beginning with
 *    the library's file name, whether it exists or not, compared without regard to letter case
 *    (simplest, and right on case-insensitive disks): SQLite would take a stray `lacuna.db-journal`
 *    or `lacuna.db-wal` for the library's own and replay it into the library, and
 *    `lacuna.db.before-restore-*` / `lacuna.db.damaged-*` are copies kept for the writer;
 *  - something that exists and is not a file, or a file that is not a SQLite file.
 * Everything else — any folder the writer names, the data folder's `backups/` included — is allowed.
 */
function checkDestination(target: string, live: string | null): void {
  const action = `could not back up the library to ${target}`;
  const st = statOrNull(target, action, true);
  if (st?.isSymbolicLink()) {
    const to = statOrNull(target, action);
    if (to && live && isLibraryFile(to, live, action)) throw itself(target, live);
    throw new ApiError('bad_request', `${target} is a symbolic link; a backup is not written through a link (name the file itself, or another file)`);
  }
  if (st && !st.isFile()) throw new ApiError('bad_request', `${target} exists and is not a file`);
  if (live) {
    if (target === live || (st && isLibraryFile(st, live, action))) throw itself(target, live);
    if (basename(target).toLowerCase().startsWith(basename(live).toLowerCase()) && sameFolder(dirname(target), dirname(live), action)) {
      throw new ApiError('bad_request', `${target} is beside the library under a name Lacuna keeps for the library's own files; choose another name or folder`);
    }
  }
  if (st && !hasSqliteHeader(target)) throw new ApiError('bad_request', `${target} exists and is not a SQLite file; it was not overwritten`);
}

function itself(path: string, live: string): ApiError {
  return new ApiError(
    'bad_request',
    `${path} is the library itself${path === live ? '' : ` (${live})`}, not a separate file; a backup has to be written somewhere else`,
  );
}

const LIBRARY_FILE_SUFFIXES = ['', '-wal', '-shm', '-journal'];

/** Whether `st` is the library file at `live` or one of its sidecars (same device and inode). */
function isLibraryFile(st: BigIntStats, live: string, action: string): boolean {
  return LIBRARY_FILE_SUFFIXES.some((suffix) => {
    const other = statOrNull(live + suffix, action);
    return other !== null && sameFile(st, other);
  });
}

/** Same device and inode. An inode number of 0 means the file system has none to give: not a match. */
function sameFile(a: BigIntStats, b: BigIntStats): boolean {
  return a.ino !== 0n && a.dev === b.dev && a.ino === b.ino;
}

/** Whether two folder paths are one folder: by device and inode, or by real path without regard to case. */
function sameFolder(a: string, b: string, action: string): boolean {
  const x = statOrNull(a, action);
  const y = statOrNull(b, action);
  if (!x || !y) return false;
  if (sameFile(x, y)) return true;
  try {
    return realpathSync(a).toLowerCase() === realpathSync(b).toLowerCase();
  } catch (err) {
    throw fsError(err, action);
  }
}

/** stat (following links), or lstat (the link itself) with `link`; null when nothing is there. */
function statOrNull(path: string, action: string, link = false): BigIntStats | null {
  try {
    return link ? lstatSync(path, { bigint: true }) : statSync(path, { bigint: true });
  } catch (err) {
    if (isAbsent(err)) return null;
    throw fsError(err, action);
  }
}

function isAbsent(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/**
 * A file system error as ApiError (toStorageError). ENAMETOOLONG passes through as it is: that is
 * the request's fault, and the core answers it as bad_request in its own words (core.ts toApiError).
 */
function fsError(err: unknown, action: string): unknown {
  if ((err as NodeJS.ErrnoException | undefined)?.code === 'ENAMETOOLONG') return err;
  return toStorageError(err, action);
}

/**
 * Create an empty file of this call's own beside `name` in `folder` (O_EXCL: it cannot be anyone
 * else's file, and two calls never share one), for SQLite to write into and for the final rename.
 * The name is kept short of NAME_MAX however long `name` is.
 */
function createOwnTemporary(folder: string, name: string): string {
  const tmp = join(folder, `.${name.slice(0, 120)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  closeSync(openSync(tmp, 'wx'));
  return tmp;
}

/** Remove a temporary file this call created, and the sidecars SQLite may have made for it. */
function removeOwnTemporary(tmp: string): void {
  for (const suffix of LIBRARY_FILE_SUFFIXES) {
    try {
      rmSync(tmp + suffix, { force: true });
    } catch {
      // best effort: the error being reported is the one that matters
    }
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
  const st = statOrNull(source, `could not restore ${source}`);
  if (!st) throw new ApiError('bad_request', `${source}: no such file`);
  if (!st.isFile()) throw new ApiError('bad_request', `${source} is not a file`);
  // The same file as the library (or one of its sidecars) by device and inode, whatever the path:
  // a symlink or a hard link to the live library is the library, not a backup of it. Restoring it
  // would copy the library onto itself and, with the app running, lose what the app writes next.
  if (source === resolve(live) || isLibraryFile(st, live, `could not restore ${source}`)) {
    throw new ApiError(
      'bad_request',
      `${source} is the library itself${source === resolve(live) ? '' : ` (${resolve(live)})`}, not a backup of it; choose a backup file to restore`,
    );
  }

  // 1. Verify the backup; nothing has been touched yet.
  const checked = verify(source, options);

  // 2. Refuse a library that another process has open, and fold its WAL into the main file.
  if (existsSync(live)) quiesce(live, options);

  // 3. A migrated copy next to the library (same filesystem, so the final rename is atomic).
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('.', '-');
  // This call's own file (O_EXCL; VACUUM INTO takes an empty one): a failure removes only it.
  const tmp = `${live}.restore-${stamp}-${randomBytes(4).toString('hex')}.tmp`;
  try {
    closeSync(openSync(tmp, 'wx'));
  } catch (err) {
    throw toStorageError(err, `could not restore ${source}`);
  }
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
    removeOwnTemporary(tmp);
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
    throw toStorageError(
      err,
      `could not put the restored library in place${previous ? ` (the previous library is at ${previous} if it is not back at ${live})` : ''}`,
    );
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

/** A synchronous page-by-page copy via VACUUM INTO (consistent snapshot, WAL content included) into an empty `dest`. */
function copyDatabase(src: Database, dest: string): void {
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
