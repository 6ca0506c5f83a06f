/**
 * Infilling: text in the blank syntax (common/blanks.ts) ↔ the token sequence the sampler works on.
 *
 * Each text segment is tokenized on its own (special-token strings stay plain text) and each blank
 * becomes a run of MASK tokens, one per token of the blank. After sampling, each blank's tokens are
 * decoded to its fill, and the fills are spliced into the user's original string at the blanks, so
 * the text around them comes back byte for byte (never re-decoded from tokens).
 */
import { ApiError } from '../../common/api';
import { BlankSyntaxError, DEFAULT_BLANK_TOKENS, formatBlanks, parseBlanks, type Segment } from '../../common/blanks';
import type { Tokenizer } from './tokenizer';

/** A blank's place: its MASK run in the token sequence and its characters in the original text. */
export interface BlankSlot {
  /** First token position and number of tokens. */
  start: number;
  length: number;
  /** The characters of the original text the fill replaces: [from, to). */
  from: number;
  to: number;
  /** Written before the fill: one backslash for each escaped pair (a doubled backslash) that preceded the blank. */
  lead: string;
}

export interface InfillPlan {
  /** Token ids with maskId at every blank position. */
  template: Int32Array;
  blanks: BlankSlot[];
  segments: Segment[];
}

/**
 * The syntax of common/blanks.ts, matched again here to learn where each blank sits in the original
 * string (parseBlanks returns segments without offsets). planInfill checks both agree.
 */
const BLANK_RE = /(\\*)(_{4,}|\{\{\s*(\d+)\s*\}\})/g;

/** Segments for a fill request; ApiError('bad_request') on bad syntax or when there is no blank. */
export function parseFillText(text: string): Segment[] {
  let segments: Segment[];
  try {
    segments = parseBlanks(text);
  } catch (e) {
    if (e instanceof BlankSyntaxError) throw new ApiError('bad_request', e.message);
    throw e;
  }
  if (!segments.some((s) => s.kind === 'blank')) {
    throw new ApiError('bad_request', 'the text has no blank to fill (write ____ or {{N}} where new text should go)');
  }
  return segments;
}

/** The tokenizer's ids must all be below maskId (the engine checks this when it loads a model). */
export function planInfill(text: string, tokenizer: Tokenizer, opts: { maskId: number; maxLength: number }): InfillPlan {
  const segments = parseFillText(text);
  const spans = blankSpans(text);
  const blankSegments = segments.filter((s): s is Extract<Segment, { kind: 'blank' }> => s.kind === 'blank');
  if (spans.length !== blankSegments.length || spans.some((sp, i) => sp.tokens !== blankSegments[i]!.tokens)) {
    throw new ApiError('internal', 'blank positions disagree with parseBlanks (blank syntax changed?)');
  }

  const ids: number[] = [];
  const blanks: BlankSlot[] = [];
  for (const seg of segments) {
    if (seg.kind === 'text') {
      for (const id of tokenizer.encode(seg.text)) ids.push(id);
    } else {
      const span = spans[blanks.length]!;
      blanks.push({ start: ids.length, length: seg.tokens, from: span.from, to: span.to, lead: span.lead });
      for (let k = 0; k < seg.tokens; k++) ids.push(opts.maskId);
    }
  }
  if (ids.length > opts.maxLength) {
    throw new ApiError(
      'bad_request',
      `the text is ${ids.length} tokens; this model reads at most ${opts.maxLength} (blanks included). ` +
        'Shorten the text or the blanks; longer texts will be read through context windows in a later version.',
    );
  }
  return { template: Int32Array.from(ids), blanks, segments };
}

/** Each blank's generated tokens, decoded (incomplete UTF-8 at a blank's edge decodes to U+FFFD). */
export function decodeFills(plan: InfillPlan, tokens: Int32Array, tokenizer: Tokenizer): string[] {
  return plan.blanks.map((b) => tokenizer.decode(tokens.subarray(b.start, b.start + b.length)));
}

/**
 * The original text with each blank replaced by its fill. The result is still in the blank syntax
 * and reads as the filled text: escaped literal blanks (backslash, ____) stay as written, an escaped
 * backslash before a blank (two backslashes, ____) becomes the one backslash it stood for, and a fill that
 * would itself read as a blank is escaped. In the rare case where a fill and its neighbours
 * together would still read differently (say a fill ending in "_" before literal "___"), the
 * whole result is written in canonical form (formatBlanks) instead.
 */
export function spliceFills(text: string, plan: InfillPlan, fills: readonly string[]): string {
  if (fills.length !== plan.blanks.length) throw new RangeError(`${fills.length} fills for ${plan.blanks.length} blanks`);
  let out = '';
  let last = 0;
  plan.blanks.forEach((b, i) => {
    out += text.slice(last, b.from) + b.lead + escapeFill(fills[i]!);
    last = b.to;
  });
  out += text.slice(last);

  let k = 0;
  const plain = plan.segments.map((s) => (s.kind === 'text' ? s.text : fills[k++]!)).join('');
  const reread = parseBlanks(out);
  const same = reread.every((s) => s.kind === 'text') && reread.map((s) => (s.kind === 'text' ? s.text : '')).join('') === plain;
  return same ? out : formatBlanks([{ kind: 'text', text: plain }]);
}

function escapeFill(fill: string): string {
  return fill ? formatBlanks([{ kind: 'text', text: fill }]) : '';
}

/** Where the real (unescaped) blanks are in the text: [from, to) covers the escape backslashes too. */
export function blankSpans(text: string): { from: number; to: number; lead: string; tokens: number }[] {
  const out: { from: number; to: number; lead: string; tokens: number }[] = [];
  for (const m of text.matchAll(BLANK_RE)) {
    const slashes = m[1]!.length;
    if (slashes % 2 === 1) continue;
    out.push({
      from: m.index,
      to: m.index + m[0].length,
      lead: '\\'.repeat(slashes / 2),
      tokens: m[3] === undefined ? DEFAULT_BLANK_TOKENS : Number(m[3]),
    });
  }
  return out;
}
