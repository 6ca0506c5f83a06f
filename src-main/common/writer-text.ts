/**
 * The text as the writer sees it: the one place it is computed, for everything that shows a
 * document's text outside the editor (export, `lacuna docs show`, the library's previews, search
 * and its snippets, the revisions panel). Runs anywhere (no Node, no DOM, no ProseMirror).
 *
 * A document stores its body (Markdown with the blank syntax, the text of record) and, when the
 * editor saved it, its rich text (ProseMirror JSON), where a filled blank keeps its alternatives
 * until the writer accepts one. In the body such a blank is still its syntax (`{{16}}`, `____`);
 * on screen it reads as the alternative shown. Two forms follow from that:
 *
 *   shownMarkdown  the body with each filled blank written as the alternative on screen (as
 *                  Markdown text, escaped); export and `docs show`. With blanks 'keep', the body as
 *                  stored (the blank syntax; export → import then gives back the same body).
 *   writerText     the words without their Markdown: block markers (headings, quotes, list
 *                  items), emphasis delimiters, backslash escapes (a hard line break's `\`
 *                  included) and character references go, line breaks stay line breaks; a blank
 *                  still empty reads `____`. Search indexes it; previews and snippets are cut
 *                  from it; the revisions panel diffs it. Plain-text export is the same text with
 *                  its list markers kept (markdownToPlain with lists).
 *
 * The body's blanks and the rich text's blank nodes are matched in document order (the editor
 * writes the body from the rich text, blank for blank). A rich text that does not parse, or holds
 * another number of blanks than the body, is ignored: the body alone is then what the writer sees.
 */
import { blankMatches, isBlankLength, replaceBlankMatches } from './blanks';

/** How blanks leave the app: as the text on screen (default) or as the blank syntax. */
export type BlanksAs = 'shown' | 'keep';

interface BlankNode {
  type?: unknown;
  attrs?: { status?: unknown; alternatives?: unknown; chosen?: unknown };
  content?: unknown;
}

/** The rich text's blanks in document order: the alternative on screen, or null (empty, filling). Undefined: no usable rich text. */
export function richTextBlanks(richText: string): Array<string | null> | undefined {
  // Most documents have no blank: no need to parse them.
  if (!richText.includes('"blank"')) return [];
  let doc: unknown;
  try {
    doc = JSON.parse(richText);
  } catch {
    return undefined;
  }
  const out: Array<string | null> = [];
  const walk = (node: unknown): void => {
    if (typeof node !== 'object' || node === null) return;
    const n = node as BlankNode;
    if (n.type === 'blank') {
      const a = n.attrs ?? {};
      const alts = a.alternatives;
      const chosen = typeof a.chosen === 'number' ? a.chosen : 0;
      const shown = a.status === 'filled' && Array.isArray(alts) ? alts[chosen] : undefined;
      out.push(typeof shown === 'string' ? shown : null);
      return;
    }
    if (Array.isArray(n.content)) for (const c of n.content) walk(c);
  };
  walk(doc);
  return out;
}

/** Whether a blank token of the body (common/blanks.ts blankMatches) is a blank the editor reads. */
function isBlankToken(slashes: number, length: string | undefined): boolean {
  if (slashes % 2 === 1) return false;
  return length === undefined || length === 'auto' || isBlankLength(Number(length));
}

/** Number of blanks in a body, as the editor's Markdown reads them. */
function bodyBlanks(body: string): number {
  let n = 0;
  for (const m of blankMatches(body)) if (isBlankToken(m.slashes, m.length)) n++;
  return n;
}

/**
 * Generated text written into Markdown so that it reads back as exactly that text: every
 * backslash, `*`, `_`, `{`, `&` and `#` escaped; at a line start also what would begin a quote or
 * a list.
 */
