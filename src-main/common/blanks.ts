/**
 * The plain-text blank syntax, used by the CLI, import/export and the editor's text form.
 *
 *   ____      four or more underscores: a blank whose length the model chooses ('auto': the
 *             engine tries a few lengths and keeps the most natural fill; AUTO_BLANK_LENGTHS)
 *   {{auto}}  the same, written out (used where underscores would merge with the text around)
 *   {{12}}    a blank of exactly 12 tokens (1 … MAX_BLANK_TOKENS); spaces inside the braces allowed
 *   \____     a backslash before a blank makes it literal text ("____"); "\\" before a blank is one
 *             literal backslash followed by a real blank. Backslashes anywhere else are plain text.
 */

/** A typical blank's length in tokens (about a dozen words): the "medium" length, and the size of an 'auto' blank in estimates. */
export const DEFAULT_BLANK_TOKENS = 16;
export const MAX_BLANK_TOKENS = 1024;
/** The lengths an 'auto' blank is tried at (tokens; those above the model's length are skipped). */
export const AUTO_BLANK_LENGTHS: readonly number[] = [4, 8, 16, 32];
/** Blanks one fill takes at most: more is a text to fill in parts (a fill's work grows with its blanks). */
export const MAX_BLANKS_PER_FILL = 256;

/** A blank's length: a number of tokens, or 'auto' (the model chooses among AUTO_BLANK_LENGTHS). */
export type BlankLength = number | 'auto';

export type Segment = { kind: 'text'; text: string } | { kind: 'blank'; tokens: BlankLength };

export class BlankSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BlankSyntaxError';
  }
}

/**
 * A blank token found in text, with the run of backslashes just before it: `slashes` backslashes
 * from `index`, then `token` (`____…` or `{{ N }}` / `{{auto}}`; `length` the N or 'auto' written
 * in braces, undefined for underscores), ending at `end`. Whether it is a real blank depends on
 * the backslashes (odd: escaped) and, for `{{N}}`, on N being a valid length.
 */
export interface BlankMatch {
  index: number;
  end: number;
  slashes: number;
  token: string;
  length: string | undefined;
}

const BACKSLASH = 0x5c;
const UNDERSCORE = 0x5f;
const BRACE_OPEN = 0x7b;
const BRACE_CLOSE = 0x7d;

function isSpace(c: number): boolean {
  return (
    c === 0x20 ||
    (c >= 0x09 && c <= 0x0d) ||
    c === 0xa0 ||
    c === 0xfeff ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000
  );
}

/** The end of a blank token starting at `i` (and the length written in braces), or -1. */
function tokenAt(input: string, i: number): { end: number; length: string | undefined } | -1 {
  const n = input.length;
  const c = input.charCodeAt(i);
  if (c === UNDERSCORE) {
    let j = i;
    while (j < n && input.charCodeAt(j) === UNDERSCORE) j++;
    return j - i >= 4 ? { end: j, length: undefined } : -1;
  }
  if (c !== BRACE_OPEN || input.charCodeAt(i + 1) !== BRACE_OPEN) return -1;
  let j = i + 2;
  while (j < n && isSpace(input.charCodeAt(j))) j++;
  const start = j;
  while (j < n && input.charCodeAt(j) >= 0x30 && input.charCodeAt(j) <= 0x39) j++;
  if (j === start) {
    if (!input.startsWith('auto', j)) return -1;
    j += 4;
  }
  const length = input.slice(start, j);
  while (j < n && isSpace(input.charCodeAt(j))) j++;
  return input.charCodeAt(j) === BRACE_CLOSE && input.charCodeAt(j + 1) === BRACE_CLOSE ? { end: j + 2, length } : -1;
}

/**
 * Every blank token of `input`, left to right, each with the backslashes just before it: the
 * matches of /(\\*)(_{4,}|\{\{\s*(\d+|auto)\s*\}\})/g, found in one linear pass. (That regular
 * expression, run by a backtracking engine, is quadratic on long runs of backslashes: 100,000 of
 * them took seconds and could not be cancelled; issue 16.)
 */
