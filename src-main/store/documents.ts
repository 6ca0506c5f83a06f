/**
 * Documents in the library: create, list, open, save with optimistic concurrency.
 *
 * Text round-trips exactly, including NUL, emoji, combining marks and right-to-left text, with one
 * caveat inherent to SQLite's UTF-8 storage: a lone UTF-16 surrogate (not valid Unicode, and not
 * encodable as UTF-8) is stored as U+FFFD. That replacement happens here, before writing, so the
 * document a create/save returns is exactly what a later open returns (left to the UTF-8 encoder,
 * one lone surrogate would come back as three U+FFFD).
 */
import { randomUUID } from 'node:crypto';
import { ApiError } from '../common/api';
import type { Document, DocumentSummary, Params, Revision, RevisionReason, RevisionSummary, SearchHit, TrashedSummary } from '../common/api';
import type { Database } from './database';
import { toStorageError } from './database';
import { DEFAULT_RETENTION, DEFAULT_SNAPSHOT_INTERVAL_MS, RevisionLog } from './revisions';
import type { RetentionPolicy } from './revisions';
import { indexDocument, searchDocuments } from './search';
import { PREVIEW_CHARS, makePreview, writerText } from '../common/writer-text';

export { PREVIEW_CHARS, makePreview };

interface Row {
  id: string;
  title: string;
  body: string;
  /** The editor's structured form of body (JSON text); NULL when only the body is known. */
  rich_text: string | null;
  /** The text as the writer sees it (common/writer-text.ts), from body and rich_text: searched, previewed. */
  shown?: string;
  created_at: number;
  updated_at: number;
  revision: number;
  trashed_at?: number | null;
  seq?: number;
}

interface SummaryRow {
  id: string;
  title: string;
  head: string | null;
  created_at: number;
  updated_at: number;
}

/** A save (api.ts documents.save params). */
export type SaveInput = Params<'documents.save'>;

export interface DocumentStoreOptions {
  /** Milliseconds since the epoch; injectable so ordering and retention tests need no sleeps. */
  now?: () => number;
  /** A save snapshots when the newest snapshot is older than this (default 5 minutes; 0: every save). */
  snapshotIntervalMs?: number;
  /** Snapshot retention (revisions.ts); fields not given keep their defaults. */
  retention?: Partial<RetentionPolicy>;
}

/** The records the store returns are the contract's (common/api.ts), never copies of them. */
export type { RevisionSummary, SearchHit, TrashedSummary };
/** A revision with its text (api.ts Revision). */
export type RevisionFull = Revision;

export function newDocumentId(): string {
  return randomUUID().replace(/-/g, '');
}

export class DocumentStore {
  private readonly db: Database;
  private readonly now: () => number;
  private readonly snapshotIntervalMs: number;
  private readonly revisions: RevisionLog;

  constructor(db: Database, options: DocumentStoreOptions = {}) {
    this.db = db;
    this.now = options.now ?? Date.now;
    this.snapshotIntervalMs = options.snapshotIntervalMs ?? DEFAULT_SNAPSHOT_INTERVAL_MS;
    this.revisions = new RevisionLog(db, { ...DEFAULT_RETENTION, ...options.retention });
  }

  create(input: { title?: string; body?: string; richText?: string } = {}): Document {
    const t = this.now();
    const row: Row = {
      id: newDocumentId(),
      title: wellFormed(input.title ?? ''),
      body: wellFormed(input.body ?? ''),
      rich_text: input.richText === undefined ? null : wellFormed(input.richText),
      created_at: t,
      updated_at: t,
      revision: 0,
    };
    const shown = writerText(row.body, row.rich_text);
    this.guard('could not create the document', () =>
      this.db
        .transaction(() => {
          const { lastInsertRowid } = this.db
            .prepare(
              `INSERT INTO documents (id, title, body, rich_text, shown, created_at, updated_at, revision)
               VALUES (@id, @title, @body, @rich_text, @shown, @created_at, @updated_at, @revision)`,
            )
            .run({ ...row, shown });
          indexDocument(this.db, Number(lastInsertRowid), row.title, shown);
        })
        .immediate(),
    );
    return toDocument(row);
  }

