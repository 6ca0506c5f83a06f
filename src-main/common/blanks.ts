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

/** A blank's length: a number of tokens, or 'auto' (the model chooses among AUTO_BLANK_LENGTHS). */
export type BlankLength = number | 'auto';

export type Segment = { kind: 'text'; text: string } | { kind: 'blank'; tokens: BlankLength };

export class BlankSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BlankSyntaxError';
  }
}

// Optional run of backslashes, then a blank token.
export const BLANK_RE = /(\\*)(_{4,}|\{\{\s*(\d+|auto)\s*\}\})/g;

/** Split text into literal text and blanks. Adjacent text is merged; empty text is dropped. */
export function parseBlanks(input: string): Segment[] {
  const out: Segment[] = [];
  let text = '';
  let last = 0;
  for (const m of input.matchAll(BLANK_RE)) {
    const slashes = m[1]!.length;
    const token = m[2]!;
    text += input.slice(last, m.index) + '\\'.repeat(Math.floor(slashes / 2));
    last = m.index + m[0].length;
    if (slashes % 2 === 1) {
      text += token;
      continue;
    }
    let tokens: BlankLength = 'auto';
    if (m[3] !== undefined && m[3] !== 'auto') {
      tokens = Number(m[3]);
      if (!Number.isSafeInteger(tokens) || tokens < 1 || tokens > MAX_BLANK_TOKENS) {
        throw new BlankSyntaxError(`blank ${token} has length ${m[3]}; a blank holds 1 to ${MAX_BLANK_TOKENS} tokens`);
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
      const trailing = /\\*$/.exec(s)![0].length;
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
  return text.replace(BLANK_RE, (_all, slashes: string, token: string) => '\\'.repeat(slashes.length * 2 + 1) + token);
}

export function countBlanks(input: string): number {
  return parseBlanks(input).filter((s) => s.kind === 'blank').length;
}
