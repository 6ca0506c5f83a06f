/**
 * Join counters of the fill benchmark (`npm run bench:fills`, issue 14): what is wrong where a fill
 * meets the writer's text. The final text is left + fill + right; each check looks only at the fill
 * and the text touching it.
 *
 *  - glued: a word at a fill edge is not a corpus word but splits into two that are ("he" +
 *    "climbed" → "heclimbed"). A word straddling an edge is split at the edge; a fill's own first
 *    or last word (a fill that glues two words itself) at any point, into parts of at least 3
 *    letters or common short words. Parts of one letter count only for "a" and "i" (inside a
 *    word only as the first part).
 *  - doubled: the fill's first word equals the left side's last word, or the fill's last word the
 *    right side's first (case-insensitive; not when they touch, which is a glued word).
 *  - space before punctuation: /\s[,.;:!?)\]]/ anywhere in the fill or across its edges.
 *  - line break: a line break inside the fill of a mid-sentence or sentence-end blank; for a
 *    continuation, an empty line: three line breaks in a row (spaces between them aside), counting
 *    those the text ends with (a continuation may start a new paragraph, "\n\n", as the issue
 *    asks: "a space or a new paragraph as the text calls for"; a third makes an empty line).
 *  - double space: two spaces or tabs in a row in the fill or across its edges.
 *  - bad: any of these.
 *
 * Corpus words: models/data/vocabulary.txt (models/data/make_fill_blanks.py: words seen at least
 * 3 times in the training split, lower-cased, letters and apostrophes with ’ written ').
 */

export type BlankKind = 'mid-sentence' | 'sentence-end' | 'paragraph-end' | 'continuation';
export const BLANK_KINDS: readonly BlankKind[] = ['mid-sentence', 'sentence-end', 'paragraph-end', 'continuation'];

export interface JoinCheck {
  glued: boolean;
  doubled: boolean;
  spaceBeforePunctuation: boolean;
  lineBreak: boolean;
  doubleSpace: boolean;
  /** Any of the above. */
  bad: boolean;
  /** What was found, for reading the failures ("glued: heclimbed"). */
  notes: string[];
}

export const JOIN_COUNTERS = ['glued', 'doubled', 'spaceBeforePunctuation', 'lineBreak', 'doubleSpace'] as const;
export type JoinCounter = (typeof JOIN_COUNTERS)[number];

