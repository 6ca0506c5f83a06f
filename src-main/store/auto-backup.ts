/**
 * Automatic backups and recovery from a damaged library.
 *
 * Automatic backups live in `<dataDir>/backups/` as `lacuna-YYYYMMDD-HHMMSS.db` (UTC). When the
 * core first opens the library and the newest of them is older than a day (or there is none), it
 * writes one with backupLibrary (verified, self-contained) and keeps the newest seven; other files
 * in the folder are never touched. A library without documents is not backed up (nothing to save).
 *
 * Recovery: when opening finds the library damaged (database.ts moves it aside and throws
 * DamagedLibraryError), openWithRecovery restores the newest automatic backup that verifies
 * (restoreLibrary: verify, migrate, put in place) and opens that, returning a notice saying what
 * happened. Without a usable backup the original storage_error stands.
 */
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Database } from './database';
import { DamagedLibraryError, openDatabase } from './database';
import type { OpenDatabaseOptions } from './database';
import { backupLibrary, restoreLibrary } from './backup';
import type { BackupResult } from './backup';

export const BACKUP_DIR_NAME = 'backups';
export const AUTO_BACKUP_KEEP = 7;
export const AUTO_BACKUP_MAX_AGE_MS = 24 * 60 * 60 * 1000;

const NAME = /^lacuna-(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})\.db$/;

export function backupDir(dataDir: string): string {
  return join(dataDir, BACKUP_DIR_NAME);
}

/** `lacuna-YYYYMMDD-HHMMSS.db` for a time (UTC). */
export function autoBackupName(time: number): string {
  const iso = new Date(time).toISOString(); // 2026-11-28T21:51:12.000Z
  return `lacuna-${iso.slice(0, 10).replace(/-/g, '')}-${iso.slice(11, 19).replace(/:/g, '')}.db`;
}

/** Automatic backups in the folder, newest first, with the time their name says. */
export function listAutoBackups(dataDir: string): { file: string; time: number }[] {
  let names: string[];
  try {
    names = readdirSync(backupDir(dataDir));
  } catch {
    return [];
  }
  const found: { file: string; time: number }[] = [];
  for (const name of names) {
    const m = NAME.exec(name);
    if (!m) continue;
    const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
    found.push({ file: join(backupDir(dataDir), name), time: Date.UTC(y, mo - 1, d, h, mi, s) });
  }
  return found.sort((a, b) => b.time - a.time || (a.file < b.file ? 1 : -1));
}

export interface AutoBackupOptions {
  nativeBinding?: string;
  now?: () => number;
  keep?: number;
  maxAgeMs?: number;
}

/**
 * Write an automatic backup when the newest is older than maxAgeMs (or there is none), then keep
 * only the newest `keep`. Returns the backup written, or null when none was due.
 */
export async function autoBackup(db: Database, dataDir: string, options: AutoBackupOptions = {}): Promise<BackupResult | null> {
  const now = (options.now ?? Date.now)();
  const keep = Math.max(1, options.keep ?? AUTO_BACKUP_KEEP);
  const newest = listAutoBackups(dataDir)[0];
  if (newest && now - newest.time < (options.maxAgeMs ?? AUTO_BACKUP_MAX_AGE_MS)) return null;
  const { n } = db.prepare('SELECT count(*) AS n FROM documents').get() as { n: number };
  if (n === 0) return null;
  mkdirSync(backupDir(dataDir), { recursive: true });
  const result = await backupLibrary(db, join(backupDir(dataDir), autoBackupName(now)), options.nativeBinding ? { nativeBinding: options.nativeBinding } : {});
  for (const old of listAutoBackups(dataDir).slice(keep)) rmSync(old.file, { force: true });
  return result;
}

/** What openWithRecovery did when it found the library damaged. */
export interface RecoveryNotice {
  /** Where the damaged library was moved (kept, never deleted). */
  damagedFile: string;
  /** The backup that was restored. */
  restoredFrom: string;
  /** When (ms since the epoch). */
  at: number;
}

/**
 * openDatabase, and when that finds the library damaged, restore the newest automatic backup that
 * verifies and open it. Throws the original storage_error when there is none (or the restore fails).
 */
export function openWithRecovery(options: OpenDatabaseOptions, now: () => number = Date.now): { db: Database; recovery: RecoveryNotice | null } {
  try {
    return { db: openDatabase(options), recovery: null };
  } catch (err) {
    if (!(err instanceof DamagedLibraryError)) throw err;
    const binding = options.nativeBinding ? { nativeBinding: options.nativeBinding } : {};
    for (const candidate of listAutoBackups(options.dataDir)) {
      try {
        // restoreLibrary verifies first and touches nothing when the backup is unusable.
        restoreLibrary(options.dataDir, candidate.file, binding);
      } catch (restoreErr) {
        console.error(`lacuna: backup ${candidate.file} could not be restored: ${messageOf(restoreErr)}`);
        continue;
      }
      const db = openDatabase(options);
      console.error(`lacuna: the library was damaged; it was moved to ${err.damagedFile} and the backup ${candidate.file} was restored`);
      return { db, recovery: { damagedFile: err.damagedFile, restoredFrom: candidate.file, at: now() } };
    }
    throw err;
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
