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
import { ApiError } from '../../common/api';
import type { Document, DocumentSummary } from '../../common/api';
import type { Database } from './database';
import { toStorageError } from './database';

/** Characters of body shown in the document list. */
export const PREVIEW_CHARS = 160;

interface Row {
  id: string;
  title: string;
  body: string;
  created_at: number;
  updated_at: number;
  revision: number;
}

interface SummaryRow {
  id: string;
  title: string;
  head: string | null;
  created_at: number;
  updated_at: number;
}

export interface SaveInput {
  id: string;
  title: string;
  body: string;
  /** The revision the edit was based on; a mismatch is a conflict. Omit to overwrite. */
  baseRevision?: number;
}

export interface DocumentStoreOptions {
  /** Milliseconds since the epoch; injectable so ordering tests need no sleeps. */
  now?: () => number;
}

export function newDocumentId(): string {
  return randomUUID().replace(/-/g, '');
}

export class DocumentStore {
  private readonly db: Database;
  private readonly now: () => number;

  constructor(db: Database, options: DocumentStoreOptions = {}) {
    this.db = db;
    this.now = options.now ?? Date.now;
  }

  create(input: { title?: string; body?: string } = {}): Document {
    const t = this.now();
    const row: Row = {
      id: newDocumentId(),
      title: wellFormed(input.title ?? ''),
      body: wellFormed(input.body ?? ''),
      created_at: t,
      updated_at: t,
      revision: 0,
    };
    this.guard('could not create the document', () =>
      this.db
        .prepare(
          `INSERT INTO documents (id, title, body, created_at, updated_at, revision)
           VALUES (@id, @title, @body, @created_at, @updated_at, @revision)`,
        )
        .run(row),
    );
    return toDocument(row);
  }

  /** Newest (most recently saved) first. Reads only the head of each body. */
  list(): DocumentSummary[] {
    const rows = this.guard('could not list documents', () =>
      this.db
        .prepare<[number], SummaryRow>(
          `SELECT id, title, substr(body, 1, ?) AS head, created_at, updated_at
           FROM documents ORDER BY updated_at DESC, rowid DESC`,
        )
        .all(PREVIEW_CHARS * 4),
    );
    return rows.map((r) => ({
      id: r.id,
      title: r.title,
      preview: makePreview(r.head ?? ''),
      createdAt: r.created_at,
      updatedAt: r.updated_at,
    }));
  }

  open(id: string): Document {
    const row = this.guard('could not open the document', () =>
      this.db.prepare<[string], Row>('SELECT * FROM documents WHERE id = ?').get(id),
    );
    if (!row) throw notFound(id);
    return toDocument(row);
  }

  save(input: SaveInput): Document {
    const run = this.db.transaction((): Row => {
      const current = this.db.prepare<[string], Row>('SELECT * FROM documents WHERE id = ?').get(input.id);
      if (!current) throw notFound(input.id);
      if (input.baseRevision !== undefined && input.baseRevision !== current.revision) {
        throw new ApiError(
          'conflict',
          `document ${input.id} was saved elsewhere: it is at revision ${current.revision}, this edit was based on revision ${input.baseRevision}`,
        );
      }
      const next: Row = {
        ...current,
        title: wellFormed(input.title),
        body: wellFormed(input.body),
        // Never move backwards if the clock does, so "newest first" stays stable.
        updated_at: Math.max(this.now(), current.updated_at),
        revision: current.revision + 1,
      };
      this.db
        .prepare(
          `UPDATE documents SET title = @title, body = @body, updated_at = @updated_at, revision = @revision
           WHERE id = @id`,
        )
        .run(next);
      return next;
    });
    // IMMEDIATE: take the write lock before reading, so the revision check and the update are one
    // atomic step even against another process (desktop app and CLI on the same library).
    return toDocument(this.guard('could not save the document', () => run.immediate()));
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

function toDocument(r: Row): Document {
  return { id: r.id, title: r.title, body: r.body, createdAt: r.created_at, updatedAt: r.updated_at, revision: r.revision };
}

/** One line of at most PREVIEW_CHARS code points: whitespace and control characters collapsed. */
export function makePreview(head: string): string {
  // eslint-disable-next-line no-control-regex
  const flat = head.replace(/[\s\u0000-\u001f\u007f]+/gu, ' ').trim();
  const chars = Array.from(flat);
  if (chars.length <= PREVIEW_CHARS) return flat;
  return chars.slice(0, PREVIEW_CHARS - 1).join('').trimEnd() + '…';
}
