/**
 * The plain-text blank syntax, used by the CLI, import/export and the editor's text form.
 *
 *   ____      four or more underscores: a blank of the default length (DEFAULT_BLANK_TOKENS)
 *   {{12}}    a blank of exactly 12 tokens (1 … MAX_BLANK_TOKENS); spaces inside the braces allowed
 *   \____     a backslash before a blank makes it literal text ("____"); "\\" before a blank is one
 *             literal backslash followed by a real blank. Backslashes anywhere else are plain text.
 */

export const DEFAULT_BLANK_TOKENS = 16;
export const MAX_BLANK_TOKENS = 1024;

export type Segment = { kind: 'text'; text: string } | { kind: 'blank'; tokens: number };

export class BlankSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BlankSyntaxError';
  }
}

// Optional run of backslashes, then a blank token.
const BLANK_RE = /(\\*)(_{4,}|\{\{\s*(\d+)\s*\}\})/g;

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
    let tokens = DEFAULT_BLANK_TOKENS;
    if (m[3] !== undefined) {
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

export function blankToken(tokens: number): string {
  return tokens === DEFAULT_BLANK_TOKENS ? '____' : `{{${tokens}}}`;
}

function escapeText(text: string): string {
  return text.replace(BLANK_RE, (_all, slashes: string, token: string) => '\\'.repeat(slashes.length * 2 + 1) + token);
}

export function countBlanks(input: string): number {
  return parseBlanks(input).filter((s) => s.kind === 'blank').length;
}
