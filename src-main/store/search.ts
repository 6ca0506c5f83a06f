/**
 * Full-text search over titles and the text as the writer sees it (documents.shown, derived from
 * the body and rich text by common/writer-text.ts: a filled blank as the alternative on screen, no
 * Markdown, line breaks as line breaks).
 *
 * Bounded work per query, whatever the library holds (issue 16: "the" in a 100,000-word document
 * took 192 s with FTS5's snippet() over whole documents, "word" in a 20 M-character one over
 * 15 minutes):
 *
 *  - The index is over *passages*, not documents (migration 11): each document's text is cut into
 *    passages of at most PASSAGE_CHARS characters (passagesOf), its title is a passage of its own.
 *    The table search_parts holds them (ids in a block per document: seq * PART_BLOCK + n), the
 *    FTS5 table search_fts indexes them (external content). Saving re-indexes only the passages
 *    that changed (indexDocument).
 *  - A query makes one pass over at most SEARCH_HIT_CAP matching passages inside SQLite, counting
 *    matches per document; it never calls bm25() or rank, which FTS5 computes by reading every
 *    passage that holds a term, once per statement. Title matches come from a second pass with a
 *    column filter.
 *  - Candidates (title matches first, then the most matching passages, then the newest) are scored
 *    on one passage each with bm25's term-frequency part (passageScore; titles weigh TITLE_WEIGHT
 *    times the text), and the snippet is cut from that passage in JavaScript (snippetOf). So a
 *    query reads a bounded number of passages of bounded size.
 *
 * User input is never handed to FTS5's query language: it is split on whitespace and every term
 * becomes a quoted phrase (AND-ed within a passage; the last one a prefix, for search-as-you-type),
 * so quotes, parentheses, NEAR, AND/OR/NOT, `*`, `:` and `^` are just text and cannot raise a
 * syntax error.
 *
 * Snippets come back as plain text plus highlight ranges (UTF-16 offsets into the snippet), never
 * markup: the UI wraps the ranges itself.
 *
 * The desktop app and web mode run these queries on a worker thread (search-service.ts) so that
 * no search can hold up the thread that answers the window.
 */
import type { SearchHit } from '../common/api';
import { createHash } from 'node:crypto';
import type { Database } from './database';
import { PREVIEW_CHARS } from '../common/writer-text';

export const SEARCH_LIMIT = 50;
/** Longest passage, in UTF-16 code units. */
export const PASSAGE_CHARS = 4_000;
/** Matching passages one query looks at, at most. */
export const SEARCH_HIT_CAP = 200_000;
/** The start of a document's text kept apart for the document list (document_heads), in UTF-16 code units. */
export const HEAD_CHARS = PREVIEW_CHARS * 4;
/** Part ids of document `seq` are seq * PART_BLOCK + n, n = 0 (the title), 1, 2, … */
export const PART_BLOCK = 2 ** 24;
/** Title matches count five times a body match. */
const TITLE_WEIGHT = 5;
/** Words in a snippet. */
const SNIPPET_TOKENS = 16;

export type { SearchHit };

