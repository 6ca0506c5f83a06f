/**
 * Infilling: text in the blank syntax (common/blanks.ts) ↔ the token sequence the sampler works on.
 *
 * Each text segment is tokenized on its own (special-token strings stay plain text) and each blank
 * becomes a run of MASK tokens, one per token of the blank. After sampling, each blank's tokens are
 * decoded to its fill, and the fills are spliced into the user's original string at the blanks, so
 * the text around them comes back byte for byte (never re-decoded from tokens).
 *
 * Spaces at blank boundaries: GPT-2-style BPE attaches a leading space to the following word
 * (" sat" is one token), so "The cat ____ on" tokenized as "The cat " + MASKs would leave a lone
 * " " token the model rarely saw in training. One trailing U+0020 of the text before a blank is
 * therefore tokenized as part of the blank's region (the model generates it, normally as the
 * leading space of the first token); on the way back, one leading space of the decoded fill is
 * taken to be that space. The user's text is still kept byte for byte: the space stays in the
 * result even when the model generated no leading space, and the reported fill excludes it.
 *
 * Text right after a blank that starts with a word character ("____climbed": the blank was put
 * next to a word) is tokenized with one space in front (" climbed", a word start) and that space is
 * written after the fill (the fill reports it as its last character), so the fill cannot glue onto
 * the word; joins.ts holds the other rules of a clean join (token bans at the blank's edges).
 *
 * Lengths: a blank of 'auto' length (____) is planned at `autoLength` tokens (the engine plans the
 * text once per length it tries); {{N}} blanks keep N.
 *
 * Context windows: a document longer than the model's length is read through windows of exactly
 * that many tokens. Blanks are grouped greedily in document order (a group: consecutive blanks
 * whose tokens all fit in one window); each group's window is centred on the group's tokens,
 * with as much text on both sides as fits (what one side lacks at a document edge goes to the
 * other). Windows are sampled one after another, left to right: a window sees the fills of the
 * windows before it, and a later blank that reaches into it only as MASK (unknown text). A single
 * blank longer than the model's length is a bad_request.
 */
import { ApiError } from '../common/api';
import {
  blankMatches,
  BlankSyntaxError,
  DEFAULT_BLANK_TOKENS,
  formatBlanks,
  MAX_BLANKS_PER_FILL,
  parseBlanks,
  type BlankLength,
  type Segment,
} from '../common/blanks';
import { blankEdges, type BlankEdges } from './joins';
import type { Tokenizer } from './model/tokenizer';

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
  /** Whether one trailing space of the text before the blank was tokenized with the blank (see above). */
  spaceMoved: boolean;
  /** Whether a space was put between the fill and a word right after the blank (see above). */
  spaceAdded: boolean;
  /** Whether the writer left the length to the model (____); `length` is then the length planned. */
  auto: boolean;
  /** What the blank touches on either side (joins.ts). */
  edges: BlankEdges;
}

/** Token positions [start, end) read by the network at once, and the blanks (indices) filled there. */
export interface InfillWindow {
  start: number;
  end: number;
  blanks: number[];
}

export interface InfillPlan {
  /** Token ids of the whole document with maskId at every blank position (MASK, or UNKNOWN = −1 for a uniform-graph model). */
  template: Int32Array;
  blanks: BlankSlot[];
  segments: Segment[];
  /** In sampling order (document order); one window covering everything when the document fits. */
  windows: InfillWindow[];
}

/** Segments for a fill request; ApiError('bad_request') on bad syntax or when there is no blank. */
export function parseFillText(text: string): Segment[] {
  let segments: Segment[];
  try {
    segments = parseBlanks(text);
  } catch (e) {
    if (e instanceof BlankSyntaxError) throw new ApiError('bad_request', e.message);
    throw e;
  }
  const blanks = segments.filter((s) => s.kind === 'blank').length;
  if (!blanks) {
    throw new ApiError('bad_request', 'the text has no blank to fill (write ____ or {{N}} where new text should go)');
  }
  if (blanks > MAX_BLANKS_PER_FILL) {
    throw new ApiError('bad_request', `the text has ${blanks} blanks; one fill takes at most ${MAX_BLANKS_PER_FILL}: fill part of the text at a time`);
  }
  return segments;
}

/**
 * maskId marks the blank positions: MASK for an absorbing model (the tokenizer's ids must all be
 * below it; the engine checks this when it loads a model), UNKNOWN (−1, predictor.ts) for a uniform one.
 */
