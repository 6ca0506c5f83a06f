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
import { ApiError } from '../common/api';
import { previewOf, writerText } from '../common/writer-text';
import { indexDocument } from './search';

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
  {
    version: 2,
    name: 'stable integer keys and trash',
    up(db) {
      // Rebuild documents with an INTEGER PRIMARY KEY alias (`seq`): the full-text index (v4) is
      // keyed by it, and an implicit rowid may be renumbered by VACUUM, an alias never is. The old
      // rowids are kept, so list order is unchanged. No foreign key points at documents yet (that
      // starts in v3), so dropping the old table is safe with foreign_keys on.
      // `trashed_at`: NULL for a live document, else when it was moved to the trash.
      db.exec(`
        CREATE TABLE documents_v2 (
          id          TEXT    NOT NULL UNIQUE CHECK (length(id) = 32),
          title       TEXT    NOT NULL,
          body        TEXT    NOT NULL,
          created_at  INTEGER NOT NULL,
          updated_at  INTEGER NOT NULL,
          revision    INTEGER NOT NULL CHECK (revision >= 0),
          trashed_at  INTEGER,
          seq         INTEGER PRIMARY KEY
        ) STRICT;
        INSERT INTO documents_v2 (seq, id, title, body, created_at, updated_at, revision, trashed_at)
          SELECT rowid, id, title, body, created_at, updated_at, revision, NULL FROM documents;
        DROP TABLE documents;
        ALTER TABLE documents_v2 RENAME TO documents;
        CREATE INDEX documents_updated_at ON documents (updated_at DESC);
      `);
    },
  },
  {
    version: 3,
    name: 'create revisions',
    up(db) {
      // Snapshots of a document (see revisions.ts for when they are taken and how long kept).
      // `revision` is the document's revision the snapshot holds; `chars` the body's length in
      // UTF-16 code units, as the editor counts (SQLite's length() stops at a NUL).
      db.exec(`
        CREATE TABLE revisions (
          revision_id  INTEGER PRIMARY KEY,
          document_id  TEXT    NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
          revision     INTEGER NOT NULL CHECK (revision >= 0),
          title        TEXT    NOT NULL,
          body         TEXT    NOT NULL,
          chars        INTEGER NOT NULL CHECK (chars >= 0),
          created_at   INTEGER NOT NULL,
          reason       TEXT    NOT NULL CHECK (reason IN ('autosave-rhythm', 'before-fill', 'manual', 'restore'))
        ) STRICT;
        CREATE INDEX revisions_by_document ON revisions (document_id, created_at DESC, revision_id DESC);
      `);
    },
  },
  {
    version: 4,
    name: 'full-text search',
    up(db) {
      // External-content FTS5 index over documents (keyed by the stable `seq`), kept in sync by
      // triggers, so every write that changes a title or body updates the index in the same
      // transaction. remove_diacritics 2: "cafe" finds "café".
      db.exec(`
        CREATE VIRTUAL TABLE documents_fts USING fts5 (
          title, body,
          content = 'documents', content_rowid = 'seq',
          tokenize = 'unicode61 remove_diacritics 2'
        );
        CREATE TRIGGER documents_fts_insert AFTER INSERT ON documents BEGIN
          INSERT INTO documents_fts (rowid, title, body) VALUES (new.seq, new.title, new.body);
        END;
        CREATE TRIGGER documents_fts_delete AFTER DELETE ON documents BEGIN
          INSERT INTO documents_fts (documents_fts, rowid, title, body) VALUES ('delete', old.seq, old.title, old.body);
        END;
        CREATE TRIGGER documents_fts_update AFTER UPDATE OF title, body ON documents BEGIN
          INSERT INTO documents_fts (documents_fts, rowid, title, body) VALUES ('delete', old.seq, old.title, old.body);
          INSERT INTO documents_fts (rowid, title, body) VALUES (new.seq, new.title, new.body);
        END;
        INSERT INTO documents_fts (documents_fts) VALUES ('rebuild');
      `);
    },
  },
  {
    version: 5,
    name: 'generation records',
    up(db) {
      // Provenance of each fill run for a document (store/generations.ts): the settings, the input
      // text with its blanks, every alternative's text and fills (JSON), and which alternative the
      // writer kept (NULL until one is accepted). Deleted with its document.
      db.exec(`
        CREATE TABLE generations (
          id                 INTEGER PRIMARY KEY,
          document_id        TEXT    NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
          created_at         INTEGER NOT NULL,
          model              TEXT    NOT NULL,
          seed               INTEGER NOT NULL,
          steps              INTEGER NOT NULL,
          sampler            TEXT    NOT NULL,
          device             TEXT    NOT NULL,
          mode               TEXT    NOT NULL CHECK (mode IN ('exact', 'fast')),
          duration_ms        REAL    NOT NULL,
          network_calls      INTEGER NOT NULL,
          input_text         TEXT    NOT NULL,
          alternatives_json  TEXT    NOT NULL,
          accepted           INTEGER CHECK (accepted IS NULL OR accepted >= 0)
        ) STRICT;
        CREATE INDEX generations_by_document ON generations (document_id, created_at DESC, id DESC);
      `);
    },
  },
  {
    version: 6,
    name: 'rich text of documents',
    up(db) {
      // The editor's structured form of a document (a ProseMirror document as JSON text) next to
      // `body`, which stays the text of record (Markdown with the blank syntax: search, export,
      // fill). NULL when only the body is known: every document written before this version, and
      // any save, restore or import that brings no rich text. The search triggers watch title and
      // body only, so this column never touches the index.
      db.exec('ALTER TABLE documents ADD COLUMN rich_text TEXT;');
    },
  },
  {
    version: 7,
    name: 'rich text of revisions',
    up(db) {
      // A snapshot keeps the editor's structured form too, so restoring it brings back what
      // Markdown cannot hold (a filled blank's alternatives, generated-text marks, per-document
      // fill settings). NULL for snapshots taken before this version and of documents without it.
      db.exec('ALTER TABLE revisions ADD COLUMN rich_text TEXT;');
    },
  },
  {
    version: 8,
    name: 'temperature of generations',
    up(db) {
      // The temperature a fill sampled at (FillRequest.temperature); every fill before this
      // version sampled at 1.
      db.exec('ALTER TABLE generations ADD COLUMN temperature REAL NOT NULL DEFAULT 1;');
    },
  },
  {
    version: 9,
    name: 'top-p and unmasking order of generations',
    up(db) {
      // The rest of the token choice (FillRequest.topP, .unmasking); every fill before this version
      // kept every token and unmasked in random order.
      db.exec(`ALTER TABLE generations ADD COLUMN top_p REAL NOT NULL DEFAULT 1;
               ALTER TABLE generations ADD COLUMN unmasking TEXT NOT NULL DEFAULT 'random' CHECK (unmasking IN ('random', 'confident'));`);
    },
  },
  {
    version: 10,
    name: 'search the text as the writer sees it',
    up(db) {
      // `shown`: the text as the writer sees it (common/writer-text.ts: a filled blank as the
      // alternative on screen, no Markdown, line breaks as line breaks), written with every change
      // of body or rich text. The search index, the document list's previews and the snippets read
      // it instead of the body. The index is made anew over (title, shown); its triggers watch
      // those two. Revisions keep their preview the same way (`preview`, already one line).
      db.exec(`
        ALTER TABLE documents ADD COLUMN shown TEXT NOT NULL DEFAULT '';
        ALTER TABLE revisions ADD COLUMN preview TEXT NOT NULL DEFAULT '';
        DROP TRIGGER documents_fts_insert;
        DROP TRIGGER documents_fts_delete;
        DROP TRIGGER documents_fts_update;
        DROP TABLE documents_fts;
      `);
      // One row at a time (a library may be large; a statement being iterated blocks writes).
      const docSeqs = db.prepare<[], number>('SELECT seq FROM documents').pluck().all();
      const doc = db.prepare<[number], { body: string; rich_text: string | null }>('SELECT body, rich_text FROM documents WHERE seq = ?');
      const setShown = db.prepare('UPDATE documents SET shown = ? WHERE seq = ?');
      for (const seq of docSeqs) {
        const r = doc.get(seq)!;
        setShown.run(writerText(r.body, r.rich_text), seq);
      }
      const revIds = db.prepare<[], number>('SELECT revision_id FROM revisions').pluck().all();
      const rev = db.prepare<[number], { body: string; rich_text: string | null }>('SELECT body, rich_text FROM revisions WHERE revision_id = ?');
      const setPreview = db.prepare('UPDATE revisions SET preview = ? WHERE revision_id = ?');
      for (const id of revIds) {
        const r = rev.get(id)!;
        setPreview.run(previewOf(r.body, r.rich_text), id);
      }
      db.exec(`
        CREATE VIRTUAL TABLE documents_fts USING fts5 (
          title, shown,
          content = 'documents', content_rowid = 'seq',
          tokenize = 'unicode61 remove_diacritics 2'
        );
        CREATE TRIGGER documents_fts_insert AFTER INSERT ON documents BEGIN
          INSERT INTO documents_fts (rowid, title, shown) VALUES (new.seq, new.title, new.shown);
        END;
        CREATE TRIGGER documents_fts_delete AFTER DELETE ON documents BEGIN
          INSERT INTO documents_fts (documents_fts, rowid, title, shown) VALUES ('delete', old.seq, old.title, old.shown);
        END;
        CREATE TRIGGER documents_fts_update AFTER UPDATE OF title, shown ON documents BEGIN
          INSERT INTO documents_fts (documents_fts, rowid, title, shown) VALUES ('delete', old.seq, old.title, old.shown);
          INSERT INTO documents_fts (rowid, title, shown) VALUES (new.seq, new.title, new.shown);
        END;
        INSERT INTO documents_fts (documents_fts) VALUES ('rebuild');
      `);
    },
  },
  {
    version: 11,
    name: 'search by passages',
    up(db) {
      // The index moves from whole documents to passages (store/search.ts): a query's work and a
      // snippet's are bounded by the passage, not by the longest document, and a save re-indexes
      // only the passages that changed. search_parts holds each document's title (part 0) and
      // passages, with ids in a block per document (seq * 2^24 + n) so a query can skip the rest
      // of a document in one seek; search_fts indexes them (external content), kept in step by
      // triggers; the store writes search_parts when it writes a document (indexDocument), and a
      // deleted document takes its passages with it (ON DELETE CASCADE fires the delete trigger).
      // document_heads keeps the start of each text for the document list: reading it from
      // `shown` loaded the whole text (20 M characters) of every document on every list. The two
      // covering indexes answer the list and the search's per-document lookups without reading a
      // document's row: a column stored after a 20 M-character body is reached only by walking
      // the body's overflow pages (~17 ms a document here).
      db.exec(`
        DROP TRIGGER documents_fts_insert;
        DROP TRIGGER documents_fts_delete;
        DROP TRIGGER documents_fts_update;
        DROP TABLE documents_fts;
        CREATE TABLE search_parts (
          part_id  INTEGER PRIMARY KEY,
          doc_seq  INTEGER NOT NULL REFERENCES documents (seq) ON DELETE CASCADE,
          hash     TEXT    NOT NULL,
          title    TEXT    NOT NULL,
          text     TEXT    NOT NULL
        ) STRICT;
        CREATE INDEX search_parts_by_document ON search_parts (doc_seq);
        CREATE INDEX documents_listing ON documents (trashed_at, updated_at, seq, id, title, created_at);
        CREATE INDEX documents_by_seq ON documents (seq, trashed_at, updated_at, id, title);
        CREATE TABLE document_heads (
          doc_seq  INTEGER PRIMARY KEY REFERENCES documents (seq) ON DELETE CASCADE,
          head     TEXT    NOT NULL
        ) STRICT;
        CREATE VIRTUAL TABLE search_fts USING fts5 (
          title, text,
          content = 'search_parts', content_rowid = 'part_id',
          tokenize = 'unicode61 remove_diacritics 2'
        );
        CREATE TRIGGER search_parts_insert AFTER INSERT ON search_parts BEGIN
          INSERT INTO search_fts (rowid, title, text) VALUES (new.part_id, new.title, new.text);
        END;
        CREATE TRIGGER search_parts_delete AFTER DELETE ON search_parts BEGIN
          INSERT INTO search_fts (search_fts, rowid, title, text) VALUES ('delete', old.part_id, old.title, old.text);
        END;
      `);
      // One document at a time (a library may be large).
      const seqs = db.prepare<[], number>('SELECT seq FROM documents').pluck().all();
      const doc = db.prepare<[number], { title: string; shown: string }>('SELECT title, shown FROM documents WHERE seq = ?');
      for (const seq of seqs) {
        const r = doc.get(seq)!;
        indexDocument(db, seq, r.title, r.shown);
      }
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
    throw new ApiError('storage_error', `the library at ${db.name} has schema version ${from}, newer than this Lacuna understands (${latest}); update Lacuna`);
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
