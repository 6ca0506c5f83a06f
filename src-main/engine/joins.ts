/**
 * Joins: what keeps a fill sitting in its text as if the writer had typed it.
 *
 * A fill is decoded from tokens and spliced between two pieces of the writer's text. Where the two
 * meet, a word can glue to its neighbour ("Ale" + "climbed"), a word can double ("and" + " and
 * went"), a space can land before a comma ("keeper " + ", towards"), or a line break can split a
 * sentence. None of that is fixed by editing the fill's string afterwards; it is decided in two
 * places before the sampler runs:
 *
 * 1. The window (infill.ts planInfill): text right after a blank that begins with a word character
 *    is read by the model with a space in front of it (" climbed", a word start, not "cl" +
 *    "imbed"), and that space is written after the fill. One space before a blank already goes
 *    with the blank (infill.ts header). So each edge of a blank is one of: the text's start or end,
 *    a paragraph break, a space, punctuation, or (only on the left) a word character.
 *
 * 2. The token choice (token-choice.ts): each blank position gets a set of tokens it may not take.
 *    Banning changes only *which* token an unmasking position takes (the model's distribution
 *    restricted to the allowed tokens and renormalised), never when it unmasks. The bans:
 *    - everywhere in a blank: special tokens (end of text), tokens of whitespace other than line
 *      breaks (" ", "  ": the source of "keeper , towards" and doubled spaces), tokens that put
 *      whitespace before closing punctuation (" ,", " ."), and control characters other than the
 *      line feed (carriage returns, tabs: the editor writes neither);
 *    - line breaks, unless the blank may hold paragraphs: a continuation (nothing but whitespace
 *      after it) or a blank that is a paragraph of its own (a paragraph break or the text's edge on
 *      both sides). Where they are allowed, no more than two in a row (one paragraph break; three
 *      make an empty line): a token with three inside is banned outright, and a token that would
 *      make a run of three with the line breaks already written next to it is banned when its
 *      position is decided (the samplers pass the sequence as it stands). Whichever of three
 *      adjacent positions is decided last sees the other two, so no run of three is ever written;
 *    - first token: after a moved space it must start with one space and then a visible character
 *      (the space is the writer's); after a word character it must not start with one (no glued
 *      word); after closing punctuation it must start with whitespace; at the start of the text
 *      or of a paragraph it must not start with whitespace (no empty line); and it may not repeat
 *      the word just before the blank;
 *    - last token: it may not end with whitespace when whitespace or the end of the text follows,
 *      and may not be the word just after the blank.
 *    A position banned from every token it could take (a tokenizer without such tokens) keeps its
 *    full choice: the rules never make a blank unfillable.
 *
 * Word comparison for doubled words is case-insensitive on letters, digits and apostrophes.
 */
import type { Tokenizer } from './model/tokenizer';

/** What is on one side of a blank, as far as joins are concerned. */
export type EdgeKind = 'edge' | 'paragraph' | 'space' | 'word' | 'punctuation' | 'open';

export interface BlankEdges {
  /** The text just before the blank (after a moved space is taken off: 'space' then means it was moved). */
  left: EdgeKind;
  right: EdgeKind;
  /** The word just before / after the blank (lower case), for doubled words; '' when none. */
  leftWord: string;
  rightWord: string;
  /** Whether the blank may hold line breaks (a continuation or a paragraph of its own). */
  paragraphs: boolean;
}

const WORD_CHAR = /[\p{L}\p{N}]/u;
const CLOSING = /[,.;:!?)\]}»”’…]/u;

/** The kind of text at the end of `before` (the text before a blank; spaceMoved: one trailing space went into the blank). */
export function leftEdge(before: string): EdgeKind {
  if (before.length === 0) return 'edge';
  const last = before[before.length - 1]!;
  if (last === '\n' || last === '\r') return 'paragraph';
  if (/\s/u.test(last)) return 'space';
  if (WORD_CHAR.test(last)) return 'word';
  if (CLOSING.test(last)) return 'punctuation';
  return 'open';
}

/** The kind of text at the start of `after` (the text after a blank, before any added space). */
export function rightEdge(after: string): EdgeKind {
  if (after.length === 0 || /^\s*$/u.test(after)) return 'edge';
  const first = after[0]!;
  if (first === '\n' || first === '\r') return 'paragraph';
  if (/\s/u.test(first)) return 'space';
  if (WORD_CHAR.test(first)) return 'word';
  if (CLOSING.test(first)) return 'punctuation';
  return 'open';
}

