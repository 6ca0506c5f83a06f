/**
 * Revisions: snapshots of a document's title and body, so a writer can go back.
 *
 * When a snapshot is taken (always inside the transaction of the save that triggers it, so a
 * snapshot and the text it records commit or vanish together):
 *   - 'autosave-rhythm': on a save, when the document's newest snapshot is older than
 *     `snapshotIntervalMs` (default 5 minutes) or it has none;
 *   - 'before-fill' / 'manual': when the save asks for one (documents.save `snapshot`);
 *   - 'restore': the current text, just before revisions.restore replaces it, so a restore can
 *     itself be undone by restoring that snapshot.
 * A snapshot holds the text as saved by that save (its revision number is the document's).
 *
 * Retention (applied to a document whenever a snapshot of it is written; `now` is injectable):
 *   1. every snapshot younger than 24 hours is kept;
 *   2. from 24 hours to 7 days old: the newest snapshot of each clock hour (UTC) is kept;
 *   3. older than 7 days: the newest snapshot of each day (UTC) is kept;
 *   4. of what is left, at most `maxPerDocument` (default 500), the newest, are kept.
 * Deleting a document (emptying the trash) deletes its snapshots.
 */
import type { Database } from './database';
import { PREVIEW_CHARS, makePreview, previewOf } from '../common/writer-text';
import type { RevisionReason } from '../common/api';

export type { RevisionReason };

export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;
export const DEFAULT_SNAPSHOT_INTERVAL_MS = 5 * 60_000;
export const DEFAULT_MAX_REVISIONS_PER_DOCUMENT = 500;

export interface RetentionPolicy {
  /** Keep everything younger than this (default 24 h). */
  keepAllMs: number;
  /** Then one per hour up to this age (default 7 days); one per day after. */
  hourlyUntilMs: number;
  maxPerDocument: number;
}

export const DEFAULT_RETENTION: RetentionPolicy = {
  keepAllMs: DAY_MS,
  hourlyUntilMs: 7 * DAY_MS,
  maxPerDocument: DEFAULT_MAX_REVISIONS_PER_DOCUMENT,
};

export interface RevisionStamp {
  revisionId: number;
  createdAt: number;
}

/**
 * The ids to keep under the policy. `revs` may come in any order; ties in createdAt go to the
 * higher revisionId (the later snapshot).
 */
export function revisionsToKeep(revs: readonly RevisionStamp[], now: number, policy: RetentionPolicy = DEFAULT_RETENTION): Set<number> {
  const sorted = [...revs].sort((a, b) => b.createdAt - a.createdAt || b.revisionId - a.revisionId);
  const kept: number[] = [];
  const buckets = new Set<string>();
  for (const r of sorted) {
    const age = now - r.createdAt;
    if (age < policy.keepAllMs) {
      kept.push(r.revisionId);
      continue;
    }
    const bucket = age < policy.hourlyUntilMs ? `h${Math.floor(r.createdAt / HOUR_MS)}` : `d${Math.floor(r.createdAt / DAY_MS)}`;
    if (buckets.has(bucket)) continue;
    buckets.add(bucket);
    kept.push(r.revisionId);
  }
  return new Set(kept.slice(0, Math.max(1, policy.maxPerDocument)));
}

export interface SnapshotSource {
  id: string;
  title: string;
  body: string;
  /** The editor's structured form of body, when the document has one. */
  rich_text?: string | null;
  /** The text as the writer sees it, when known (documents.shown); else it is worked out. */
  shown?: string;
  revision: number;
}

export interface RevisionRow {
  revision_id: number;
  document_id: string;
  revision: number;
  title: string;
  body: string;
  rich_text: string | null;
  chars: number;
  created_at: number;
  reason: RevisionReason;
  /** One line of the text as the writer sees it (v10). */
  preview: string;
}

/** Low-level revision statements. Callers own the transaction. */
export class RevisionLog {
  constructor(
    private readonly db: Database,
    private readonly policy: RetentionPolicy,
  ) {}

  newestAt(documentId: string): number | undefined {
    const row = this.db
      .prepare<[string], { created_at: number }>('SELECT created_at FROM revisions WHERE document_id = ? ORDER BY created_at DESC, revision_id DESC LIMIT 1')
      .get(documentId);
    return row?.created_at;
  }

  /** Write a snapshot and apply retention to that document. Returns the new revisionId. */
  snapshot(doc: SnapshotSource, reason: RevisionReason, now: number): number {
    const info = this.db
      .prepare(
        `INSERT INTO revisions (document_id, revision, title, body, rich_text, chars, created_at, reason, preview)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(doc.id, doc.revision, doc.title, doc.body, doc.rich_text ?? null, doc.body.length, now, reason, snapshotPreview(doc));
    this.prune(doc.id, now);
    return Number(info.lastInsertRowid);
  }

  prune(documentId: string, now: number): number {
    const stamps = this.db
      .prepare<[string], RevisionStamp>('SELECT revision_id AS revisionId, created_at AS createdAt FROM revisions WHERE document_id = ?')
      .all(documentId);
    const keep = revisionsToKeep(stamps, now, this.policy);
    const drop = this.db.prepare('DELETE FROM revisions WHERE revision_id = ?');
    let n = 0;
    for (const s of stamps) if (!keep.has(s.revisionId)) n += drop.run(s.revisionId).changes;
    return n;
  }

  list(documentId: string): Array<{ revision_id: number; revision: number; created_at: number; reason: RevisionReason; preview: string; chars: number }> {
    return this.db
      .prepare<[string], { revision_id: number; revision: number; created_at: number; reason: RevisionReason; preview: string; chars: number }>(
        `SELECT revision_id, revision, created_at, reason, preview, chars
         FROM revisions WHERE document_id = ? ORDER BY created_at DESC, revision_id DESC`,
      )
      .all(documentId);
  }

  get(revisionId: number): RevisionRow | undefined {
    return this.db.prepare<[number], RevisionRow>('SELECT * FROM revisions WHERE revision_id = ?').get(revisionId);
  }
}

/** A snapshot's preview: one line of the text as the writer sees it. */
function snapshotPreview(doc: SnapshotSource): string {
  if (doc.shown !== undefined) return makePreview(doc.shown.slice(0, PREVIEW_CHARS * 4));
  return previewOf(doc.body, doc.rich_text);
}