export function* blankMatches(input: string): Generator<BlankMatch> {
  const n = input.length;
  let i = 0;
  while (i < n) {
    const c = input.charCodeAt(i);
    if (c === BACKSLASH) {
      let j = i;
      while (j < n && input.charCodeAt(j) === BACKSLASH) j++;
      const t = j < n ? tokenAt(input, j) : -1;
      if (t !== -1) {
        yield { index: i, end: t.end, slashes: j - i, token: input.slice(j, t.end), length: t.length };
        i = t.end;
      } else i = j;
      continue;
    }
    if (c === UNDERSCORE || c === BRACE_OPEN) {
      const t = tokenAt(input, i);
      if (t !== -1) {
        yield { index: i, end: t.end, slashes: 0, token: input.slice(i, t.end), length: t.length };
        i = t.end;
        continue;
      }
      if (c === UNDERSCORE) {
        while (i < n && input.charCodeAt(i) === UNDERSCORE) i++; // a run of 1–3: none of it starts a token
        continue;
      }
    }
    i++;
  }
}

/** `input` with each blank match replaced by what `replace` returns for it. */
export function replaceBlankMatches(input: string, replace: (m: BlankMatch) => string): string {
  let out = '';
  let last = 0;
  for (const m of blankMatches(input)) {
    out += input.slice(last, m.index) + replace(m);
    last = m.end;
  }
  return out + input.slice(last);
}

/** Split text into literal text and blanks. Adjacent text is merged; empty text is dropped. */
export function parseBlanks(input: string): Segment[] {
  const out: Segment[] = [];
  let text = '';
  let last = 0;
  for (const m of blankMatches(input)) {
    const { slashes, token } = m;
    text += input.slice(last, m.index) + '\\'.repeat(Math.floor(slashes / 2));
    last = m.end;
    if (slashes % 2 === 1) {
      text += token;
      continue;
    }
    let tokens: BlankLength = 'auto';
    if (m.length !== undefined && m.length !== 'auto') {
      tokens = Number(m.length);
      if (!Number.isSafeInteger(tokens) || tokens < 1 || tokens > MAX_BLANK_TOKENS) {
        throw new BlankSyntaxError(
          `blank ${token.length > 40 ? `${token.slice(0, 20)}…}}` : token} ` +
            `has length ${m.length.length > 20 ? `${m.length.slice(0, 20)}…` : m.length}; a blank holds 1 to ${MAX_BLANK_TOKENS} tokens`,
        );
      }
    }
    if (text) out.push({ kind: 'text', text });
    text = '';
    out.push({ kind: 'blank', tokens });
  }
  text += input.slice(last);
  if (text) out.push({ kind: 'text', text });
  return out;
}

/** Inverse of parseBlanks: escapes literal text that would read as a blank. */
export function formatBlanks(segments: readonly Segment[]): string {
  let s = '';
  segments.forEach((seg, i) => {
    if (seg.kind === 'blank') {
      // A text ending in backslashes would escape the blank: double them.
      let trailing = 0; // counted, not matched: /\\*$/ is quadratic on a long run of backslashes
      while (trailing < s.length && s.charCodeAt(s.length - 1 - trailing) === BACKSLASH) trailing++;
      if (trailing) s += '\\'.repeat(trailing);
      // Underscores on either side would merge into "____": use the explicit form there.
      const next = segments[i + 1];
      const touches = s.endsWith('_') || (next?.kind === 'text' && next.text.startsWith('_'));
      s += touches ? `{{${seg.tokens}}}` : blankToken(seg.tokens);
    } else {
      s += escapeText(seg.text);
    }
  });
  return s;
}

/** How a blank is written: ____ for 'auto', {{N}} for an exact length. */
export function blankToken(tokens: BlankLength): string {
  return tokens === 'auto' ? '____' : `{{${tokens}}}`;
}

/** Whether v is a blank length: 'auto' or an integer 1 … MAX_BLANK_TOKENS. */
export function isBlankLength(v: unknown): v is BlankLength {
  return v === 'auto' || (typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= MAX_BLANK_TOKENS);
}

function escapeText(text: string): string {
  return replaceBlankMatches(text, (m) => '\\'.repeat(m.slashes * 2 + 1) + m.token);
}

export function countBlanks(input: string): number {
  return parseBlanks(input).filter((s) => s.kind === 'blank').length;
}