  /** Newest (most recently saved) first. Reads only the head of each body. */
  list(): DocumentSummary[] {
    const rows = this.guard('could not list documents', () =>
      this.db
        .prepare<[], SummaryRow>(
          `SELECT id, title, h.head AS head, created_at, updated_at
           FROM documents INDEXED BY documents_listing LEFT JOIN document_heads h ON h.doc_seq = documents.seq
           WHERE trashed_at IS NULL ORDER BY updated_at DESC, seq DESC`,
        )
        .all(),
    );
    return rows.map(toSummary);
  }

  open(id: string): Document {
    const row = this.guard('could not open the document', () => this.db.prepare<[string], Row>('SELECT * FROM documents WHERE id = ?').get(id));
    if (!row) throw notFound(id);
    return toDocument(row);
  }

  save(input: SaveInput): Document {
    const run = this.db.transaction((): Row => {
      const current = this.current(input.id, input.baseRevision);
      const now = this.now();
      const next = this.update(current, input.title, input.body, input.richText ?? null, now);
      // The snapshot commits with the save or not at all.
      const newest = this.revisions.newestAt(next.id);
      const reason: RevisionReason | undefined =
        input.snapshot ?? (newest === undefined || now - newest >= this.snapshotIntervalMs ? 'autosave-rhythm' : undefined);
      if (reason) this.revisions.snapshot(next, reason, now);
      return next;
    });
    // IMMEDIATE: take the write lock before reading, so the revision check and the update are one
    // atomic step even against another process (desktop app and CLI on the same library).
    return toDocument(this.guard('could not save the document', () => run.immediate()));
  }

  /** Snapshots of a document, newest first. */
  listRevisions(id: string): RevisionSummary[] {
    return this.guard('could not list revisions', () => {
      if (!this.db.prepare('SELECT 1 FROM documents WHERE id = ?').get(id)) throw notFound(id);
      return this.revisions.list(id).map((r) => ({
        revisionId: r.revision_id,
        revision: r.revision,
        createdAt: r.created_at,
        reason: r.reason,
        preview: r.preview,
        chars: r.chars,
      }));
    });
  }

  getRevision(revisionId: number): RevisionFull {
    const r = this.guard('could not read the revision', () => this.revisions.get(revisionId));
    if (!r) throw new ApiError('not_found', `no revision with id ${revisionId}`);
    return {
      revisionId: r.revision_id,
      documentId: r.document_id,
      revision: r.revision,
      createdAt: r.created_at,
      reason: r.reason,
      title: r.title,
      body: r.body,
    };
  }

  /** A snapshot's title and its text as the writer saw it (common/writer-text.ts), for diffs. */
  revisionShown(revisionId: number): { documentId: string; title: string; shown: string } {
    const r = this.guard('could not read the revision', () => this.revisions.get(revisionId));
    if (!r) throw new ApiError('not_found', `no revision with id ${revisionId}`);
    return { documentId: r.document_id, title: r.title, shown: writerText(r.body, r.rich_text) };
  }

  /** A document's text as the writer sees it (common/writer-text.ts). */
  shown(id: string): { title: string; revision: number; shown: string } {
    const row = this.guard('could not open the document', () =>
      this.db.prepare<[string], { title: string; revision: number; shown: string }>('SELECT title, revision, shown FROM documents WHERE id = ?').get(id),
    );
    if (!row) throw notFound(id);
    return row;
  }

  /**
   * Put a snapshot's text back as a new revision of its document. The current text is snapshotted
   * first (reason 'restore'), in the same transaction, so the restore can be undone.
   */
  restoreRevision(revisionId: number, baseRevision?: number): Document {
    const run = this.db.transaction((): Row => {
      const snap = this.revisions.get(revisionId);
      if (!snap) throw new ApiError('not_found', `no revision with id ${revisionId}`);
      const current = this.current(snap.document_id, baseRevision);
      const now = this.now();
      this.revisions.snapshot(current, 'restore', now);
      // The snapshot's rich text comes back with its body (none for snapshots from before v7: the
      // editor then reads the body afresh).
      return this.update(current, snap.title, snap.body, snap.rich_text ?? null, now);
    });
    return toDocument(this.guard('could not restore the revision', () => run.immediate()));
  }

  /** Ranked full-text search over live (not trashed) documents. */
  search(query: string, limit?: number): SearchHit[] {
    return this.guard('could not search', () => searchDocuments(this.db, query, limit));
  }