/** Lower-case word of letters, digits and apostrophes; '' for anything else. */
export function wordKey(s: string): string {
  const m = /^[\p{L}\p{N}'’]+$/u.exec(s.trim());
  return m ? m[0].toLowerCase().replace(/’/g, "'") : '';
}

/** The edges of a blank from the text on either side (left already without a moved space; spaceMoved says whether one was moved). */
export function blankEdges(before: string, spaceMoved: boolean, after: string): BlankEdges {
  const left = spaceMoved ? 'space' : leftEdge(before);
  const right = rightEdge(after);
  const leftWord = wordKey(/[\p{L}\p{N}'’]+$/u.exec(before.trimEnd())?.[0] ?? '');
  const rightWord = wordKey(/^[\p{L}\p{N}'’]+/u.exec(after.trimStart())?.[0] ?? '');
  const paragraphs = right === 'edge' || ((left === 'edge' || left === 'paragraph') && right === 'paragraph');
  return { left, right, leftWord, rightWord, paragraphs };
}

/** Per-token facts the rules need, computed once per tokenizer. */
export interface TokenClasses {
  /** Number of ids (the tokenizer's size). */
  size: number;
  special: Uint8Array;
  /** Whitespace only, without a line break. */
  blank: Uint8Array;
  /** Contains a line break. */
  newline: Uint8Array;
  /** Contains a control character other than the line feed (\r, \t, …). */
  control: Uint8Array;
  /** Line breaks at the token's start / end (capped at 3), and whether it is line breaks only. */
  leadBreaks: Uint8Array;
  trailBreaks: Uint8Array;
  onlyBreaks: Uint8Array;
  /** Three line breaks in a row inside the token (whitespace between them aside). */
  emptyLine: Uint8Array;
  /** The ids with a line break. */
  newlineIds: number[];
  /** Whitespace directly followed by closing punctuation (" ,"). */
  spacedPunctuation: Uint8Array;
  /** Starts with exactly one space and then a visible character. */
  spaceWord: Uint8Array;
  /** Starts with whitespace of any kind. */
  startsWhite: Uint8Array;
  /** Starts with a letter or digit. */
  startsWord: Uint8Array;
  /** Ends with whitespace. */
  endsWhite: Uint8Array;
  /** The token as a word (wordKey), for doubled words. */
  word: string[];
}

const classCache = new WeakMap<Tokenizer, TokenClasses>();

export function tokenClasses(tokenizer: Tokenizer): TokenClasses {
  let c = classCache.get(tokenizer);
  if (c) return c;
  const n = tokenizer.size;
  c = {
    size: n,
    special: new Uint8Array(n),
    blank: new Uint8Array(n),
    newline: new Uint8Array(n),
    control: new Uint8Array(n),
    leadBreaks: new Uint8Array(n),
    trailBreaks: new Uint8Array(n),
    onlyBreaks: new Uint8Array(n),
    emptyLine: new Uint8Array(n),
    newlineIds: [],
    spacedPunctuation: new Uint8Array(n),
    spaceWord: new Uint8Array(n),
    startsWhite: new Uint8Array(n),
    startsWord: new Uint8Array(n),
    endsWhite: new Uint8Array(n),
    word: new Array<string>(n).fill(''),
  };
  const specials = new Set(tokenizer.specialIds());
  for (let id = 0; id < n; id++) {
    if (specials.has(id)) {
      c.special[id] = 1;
      continue;
    }
    let s: string;
    try {
      s = tokenizer.decode([id]);
    } catch {
      continue; // an id the vocabulary skips
    }
    if (s.length === 0) continue;
    const nl = /[\n\r]/u.test(s);
    c.newline[id] = nl ? 1 : 0;
    // eslint-disable-next-line no-control-regex
    c.control[id] = /[\u0000-\u0009\u000b-\u001f\u007f]/u.test(s) ? 1 : 0;
    if (nl) {
      c.newlineIds.push(id);
      c.leadBreaks[id] = Math.min(3, breaks(/^[^\S\n]*(?:\n[^\S\n]*)*/u.exec(s)![0]));
      c.trailBreaks[id] = Math.min(3, breaks(/(?:[^\S\n]*\n)*[^\S\n]*$/u.exec(s)![0]));
      c.onlyBreaks[id] = /^\s+$/u.test(s) ? 1 : 0;
      c.emptyLine[id] = /\n[^\S\n]*\n[^\S\n]*\n/u.test(s.replace(/\r\n?/gu, '\n')) ? 1 : 0;
    }
    c.blank[id] = !nl && /^\s+$/u.test(s) ? 1 : 0;
    c.spacedPunctuation[id] = /^\s+[,.;:!?)\]}…]/u.test(s) ? 1 : 0;
    c.spaceWord[id] = /^ \S/u.test(s) ? 1 : 0;
    c.startsWhite[id] = /^\s/u.test(s) ? 1 : 0;
    c.startsWord[id] = WORD_CHAR.test(s[0]!) ? 1 : 0;
    c.endsWhite[id] = /\s$/u.test(s) ? 1 : 0;
    c.word[id] = wordKey(s);
  }
  classCache.set(tokenizer, c);
  return c;
}

/** Line breaks in a string ("\r\n" and a lone "\r" count as one). */
function breaks(s: string): number {
  return (s.replace(/\r\n?/gu, '\n').match(/\n/gu) ?? []).length;
}

/**
 * The tokens each position of a blank of `length` tokens may not take (1 = banned), as masks of the
 * tokenizer's size: [0] the first position, [1] the middle ones, [2] the last one (for length 1 the
 * first and last rules apply to the one position, in [0] = [2]).
 */
export function blankBans(edges: BlankEdges, length: number, c: TokenClasses): { first: Uint8Array; middle: Uint8Array; last: Uint8Array } {
  const n = c.size;
  const middle = new Uint8Array(n);
  for (let id = 0; id < n; id++) {
    if (c.special[id] || c.blank[id] || c.spacedPunctuation[id] || c.control[id] || c.emptyLine[id] || (!edges.paragraphs && c.newline[id])) middle[id] = 1;
  }
  const firstRule = (id: number): boolean => {
    switch (edges.left) {
      case 'space':
        return !c.spaceWord[id];
      case 'word':
        return !!c.startsWord[id];
      case 'punctuation':
        return !c.startsWhite[id];
      case 'edge':
      case 'paragraph':
        return !!c.startsWhite[id];
      default:
        return false;
    }
  };
  const lastRule = (id: number): boolean => {
    const whiteAfter = edges.right === 'edge' || edges.right === 'space' || edges.right === 'paragraph' || edges.right === 'word';
    return whiteAfter && !!c.endsWhite[id];
  };
  const first = middle.slice();
  const last = middle.slice();
  for (let id = 0; id < n; id++) {
    if (firstRule(id) || (edges.leftWord !== '' && c.word[id] === edges.leftWord)) first[id] = 1;
    if (lastRule(id) || (edges.rightWord !== '' && c.word[id] === edges.rightWord)) last[id] = 1;
  }
  if (length === 1) {
    for (let id = 0; id < n; id++) if (last[id]) first[id] = 1;
    return { first: relaxed(first, middle), middle, last: relaxed(first, middle) };
  }
  return { first: relaxed(first, middle), middle: relaxed(middle, null), last: relaxed(last, middle) };
}

/** A mask that bans every token falls back to `fallback` (or to no ban at all): never an unfillable position. */
function relaxed(mask: Uint8Array, fallback: Uint8Array | null): Uint8Array {
  for (let id = 0; id < mask.length; id++) if (!mask[id]) return mask;
  return fallback ? relaxed(fallback, null) : new Uint8Array(mask.length);
}

/**
 * The bans of every blank of a planned text, by document token position (undefined outside the
 * blanks). Masks are shared between blanks with the same edges. `near(offset)`, when given, is the
 * token written at position + offset (−1 when undecided or unknown): in a blank that may hold
 * paragraphs it adds the ban on a third line break in a row (runBans).
 */
export function planBans(
  blanks: readonly { start: number; length: number; edges: BlankEdges }[],
  tokenizer: Tokenizer,
): (position: number, near?: (offset: number) => number) => Uint8Array | undefined {
  const c = tokenClasses(tokenizer);
  const cache = new Map<string, ReturnType<typeof blankBans>>();
  const at = new Map<number, Uint8Array>();
  const paragraphs = new Set<number>();
  for (const b of blanks) {
    const key = `${JSON.stringify(b.edges)}\0${b.length === 1}`;
    let bans = cache.get(key);
    if (!bans) cache.set(key, (bans = blankBans(b.edges, b.length, c)));
    for (let k = 0; k < b.length; k++) {
      at.set(b.start + k, k === 0 ? bans.first : k === b.length - 1 ? bans.last : bans.middle);
      if (b.edges.paragraphs) paragraphs.add(b.start + k);
    }
  }
  return (position, near) => {
    const base = at.get(position);
    if (!base || !near || !paragraphs.has(position)) return base;
    return runBans(base, breakRun(near, -1, c), breakRun(near, 1, c), c);
  };
}

/** The line breaks written next to a position on one side (dir −1: before it, +1: after it), across tokens of line breaks only; at most 3. */
export function breakRun(near: (offset: number) => number, dir: -1 | 1, c: TokenClasses): number {
  let run = 0;
  for (let off = dir; run < 3; off += dir) {
    const t = near(off);
    if (t < 0 || t >= c.size) break;
    run += dir < 0 ? c.trailBreaks[t]! : c.leadBreaks[t]!;
    if (!c.onlyBreaks[t]) break;
  }
  return Math.min(run, 3);
}

const runCache = new WeakMap<Uint8Array, Map<number, Uint8Array>>();

/**
 * `base` plus the tokens with line breaks that would make more than two in a row between `before`
 * line breaks written just before the position and `after` just after it (cached per base mask).
 */
export function runBans(base: Uint8Array, before: number, after: number, c: TokenClasses): Uint8Array {
  if (before === 0 && after === 0) return base;
  let byRuns = runCache.get(base);
  if (!byRuns) runCache.set(base, (byRuns = new Map()));
  const key = before * 4 + after;
  let mask = byRuns.get(key);
  if (mask) return mask;
  mask = base.slice();
  for (const id of c.newlineIds) {
    const run = c.onlyBreaks[id] ? before + c.leadBreaks[id]! + after : Math.max(before + c.leadBreaks[id]!, c.trailBreaks[id]! + after);
    if (run > 2) mask[id] = 1;
  }
  mask = relaxed(mask, base);
  byRuns.set(key, mask);
  return mask;
}