const WORD_RE = /\p{L}+(?:['’]\p{L}+)*/gu;
const WORD_AT_END = /\p{L}+(?:['’]\p{L}+)*$/u;
const WORD_AT_START = /^\p{L}+(?:['’]\p{L}+)*/u;
const SPACE_BEFORE_PUNCT = /\s[,.;:!?)\]]/;

/** The vocabulary file's words as a set (one per line; blank lines ignored). */
export function parseVocabulary(text: string): Set<string> {
  const out = new Set<string>();
  for (const line of text.split('\n')) {
    const w = line.trim();
    if (w) out.add(w);
  }
  return out;
}

/** A word as the vocabulary writes it: lower case, ’ as '. */
export function normWord(w: string): string {
  return w.toLowerCase().replace(/’/g, "'");
}

/** The words of a text (letters, with apostrophes inside), in order. */
export function words(text: string): string[] {
  return text.match(WORD_RE) ?? [];
}

/** Short words a split inside a word may produce (other parts need 3 letters: the vocabulary holds many rare 2-letter strings). */
const SHORT_WORDS = new Set([
  'a',
  'i',
  'am',
  'an',
  'as',
  'at',
  'be',
  'by',
  'do',
  'go',
  'he',
  'if',
  'in',
  'is',
  'it',
  'me',
  'my',
  'no',
  'of',
  'oh',
  'on',
  'or',
  'so',
  'to',
  'up',
  'us',
  'we',
]);

function isPart(vocab: ReadonlySet<string>, w: string, strict: boolean): boolean {
  if (!w) return false;
  const n = normWord(w);
  if (n.length === 1) return n === 'a' || n === 'i';
  if (strict && n.length < 3) return SHORT_WORDS.has(n);
  return vocab.has(n);
}

/**
 * Whether a word that is not a corpus word splits into two that are: at `at` (the fill's edge)
 * when given, else at any point, then with parts of at least 3 letters or a common short word.
 */
export function splitsIntoTwo(word: string, vocab: ReadonlySet<string>, at?: number): boolean {
  if (vocab.has(normWord(word))) return false;
  const strict = at === undefined;
  const points = strict ? Array.from({ length: word.length - 1 }, (_, i) => i + 1) : [at];
  // inside a word a one-letter part counts only first ("ahouse", "iam"; not "fatheri")
  return points.some((i) => isPart(vocab, word.slice(0, i), strict) && (!strict || i < word.length - 1) && isPart(vocab, word.slice(i), strict));
}

/** The join checks of one fill (see the module comment). */
export function checkJoins(left: string, fill: string, right: string, kind: BlankKind, vocab: ReadonlySet<string>): JoinCheck {
  const notes: string[] = [];
  const leftTail = left.match(WORD_AT_END)?.[0] ?? '';
  const rightHead = right.match(WORD_AT_START)?.[0] ?? '';
  const fillWords = words(fill);
  const fillHead = fill.match(WORD_AT_START)?.[0] ?? '';
  const fillTail = fill.match(WORD_AT_END)?.[0] ?? '';
  const touchLeft = leftTail !== '' && fillHead !== '';
  // A fill that is one word touching both sides: the straddling word is left + fill + right.
  const whole = fillWords.length === 1 && fillHead === fill && fillTail === fill;
  const touchRight = rightHead !== '' && fillTail !== '';

  let glued = false;
  const glue = (word: string, at?: number): void => {
    if (!glued && splitsIntoTwo(word, vocab, at)) {
      glued = true;
      notes.push(`glued: ${word}`);
    }
  };
  if (whole && touchLeft && touchRight) {
    // one word touching both sides ("he" + "climbed" + "the"): each edge on its own
    glue(leftTail + fill, leftTail.length);
    glue(fill + rightHead, fill.length);
  } else {
    if (touchLeft) glue(leftTail + fillHead, leftTail.length);
    else if (fillHead && !(whole && touchRight)) glue(fillHead);
    if (touchRight) glue(fillTail + rightHead, fillTail.length);
    else if (fillTail && !whole) glue(fillTail);
  }

  let doubled = false;
  const leftLast = words(left).at(-1);
  const rightFirst = words(right)[0];
  const first = fillWords[0];
  const last = fillWords.at(-1);
  if (!touchLeft && first && leftLast && normWord(first) === normWord(leftLast)) {
    doubled = true;
    notes.push(`doubled: ${leftLast} | ${first}`);
  }
  if (!touchRight && last && rightFirst && normWord(last) === normWord(rightFirst)) {
    doubled = true;
    notes.push(`doubled: ${last} | ${rightFirst}`);
  }

  const window = left.slice(-1) + fill + right.slice(0, 1);
  const punct = window.match(SPACE_BEFORE_PUNCT);
  const spaceBeforePunctuation = punct !== null;
  if (punct) notes.push(`space before punctuation: ${JSON.stringify(punct[0])}`);

  let lineBreak = false;
  if ((kind === 'mid-sentence' || kind === 'sentence-end') && /[\r\n]/.test(fill)) lineBreak = true;
  if (kind === 'continuation' && /\n[ \t]*\n[ \t]*\n/.test(`${/[\n \t]*$/.exec(left)![0]}${fill}`.replace(/\r\n?/g, '\n'))) lineBreak = true;
  if (lineBreak) notes.push('line break');

  const doubleSpace = /[ \t]{2}/.test(window);
  if (doubleSpace) notes.push('double space');

  const bad = glued || doubled || spaceBeforePunctuation || lineBreak || doubleSpace;
  return { glued, doubled, spaceBeforePunctuation, lineBreak, doubleSpace, bad, notes };
}

/**
 * distinct-n across the alternatives of one blank: unique n-grams / all n-grams, pooled over the
 * alternatives (words, lower-cased; n-grams do not cross from one alternative to the next). NaN
 * when no alternative has n words.
 */
export function distinctN(alternatives: readonly string[], n: number): number {
  const seen = new Set<string>();
  let total = 0;
  for (const alt of alternatives) {
    const w = words(alt).map(normWord);
    for (let i = 0; i + n <= w.length; i++) {
      seen.add(w.slice(i, i + n).join(' '));
      total++;
    }
  }
  return total ? seen.size / total : NaN;
}

/** The fill as it sits in the final text: what lies between the unchanged start of `left` and end of `right`. */
export function splitFinal(final: string, left: string, right: string): { left: string; fill: string; right: string } {
  let p = 0;
  while (p < left.length && p < final.length && final[p] === left[p]) p++;
  let s = 0;
  while (s < right.length && s < final.length - p && final[final.length - 1 - s] === right[right.length - 1 - s]) s++;
  return { left: final.slice(0, p), fill: final.slice(p, final.length - s), right: final.slice(final.length - s) };
}
