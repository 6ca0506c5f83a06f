/**
 * Numbered, forward-only schema migrations.
 *
 * The schema version lives in `PRAGMA user_version` (0 for a fresh file). Each migration runs in
 * its own IMMEDIATE transaction together with the bump of user_version, so a crash mid-migration
 * leaves the previous version intact, and two processes opening the same library at once (the
 * desktop app and the CLI, say) cannot both apply the same step: the second one waits for the
 * write lock, re-reads the version and finds nothing left to do.
 *
 * Rules for adding one: append to the array with the next version number; never edit, reorder or
 * remove a migration that has shipped; never go backwards (a database from a newer Lacuna is refused).
 */
import type { Database } from 'better-sqlite3';
import { ApiError } from '../../common/api';

export interface Migration {
  /** 1, 2, 3, … in array order. */
  version: number;
  /** Short description, for error messages. */
  name: string;
  up(db: Database): void;
}

export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'create documents',
    up(db) {
      // STRICT: SQLite enforces the column types instead of silently storing whatever it is given.
      db.exec(`
        CREATE TABLE documents (
          id          TEXT    PRIMARY KEY NOT NULL CHECK (length(id) = 32),
          title       TEXT    NOT NULL,
          body        TEXT    NOT NULL,
          created_at  INTEGER NOT NULL,
          updated_at  INTEGER NOT NULL,
          revision    INTEGER NOT NULL CHECK (revision >= 0)
        ) STRICT;
        CREATE INDEX documents_updated_at ON documents (updated_at DESC);
      `);
    },
  },
];

export interface MigrationOutcome {
  /** user_version before. */
  from: number;
  /** user_version after. */
  to: number;
  /** Versions applied by this call, in order. */
  applied: number[];
}

export function schemaVersion(db: Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/** Bring the database up to the newest version. Idempotent. */
export function migrate(db: Database, list: readonly Migration[] = migrations): MigrationOutcome {
  list.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migration list out of order: entry ${i} has version ${m.version}`);
  });
  const latest = list.length;
  const from = schemaVersion(db);
  if (from > latest) {
    throw new ApiError(
      'storage_error',
      `the library at ${db.name} has schema version ${from}, newer than this Lacuna understands (${latest}); update Lacuna`,
    );
  }
  const applied: number[] = [];
  for (const m of list) {
    if (m.version <= from) continue;
    const step = db.transaction(() => {
      // Re-read under the write lock: another process may have migrated meanwhile.
      const current = schemaVersion(db);
      if (current >= m.version) return false;
      if (current !== m.version - 1) throw new Error(`schema version ${current} cannot take migration ${m.version}`);
      m.up(db);
      // PRAGMA cannot take bound parameters; m.version is an integer we control.
      db.pragma(`user_version = ${m.version}`);
      return true;
    });
    try {
      if (step.immediate()) applied.push(m.version);
    } catch (err) {
      if (err instanceof ApiError) throw err;
      throw new ApiError(
        'storage_error',
        `could not upgrade the library to schema version ${m.version} (${m.name}): ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }
  return { from, to: schemaVersion(db), applied };
}
