/**
 * Markdown as the writer reads it, for display only: the document list's previews and the search
 * snippets (both come from the body, the Markdown text form). Block markers (`# `, `> `, `- `,
 * `1. `), emphasis delimiters (`*`, `**`, `_`), backslash escapes and character references go; the
 * words stay. Blanks (`____`, `{{N}}`) show as `____`.
 *
 * Works on text with its line breaks (exact) and on previews the store has already flattened to
 * one line (line starts are then guessed: after sentence punctuation, or for `#` and `>` after any
 * space). The result is plain text in pieces, each marked whether it lies in one of the given
 * highlight ranges (search hits, UTF-16 offsets into the input), for the UI to wrap itself: never
 * markup.
 */

export interface Piece {
  text: string;
  /** Inside a highlight range of the input. */
  hit: boolean;
}

export interface Range {
  start: number;
  end: number;
}

const ASCII_PUNCT = /[!-/:-@[-`{-~]/;
const SPACE = /\s/;
/** After these (and a space), a flattened preview probably started a new line. */
const LINE_END = /[.!?:;…"”’)\]*_]/;

const HEADING = /#{1,6}[ \t]+/y;
const QUOTE = />[ \t]?/y;
const BULLET = /[-+*][ \t]+/y;
const NUMBERED = /\d{1,9}[.)][ \t]+/y;
const EXPLICIT_BLANK = /\{\{\s*\d+\s*\}\}/y;
const ENTITY = /&(?:(amp|lt|gt|quot|apos|nbsp)|#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6}));/y;

const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };

function matchAt(re: RegExp, text: string, i: number): number {
  re.lastIndex = i;
  const m = re.exec(text);
  return m ? m[0].length : 0;
}

/** Where a line starts: exactly (after a line break) or, in a flattened preview, probably. */
function lineStart(text: string, i: number): 'hard' | 'soft' | null {
  if (i === 0 || text[i - 1] === '\n') return 'hard';
  if (!SPACE.test(text[i - 1]!)) return null;
  let j = i - 1;
  while (j >= 0 && SPACE.test(text[j]!)) {
    if (text[j] === '\n') return 'hard';
    j--;
  }
  if (j < 0) return 'hard';
  return LINE_END.test(text[j]!) ? 'soft' : null;
}

function afterSpace(text: string, i: number): boolean {
  return i > 0 && SPACE.test(text[i - 1]!);
}

/** Length of the block markers at a line start (quotes, headings, list markers; nested ones too). */
function blockMarkers(text: string, i: number): number {
  const start = lineStart(text, i);
  const anySpace = start !== null || afterSpace(text, i);
  let at = i;
  for (;;) {
    // Leading indentation of a nested list item.
    let n = 0;
    if (start !== null || at > i) n = matchAt(/[ \t]*/y, text, at);
    const p = at + n;
    let m = 0;
    if (anySpace) m = matchAt(HEADING, text, p) || matchAt(QUOTE, text, p);
    // A quote marker needs a space or the end after it mid-line; ">" alone in prose stays.
    if (m && text[p] === '>' && start === null && !/^>[ \t]/.test(text.slice(p, p + 2))) m = 0;
    if (!m && (start !== null || at > i)) m = matchAt(BULLET, text, p) || matchAt(NUMBERED, text, p);
    if (!m) return at - i;
    at = p + m;
  }
}

function isWordChar(c: string | undefined): boolean {
  return c !== undefined && /[\p{L}\p{N}]/u.test(c);
}

/**
 * Plain text pieces of Markdown `text`, whitespace collapsed to single spaces and trimmed, each
 * marked whether it lies in one of `highlights`.
 */
export function plainPieces(text: string, highlights: readonly Range[] = []): Piece[] {
  // Each output character with the input offset it came from.
  const out: string[] = [];
  const from: number[] = [];
  const emit = (s: string, at: number): void => {
    for (const ch of s) {
      out.push(ch);
      from.push(at);
    }
  };
  let i = 0;
  while (i < text.length) {
    const skip = blockMarkers(text, i);
    if (skip) {
      i += skip;
      continue;
    }
    const c = text[i]!;
    if (c === '\\') {
      const next = text[i + 1];
      if (next !== undefined && ASCII_PUNCT.test(next)) {
        emit(next, i + 1);
        i += 2;
      } else {
        // A hard line break (backslash at the end of a line) or a lone backslash at the end.
        if (next !== undefined && next !== '\n' && next !== ' ') emit('\\', i);
        i += 1;
      }
      continue;
    }
    if (c === '*') {
      let end = i;
      while (text[end] === '*') end++;
      const before = text[i - 1];
      const after = text[end];
      // A delimiter touches a word on one side; a lone star between spaces is text.
      const delimiter = (after !== undefined && !SPACE.test(after)) || (before !== undefined && !SPACE.test(before));
      if (!delimiter) emit(text.slice(i, end), i);
      i = end;
      continue;
    }
    if (c === '_') {
      let end = i;
      while (text[end] === '_') end++;
      if (end - i >= 4) emit('____', i);
      else if (isWordChar(text[i - 1]) && isWordChar(text[end])) emit(text.slice(i, end), i); // snake_case
      i = end;
      continue;
    }
    if (c === '{') {
      const n = matchAt(EXPLICIT_BLANK, text, i);
      if (n) {
        emit('____', i);
        i += n;
        continue;
      }
    }
    if (c === '&') {
      ENTITY.lastIndex = i;
      const m = ENTITY.exec(text);
      if (m) {
        const code = m[2] !== undefined ? Number(m[2]) : m[3] !== undefined ? parseInt(m[3], 16) : null;
        const decoded = m[1] !== undefined ? NAMED[m[1]]! : code !== null && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : '\uFFFD';
        emit(decoded, i);
        i += m[0].length;
        continue;
      }
    }
    out.push(c);
    from.push(i);
    i += 1;
  }

  const ranges = [...highlights].filter((r) => r.end > r.start).sort((a, b) => a.start - b.start);
  const inHit = (at: number): boolean => ranges.some((r) => r.start <= at && at < r.end);
  const pieces: Piece[] = [];
  let pendingSpace = false;
  for (let k = 0; k < out.length; k++) {
    const ch = out[k]!;
    if (SPACE.test(ch)) {
      pendingSpace = pieces.length > 0;
      continue;
    }
    const hit = inHit(from[k]!);
    let last = pieces[pieces.length - 1];
    if (pendingSpace) {
      // The space belongs to the highlight only when both sides do.
      const spaceHit = hit && last !== undefined && last.hit;
      if (last && last.hit === spaceHit) last.text += ' ';
      else pieces.push((last = { text: ' ', hit: spaceHit }));
      pendingSpace = false;
    }
    if (last && last.hit === hit) last.text += ch;
    else pieces.push({ text: ch, hit });
  }
  return pieces;
}

/** Markdown `text` as one line of plain text (see plainPieces). */
export function plainText(text: string): string {
  return plainPieces(text)
    .map((p) => p.text)
    .join('');
}

/** A preview for the document list from a body: plain text, one line, at most `max` characters. */
export function previewOf(body: string, max = 120): string {
  const plain = plainText(body.slice(0, max * 6));
  const chars = Array.from(plain);
  return chars.length <= max ? plain : chars.slice(0, max - 1).join('').trimEnd() + '…';
}