  /** Move to the trash: hidden from list and search, kept (with its revisions) until emptyTrash. */
  trash(id: string): void {
    this.guard('could not move the document to the trash', () => {
      const info = this.db.prepare('UPDATE documents SET trashed_at = ? WHERE id = ? AND trashed_at IS NULL').run(this.now(), id);
      if (info.changes === 0 && !this.db.prepare('SELECT 1 FROM documents WHERE id = ?').get(id)) throw notFound(id);
    });
  }

  /** Take a document out of the trash. Restoring one that is not trashed is a no-op. */
  untrash(id: string): Document {
    return this.guard('could not restore the document from the trash', () => {
      this.db.prepare('UPDATE documents SET trashed_at = NULL WHERE id = ?').run(id);
      return this.open(id);
    });
  }

  /** Trashed documents, most recently trashed first. */
  listTrash(): TrashedSummary[] {
    const rows = this.guard('could not list the trash', () =>
      this.db
        .prepare<[], SummaryRow & { trashed_at: number }>(
          `SELECT id, title, h.head AS head, created_at, updated_at, trashed_at
           FROM documents INDEXED BY documents_listing LEFT JOIN document_heads h ON h.doc_seq = documents.seq
           WHERE trashed_at IS NOT NULL ORDER BY trashed_at DESC, seq DESC`,
        )
        .all(),
    );
    return rows.map((r) => ({ ...toSummary(r), trashedAt: r.trashed_at }));
  }

  /** Delete every trashed document and its revisions for good. Returns how many. */
  emptyTrash(): number {
    return this.guard('could not empty the trash', () =>
      this.db.transaction(() => this.db.prepare('DELETE FROM documents WHERE trashed_at IS NOT NULL').run().changes).immediate(),
    );
  }

  /** The row to change, after the optimistic-concurrency check. Call inside a transaction. */
  private current(id: string, baseRevision: number | undefined): Row {
    const current = this.db.prepare<[string], Row>('SELECT * FROM documents WHERE id = ?').get(id);
    if (!current) throw notFound(id);
    if (baseRevision !== undefined && baseRevision !== current.revision) {
      throw new ApiError(
        'conflict',
        `document ${id} was saved elsewhere: it is at revision ${current.revision}, this edit was based on revision ${baseRevision}`,
      );
    }
    return current;
  }

  private update(current: Row, title: string, body: string, richText: string | null, now: number): Row {
    const next: Row = {
      ...current,
      title: wellFormed(title),
      body: wellFormed(body),
      rich_text: richText === null ? null : wellFormed(richText),
      // Never move backwards if the clock does, so "newest first" stays stable.
      updated_at: Math.max(now, current.updated_at),
      revision: current.revision + 1,
    };
    // The index only changes when what the writer sees does (title or shown).
    next.shown =
      next.body === current.body && next.rich_text === current.rich_text && current.shown !== undefined ? current.shown : writerText(next.body, next.rich_text);
    this.db
      .prepare('UPDATE documents SET title = ?, body = ?, rich_text = ?, shown = ?, updated_at = ?, revision = ? WHERE id = ?')
      .run(next.title, next.body, next.rich_text, next.shown, next.updated_at, next.revision, next.id);
    if (next.title !== current.title || next.shown !== current.shown) indexDocument(this.db, current.seq!, next.title, next.shown);
    return next;
  }

  private guard<T>(action: string, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw toStorageError(err, action);
    }
  }
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** String.prototype.toWellFormed (ES2024), spelled out for the ES2023 lib. */
export function wellFormed(s: string): string {
  return s.replace(LONE_SURROGATE, '\uFFFD');
}

function notFound(id: string): ApiError {
  return new ApiError('not_found', `no document with id ${id}`);
}

function toSummary(r: SummaryRow): DocumentSummary {
  return { id: r.id, title: r.title, preview: makePreview(r.head ?? ''), createdAt: r.created_at, updatedAt: r.updated_at };
}

function toDocument(r: Row): Document {
  return {
    id: r.id,
    title: r.title,
    body: r.body,
    ...(r.rich_text === null || r.rich_text === undefined ? {} : { richText: r.rich_text }),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    revision: r.revision,
  };
}