export function escapeMarkdownText(text: string, atLineStart: boolean): string {
  const inline = text.replace(/[\\*_{&#]/g, '\\$&');
  return inline.replace(/(^|\n)([ \t]*)(>|[-+](?=[ \t]|$)|\d{1,9}(?=[.)]))/g, (all, start: string, indent: string, marker: string, offset: number) => {
    if (offset === 0 && start === '' && !atLineStart) return all;
    return /^\d/.test(marker) ? `${start}${indent}${marker}\\` : `${start}${indent}\\${marker}`;
  });
}

/**
 * The body with each filled blank written as the alternative on screen (see the top of the file).
 * `partial`: the body is only the start of a document (a preview's head): its blanks are the
 * rich text's first ones, and the counts are not compared.
 */
export function shownMarkdown(body: string, richText: string | null | undefined, blanks: BlanksAs = 'shown', partial = false): string {
  if (blanks === 'keep' || !richText) return body;
  const shown = richTextBlanks(richText);
  if (!shown || !shown.some((s) => s !== null)) return body;
  if (!partial && bodyBlanks(body) !== shown.length) return body;
  let k = 0;
  return replaceBlankMatches(body, (m) => {
    const all = body.slice(m.index, m.end);
    if (!isBlankToken(m.slashes, m.length)) return all;
    const text = shown[k++];
    if (text === null || text === undefined) return all;
    const at = m.index + m.slashes;
    const lineStart = at === 0 || body[at - 1] === '\n';
    return '\\'.repeat(m.slashes) + escapeMarkdownText(text, lineStart && m.slashes === 0);
  });
}

// ---- Markdown without its markup ------------------------------------------------------------

const ASCII_PUNCT = /[!-/:-@[-`{-~]/;
const SPACE = /\s/;
/** Heading and quote markers go; list markers (with their indentation) stay. */
const BLOCK_MARKERS = /^(?:[ \t]*(?:>[ \t]?|#{1,6}(?:[ \t]+|$)))+/;
const LIST_MARKER = /^[ \t]*(?:[-+*]|\d{1,9}[.)])[ \t]+/;
const BLANK_AT = /^(?:_{4,}|\{\{\s*(\d+|auto)\s*\}\})/;
const ENTITY = /^&(?:(amp|lt|gt|quot|apos|nbsp)|#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6}));/;
const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

function isWordChar(c: string | undefined): boolean {
  return c !== undefined && /[\p{L}\p{N}]/u.test(c);
}

/** A blank token at `i` (a valid one): its length in characters. */
function blankAt(line: string, i: number): number {
  const c = line[i];
  if (c !== '_' && c !== '{') return 0;
  const m = BLANK_AT.exec(line.slice(i, i + 1_100));
  if (!m) return 0;
  return m[1] === undefined || m[1] === 'auto' || isBlankLength(Number(m[1])) ? m[0].length : 0;
}

/** The characters plainInline acts on; everything between them is copied as it is. */
const SPECIAL = /[\\*_{&]/g;

/** One line's inline Markdown as plain text. */
function plainInline(line: string): string {
  let out = '';
  let i = 0;
  while (i < line.length) {
    SPECIAL.lastIndex = i;
    const found = SPECIAL.exec(line);
    if (!found) {
      out += line.slice(i);
      break;
    }
    if (found.index > i) {
      out += line.slice(i, found.index);
      i = found.index;
    }
    const c = line[i]!;
    if (c === '\\') {
      let n = 0;
      while (line[i + n] === '\\') n++;
      const blank = blankAt(line, i + n);
      if (blank) {
        // Pairs are backslashes; an odd one makes the blank text.
        out += '\\'.repeat(n >> 1) + (n % 2 === 1 ? line.slice(i + n, i + n + blank) : '____');
        i += n + blank;
        continue;
      }
      const next = line[i + 1];
      if (next !== undefined && ASCII_PUNCT.test(next)) {
        out += next;
        i += 2;
      } else {
        // A hard line break's backslash (at the end of the line) goes; any other stays.
        if (next !== undefined) out += '\\';
        i += 1;
      }
      continue;
    }
    if (c === '*') {
      let end = i;
      while (line[end] === '*') end++;
      const before = line[i - 1];
      const after = line[end];
      // A delimiter touches a word on one side; a lone star between spaces is text.
      const delimiter = (after !== undefined && !SPACE.test(after)) || (before !== undefined && !SPACE.test(before));
      if (!delimiter) out += line.slice(i, end);
      i = end;
      continue;
    }
    if (c === '_' || c === '{') {
      const blank = blankAt(line, i);
      if (blank) {
        out += '____';
        i += blank;
        continue;
      }
      if (c === '_') {
        let end = i;
        while (line[end] === '_') end++;
        // snake_case stays; emphasis delimiters go.
        if (isWordChar(line[i - 1]) && isWordChar(line[end])) out += line.slice(i, end);
        i = end;
        continue;
      }
      out += c;
      i += 1;
      continue;
    }
    if (c === '&') {
      const m = ENTITY.exec(line.slice(i, i + 12));
      if (m) {
        const code = m[2] !== undefined ? Number(m[2]) : m[3] !== undefined ? parseInt(m[3], 16) : null;
        out += m[1] !== undefined ? NAMED[m[1]]! : code !== null && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : '\uFFFD';
        i += m[0].length;
        continue;
      }
    }
    out += c;
    i += 1;
  }
  return out;
}

/**
 * Markdown (the body's form) as plain text, line for line (see the top of the file). List markers
 * go too, unless `lists` (a plain-text file keeps its "- " and "1. "; a one-line preview does not).
 */
export function markdownToPlain(markdown: string, lists = false): string {
  return markdown
    .split('\n')
    .map((line) => {
      let rest = line.slice(BLOCK_MARKERS.exec(line)?.[0].length ?? 0);
      let list = '';
      // Markers of nested blocks (a quote in a list item, a list in a list) one after the other.
      for (let m = LIST_MARKER.exec(rest); m; m = LIST_MARKER.exec(rest)) {
        if (lists) list += m[0];
        rest = rest.slice(m[0].length);
        rest = rest.slice(BLOCK_MARKERS.exec(rest)?.[0].length ?? 0);
      }
      return list + plainInline(rest);
    })
    .join('\n');
}

/** The text as the writer sees it (see the top of the file). */
export function writerText(body: string, richText?: string | null, partial = false): string {
  return markdownToPlain(shownMarkdown(body, richText, 'shown', partial));
}

// ---- One-line previews --------------------------------------------------------------------

/** Characters of text shown in the document list and the revisions list. */
export const PREVIEW_CHARS = 160;

/** One line of at most PREVIEW_CHARS code points: whitespace and control characters collapsed. */
export function makePreview(head: string): string {
  // eslint-disable-next-line no-control-regex
  const flat = head.replace(/[\s\u0000-\u001f\u007f]+/gu, ' ').trim();
  const chars = Array.from(flat);
  if (chars.length <= PREVIEW_CHARS) return flat;
  return (
    chars
      .slice(0, PREVIEW_CHARS - 1)
      .join('')
      .trimEnd() + '…'
  );
}

/** The preview of a text as the writer sees it, from its body (only its head is read) and rich text. */
export function previewOf(body: string, richText?: string | null): string {
  const head = body.length > PREVIEW_CHARS * 4 ? body.slice(0, PREVIEW_CHARS * 4) : body;
  return makePreview(writerText(head, richText, head.length < body.length));
}

/** A piece of plain text, marked whether it lies in a highlight range (a search hit). */
export interface TextPiece {
  text: string;
  hit: boolean;
}

/** Plain text cut at the edges of the highlight ranges (UTF-16 offsets), for a UI to wrap itself: never markup. */
export function highlightPieces(text: string, highlights: ReadonlyArray<{ start: number; end: number }>): TextPiece[] {
  const ranges = highlights.filter((r) => r.end > r.start).toSorted((a, b) => a.start - b.start);
  const pieces: TextPiece[] = [];
  let at = 0;
  for (const r of ranges) {
    const start = Math.max(at, Math.min(r.start, text.length));
    const end = Math.min(r.end, text.length);
    if (end <= start) continue;
    if (start > at) pieces.push({ text: text.slice(at, start), hit: false });
    pieces.push({ text: text.slice(start, end), hit: true });
    at = end;
  }
  if (at < text.length) pieces.push({ text: text.slice(at), hit: false });
  return pieces;
}