export function planInfill(text: string, tokenizer: Tokenizer, opts: { maskId: number; maxLength: number; autoLength?: number }): InfillPlan {
  const segments = parseFillText(text);
  const spans = blankSpans(text);
  const blankSegments = segments.filter((s): s is Extract<Segment, { kind: 'blank' }> => s.kind === 'blank');
  if (spans.length !== blankSegments.length || spans.some((sp, i) => sp.tokens !== blankSegments[i]!.tokens)) {
    throw new ApiError('internal', 'blank positions disagree with parseBlanks (blank syntax changed?)');
  }

  const ids: number[] = [];
  const blanks: BlankSlot[] = [];
  const autoLength = opts.autoLength ?? DEFAULT_BLANK_TOKENS;
  segments.forEach((seg, si) => {
    if (seg.kind === 'text') {
      const next = segments[si + 1];
      const prev = segments[si - 1];
      const move = next?.kind === 'blank' && seg.text.endsWith(' ');
      const add = prev?.kind === 'blank' && rightEdgeIsWord(seg.text);
      const body = move ? seg.text.slice(0, -1) : seg.text;
      for (const id of tokenizer.encode(add ? ` ${body}` : body)) ids.push(id);
    } else {
      const span = spans[blanks.length]!;
      const length = seg.tokens === 'auto' ? autoLength : seg.tokens;
      if (length > opts.maxLength) {
        throw new ApiError(
          'bad_request',
          `blank ${blanks.length + 1} is ${length} tokens; this model generates at most ${opts.maxLength} tokens at once. Split it into smaller blanks.`,
        );
      }
      const prev = segments[si - 1];
      const next = segments[si + 1];
      const spaceMoved = prev?.kind === 'text' && prev.text.endsWith(' ');
      const spaceAdded = next?.kind === 'text' && rightEdgeIsWord(next.text);
      const before = prev?.kind === 'text' ? (spaceMoved ? prev.text.slice(0, -1) : prev.text) : null;
      const after = next?.kind === 'text' ? next.text : next ? null : '';
      const edges = blankEdges(before ?? '', spaceMoved, after ?? '');
      // Two blanks side by side: neither edge is known text, so no edge rule applies between them.
      if (before === null) Object.assign(edges, { left: 'open', leftWord: '', paragraphs: false });
      if (after === null) Object.assign(edges, { right: 'open', rightWord: '', paragraphs: false });
      blanks.push({ start: ids.length, length, from: span.from, to: span.to, lead: span.lead, spaceMoved, spaceAdded, auto: seg.tokens === 'auto', edges });
      for (let k = 0; k < length; k++) ids.push(opts.maskId);
    }
  });
  return { template: Int32Array.from(ids), blanks, segments, windows: planWindows(blanks, ids.length, opts.maxLength) };
}

/** Greedy grouping of the blanks into windows of at most maxLength tokens (see the header). */
export function planWindows(blanks: readonly { start: number; length: number }[], total: number, maxLength: number): InfillWindow[] {
  if (total <= maxLength) return [{ start: 0, end: total, blanks: blanks.map((_, i) => i) }];
  const windows: InfillWindow[] = [];
  let i = 0;
  while (i < blanks.length) {
    const first = blanks[i]!.start;
    let j = i;
    while (j + 1 < blanks.length && blanks[j + 1]!.start + blanks[j + 1]!.length - first <= maxLength) j++;
    const last = blanks[j]!.start + blanks[j]!.length;
    const room = maxLength - (last - first);
    let start = first - Math.floor(room / 2);
    start = Math.max(0, Math.min(start, total - maxLength));
    windows.push({ start, end: start + maxLength, blanks: Array.from({ length: j - i + 1 }, (_, k) => i + k) });
    i = j + 1;
  }
  return windows;
}

/** Each blank's generated tokens, decoded (incomplete UTF-8 at a blank's edge decodes to U+FFFD). */
export function decodeFills(plan: InfillPlan, tokens: Int32Array, tokenizer: Tokenizer): string[] {
  return plan.blanks.map((b) => {
    const text = tokenizer.decode(tokens.subarray(b.start, b.start + b.length));
    // The moved space is already in the user's text before the blank (spliceFills keeps it); the
    // added one separates the fill from the word after it.
    const fill = b.spaceMoved && text.startsWith(' ') ? text.slice(1) : text;
    return b.spaceAdded && !/\s$/u.test(fill) ? `${fill} ` : fill;
  });
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
export function blankSpans(text: string): { from: number; to: number; lead: string; tokens: BlankLength }[] {
  const out: { from: number; to: number; lead: string; tokens: BlankLength }[] = [];
  for (const m of blankMatches(text)) {
    if (m.slashes % 2 === 1) continue;
    out.push({
      from: m.index,
      to: m.end,
      lead: '\\'.repeat(m.slashes / 2),
      tokens: m.length === undefined || m.length === 'auto' ? 'auto' : Number(m.length),
    });
  }
  return out;
}

/** Text after a blank that starts with a letter or digit (the blank touches a word). */
function rightEdgeIsWord(text: string): boolean {
  return /^[\p{L}\p{N}]/u.test(text);
}
