/**
 * Full-text search over titles and the text as the writer sees it (documents.shown, derived from
 * the body and rich text by common/writer-text.ts: a filled blank as the alternative on screen, no
 * Markdown, line breaks as line breaks), in the FTS5 table documents_fts (migration 4, over
 * `shown` since migration 10). Snippets are cut from that text too.
 *
 * User input is never handed to FTS5's query language: it is split on whitespace and every term
 * becomes a quoted phrase (AND-ed; the last one a prefix, for search-as-you-type), so quotes,
 * parentheses, NEAR, AND/OR/NOT, `*`, `:` and `^` are just text and cannot raise a syntax error.
 *
 * Snippets come back as plain text plus highlight ranges (UTF-16 offsets into the snippet), never
 * markup: the UI wraps the ranges itself. The markers FTS5's snippet() inserts are Unicode
 * noncharacters (reserved for exactly this kind of internal use) and are removed from the text.
 */
import type { Database } from './database';

export const SEARCH_LIMIT = 50;
const OPEN = '\uFDD0';
const CLOSE = '\uFDD1';
/** Title matches count five times a body match. */
const TITLE_WEIGHT = 5;
const SNIPPET_TOKENS = 16;

export interface SearchHit {
  id: string;
  title: string;
  updatedAt: number;
  snippet: string;
  highlights: Array<{ start: number; end: number }>;
  /** bm25 score; lower is better (results come best first). */
  score: number;
}

/** The FTS5 MATCH expression for free text, or undefined when it has no searchable term. */
export function toFtsQuery(input: string): string | undefined {
  const terms = input
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u001f\u007f\uFDD0\uFDD1]/g, ' ')
    .split(/\s+/u)
    .map((t) => t.replace(/"/g, ''))
    .filter((t) => /[\p{L}\p{N}]/u.test(t));
  if (terms.length === 0) return undefined;
  return terms.map((t, i) => `"${t}"${i === terms.length - 1 ? '*' : ''}`).join(' ');
}

interface HitRow {
  id: string;
  title: string;
  updated_at: number;
  snip: string;
  score: number;
}

export function searchDocuments(db: Database, query: string, limit = SEARCH_LIMIT): SearchHit[] {
  const match = toFtsQuery(query);
  if (match === undefined) return [];
  // Rank first, then build snippets for the top rows only: snippet() re-reads and re-tokenises a
  // document, and computed in the ranking query it would run for every match before the LIMIT.
  const rows = db
    .prepare<[string, number, string], HitRow>(
      `WITH top AS (
         SELECT documents_fts.rowid AS rid, bm25(documents_fts, ${TITLE_WEIGHT}, 1) AS score, d.updated_at AS updated_at
         FROM documents_fts JOIN documents d ON d.seq = documents_fts.rowid
         WHERE documents_fts MATCH ? AND d.trashed_at IS NULL
         ORDER BY score, d.updated_at DESC
         LIMIT ?
       )
       SELECT d.id, d.title, d.updated_at,
              snippet(documents_fts, -1, '${OPEN}', '${CLOSE}', '…', ${SNIPPET_TOKENS}) AS snip,
              top.score AS score
       FROM top
       JOIN documents_fts ON documents_fts.rowid = top.rid
       JOIN documents d ON d.seq = top.rid
       WHERE documents_fts MATCH ?
       ORDER BY top.score, top.updated_at DESC`,
    )
    .all(match, limit, match);
  return rows.map((r) => ({ id: r.id, title: r.title, updatedAt: r.updated_at, score: r.score, ...parseSnippet(r.snip) }));
}

/** Flatten whitespace and control characters, then turn the markers into ranges. */
export function parseSnippet(raw: string): { snippet: string; highlights: Array<{ start: number; end: number }> } {
  // eslint-disable-next-line no-control-regex
  const flat = raw.replace(/[\s\u0000-\u001f\u007f]+/gu, ' ');
  let text = '';
  const highlights: Array<{ start: number; end: number }> = [];
  let open = -1;
  for (const ch of flat) {
    if (ch === OPEN) {
      if (open === -1) open = text.length;
    } else if (ch === CLOSE) {
      if (open !== -1 && text.length > open) highlights.push({ start: open, end: text.length });
      open = -1;
    } else {
      text += ch;
    }
  }
  if (open !== -1 && text.length > open) highlights.push({ start: open, end: text.length });
  return { snippet: text, highlights };
}