/** The searchable terms of free text: whitespace-separated, control characters and quotes removed, each with a letter or digit. */
function queryTerms(input: string): string[] {
  return (
    input
      // eslint-disable-next-line no-control-regex
      .replace(/[\u0000-\u001f\u007f\uFDD0\uFDD1]/g, ' ')
      .split(/\s+/u)
      .map((t) => t.replace(/"/g, ''))
      .filter((t) => /[\p{L}\p{N}]/u.test(t))
  );
}

/** The FTS5 MATCH expression for free text, or undefined when it has no searchable term. */
export function toFtsQuery(input: string): string | undefined {
  const terms = queryTerms(input);
  if (terms.length === 0) return undefined;
  return terms.map((t, i) => `"${t}"${i === terms.length - 1 ? '*' : ''}`).join(' ');
}

/**
 * Cut a document's text into passages of at most PASSAGE_CHARS code units: at the last line break
 * past half the limit, else at the last space or tab, else at the limit (never inside a surrogate
 * pair). Where the writer edits, only the passages around the edit change; after the next line
 * break the cuts fall where they fell before.
 */
export function passagesOf(text: string, max = PASSAGE_CHARS): string[] {
  const out: string[] = [];
  let start = 0;
  while (text.length - start > max) {
    const window = text.slice(start, start + max);
    let cut = window.lastIndexOf('\n');
    if (cut < max / 2) cut = Math.max(window.lastIndexOf(' '), window.lastIndexOf('\t'));
    if (cut <= 0) {
      cut = max;
      const c = text.charCodeAt(start + cut - 1);
      if (c >= 0xd800 && c <= 0xdbff) cut -= 1;
    } else {
      cut += 1; // the break stays with the passage it ends
    }
    out.push(text.slice(start, start + cut));
    start += cut;
  }
  if (start < text.length || out.length === 0) out.push(text.slice(start));
  return out.filter((p) => p.length > 0);
}

function digest(kind: 'title' | 'text', s: string): string {
  return createHash('sha1').update(kind).update('\0').update(s).digest('base64');
}

/**
 * Bring document `seq`'s derived rows up to date: the head the document list shows
 * (document_heads), and the passages. Passages: with its title and text: the title is part 0 of the
 * document's id block, passages of the text follow; passages whose content is unchanged stay (and
 * stay indexed), the rest are deleted and inserted (search_parts' triggers keep search_fts in
 * step). Call inside the transaction that writes the document.
 */
export function indexDocument(db: Database, seq: number, title: string, shown: string): void {
  db.prepare('INSERT INTO document_heads (doc_seq, head) VALUES (?, ?) ON CONFLICT (doc_seq) DO UPDATE SET head = excluded.head').run(
    seq,
    shown.slice(0, HEAD_CHARS),
  );
  const base = seq * PART_BLOCK;
  const ins = db.prepare('INSERT INTO search_parts (part_id, doc_seq, hash, title, text) VALUES (?, ?, ?, ?, ?)');
  const del = db.prepare('DELETE FROM search_parts WHERE part_id = ?');
  const titleHash = digest('title', title);
  const oldTitle = db.prepare<[number], string>('SELECT hash FROM search_parts WHERE part_id = ?').pluck().get(base);
  if (oldTitle !== titleHash) {
    if (oldTitle !== undefined) del.run(base);
    ins.run(base, seq, titleHash, title, '');
  }
  const wanted = passagesOf(shown).map((text) => ({ text, hash: digest('text', text) }));
  const have = db
    .prepare<[number, number], { part_id: number; hash: string }>('SELECT part_id, hash FROM search_parts WHERE doc_seq = ? AND part_id > ? ORDER BY part_id')
    .all(seq, base);
  const spare = new Map<string, number[]>();
  for (const h of have) (spare.get(h.hash) ?? spare.set(h.hash, []).get(h.hash)!).push(h.part_id);
  const toInsert = wanted.filter((w) => {
    const ids = spare.get(w.hash);
    if (!ids?.length) return true;
    ids.shift();
    return false;
  });
  for (const ids of spare.values()) for (const id of ids) del.run(id);
  let next = have.length ? have[have.length - 1]!.part_id + 1 : base + 1;
  if (next + toInsert.length >= base + PART_BLOCK) {
    // The block is used up (millions of edits): number the document's passages afresh.
    db.prepare('DELETE FROM search_parts WHERE doc_seq = ? AND part_id > ?').run(seq, base);
    next = base + 1;
    toInsert.splice(0, toInsert.length, ...wanted);
  }
  for (const w of toInsert) ins.run(next++, seq, w.hash, '', w.text);
}

/** Lower case without diacritics, split into letters-and-digits runs (close to FTS5's unicode61 remove_diacritics 2). */
export function searchTokens(text: string): string[] {
  return (
    text
      .normalize('NFKD')
      .replace(/\p{M}+/gu, '')
      .toLowerCase()
      .match(/[\p{L}\p{N}]+/gu) ?? []
  );
}

const BM25_K1 = 1.2;
const BM25_B = 0.75;
/** Typical passage length in tokens (PASSAGE_CHARS / ~5.5 characters a token), bm25's average length. */
const AVERAGE_PASSAGE_TOKENS = 700;

/**
 * bm25 of one passage for the query's terms (each term's tokens counted; the last term's last
 * token as a prefix), negated so that lower is better as FTS5 reports it. The inverse document
 * frequency is left out: FTS5 computes it by reading every passage that holds each term, which is
 * exactly the unbounded work this module avoids (and every passage here holds every term).
 */
export function passageScore(terms: string[][], text: string, weight: number): number {
  const tokens = searchTokens(text);
  if (tokens.length === 0) return 0;
  const norm = BM25_K1 * (1 - BM25_B + (BM25_B * tokens.length) / AVERAGE_PASSAGE_TOKENS);
  let score = 0;
  terms.forEach((termTokens, t) => {
    const last = t === terms.length - 1;
    termTokens.forEach((tok, k) => {
      const prefix = last && k === termTokens.length - 1;
      let tf = 0;
      for (const x of tokens) if (prefix ? x.startsWith(tok) : x === tok) tf++;
      score += (tf * (BM25_K1 + 1)) / (tf + norm);
    });
  });
  return -weight * score;
}

interface Candidate {
  doc: number;
  /** Matching passages of the text (the title part is not counted). */
  n: number;
  /** One of them (the earliest written), for the snippet and the score. */
  first: number | null;
  titled: number;
  id: string;
  title: string;
  updated_at: number;
}

export function searchDocuments(db: Database, query: string, limit = SEARCH_LIMIT): SearchHit[] {
  const match = toFtsQuery(query);
  if (match === undefined) return [];
  const terms = queryTerms(query)
    .map((t) => searchTokens(t))
    .filter((t) => t.length > 0);
  // 1. Which documents match, in one pass over at most SEARCH_HIT_CAP matching passages, inside
  //    SQLite (no bm25() or rank: FTS5 computes them by reading every passage holding a term, and
  //    once per statement), title matches in a second pass (column filter), live documents only
  //    (read from the covering index documents_by_seq, never from a document's row). The
  //    candidates to score: title matches first, then the documents with the most matching
  //    passages, then the newest (so a word in every note ranks the newest notes).
  const candidates = db
    .prepare<[string, number, string, number, number], Candidate>(
      `WITH hits AS (SELECT rowid AS rid FROM search_fts WHERE search_fts MATCH ? LIMIT ?),
            titled AS (SELECT DISTINCT rowid / ${PART_BLOCK} AS doc FROM search_fts WHERE search_fts MATCH ? LIMIT ?),
            per AS (SELECT rid / ${PART_BLOCK} AS doc, sum(rid % ${PART_BLOCK} != 0) AS n,
                           min(CASE WHEN rid % ${PART_BLOCK} != 0 THEN rid END) AS first
                    FROM hits GROUP BY doc)
       SELECT per.doc AS doc, per.n AS n, per.first AS first, per.doc IN titled AS titled,
              d.id AS id, d.title AS title, d.updated_at AS updated_at
       FROM per JOIN documents d INDEXED BY documents_by_seq ON d.seq = per.doc
       WHERE d.trashed_at IS NULL
       ORDER BY titled DESC, per.n DESC, d.updated_at DESC
       LIMIT ?`,
    )
    .all(match, SEARCH_HIT_CAP, `{title} : (${match})`, SEARCH_HIT_CAP, Math.max(0, Math.min(limit, SEARCH_LIMIT) * SCORED_PER_RESULT));
  // 3. Score and cut snippets from one passage each (bounded by PASSAGE_CHARS).
  const textOf = db.prepare<[number], string>('SELECT text FROM search_parts WHERE part_id = ?').pluck();
  const headOf = db.prepare<[number], string>('SELECT head FROM document_heads WHERE doc_seq = ?').pluck();
  return candidates
    .map((c) => {
      const passage = c.first === null ? undefined : textOf.get(c.first);
      const score = (passage === undefined ? 0 : passageScore(terms, passage, 1)) + (c.titled ? passageScore(terms, c.title, TITLE_WEIGHT) : 0);
      // Only the title matched: the start of the text, as the list previews it.
      const cut = passage === undefined ? { snippet: flatten(headOf.get(c.doc) ?? '').slice(0, 160), highlights: [] } : snippetOf(passage, terms);
      return { id: c.id, title: c.title, updatedAt: c.updated_at, score, ...cut };
    })
    .sort((a, b) => a.score - b.score || b.updatedAt - a.updatedAt)
    .slice(0, Math.max(0, limit));
}

/** Documents scored for each result asked for (the rest of the matches are ranked by count and age). */
const SCORED_PER_RESULT = 4;

/**
 * About SNIPPET_TOKENS words of `passage` around the first match of the query, with every matching
 * word highlighted: plain text and UTF-16 ranges, whitespace flattened.
 */
export function snippetOf(passage: string, terms: string[][]): { snippet: string; highlights: Array<{ start: number; end: number }> } {
  const flat = flatten(passage);
  const words = [...flat.matchAll(/[\p{L}\p{N}]+/gu)].map((m) => ({ start: m.index, end: m.index + m[0].length, token: searchTokens(m[0]).join('') }));
  const all = terms.flat();
  const lastTok = terms.at(-1)?.at(-1);
  const hit = (w: { token: string }): boolean => all.some((t) => w.token === t || (t === lastTok && w.token.startsWith(t)));
  const firstHit = Math.max(0, words.findIndex(hit));
  const from = Math.max(0, Math.min(firstHit - Math.floor(SNIPPET_TOKENS / 4), words.length - SNIPPET_TOKENS));
  const to = Math.min(words.length, from + SNIPPET_TOKENS);
  if (words.length === 0) return { snippet: flat.slice(0, 160), highlights: [] };
  const startAt = from === 0 ? 0 : words[from]!.start;
  const endAt = to === words.length ? flat.length : words[to - 1]!.end;
  const prefix = from === 0 ? '' : '…';
  const text = `${prefix}${flat.slice(startAt, endAt)}${to === words.length ? '' : '…'}`;
  const highlights = words
    .slice(from, to)
    .filter(hit)
    .map((w) => ({ start: w.start - startAt + prefix.length, end: w.end - startAt + prefix.length }));
  return { snippet: text, highlights };
}

function flatten(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\s\u0000-\u001f\u007f\uFDD0\uFDD1]+/gu, ' ').trim();
}
