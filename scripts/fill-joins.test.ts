import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkJoins, distinctN, normWord, parseVocabulary, splitFinal, splitsIntoTwo, words } from './fill-joins';

const vocab = parseVocabulary(
  [
    'he',
    'climbed',
    'the',
    'hill',
    'and',
    'went',
    'home',
    'a',
    'house',
    'i',
    'am',
    'father',
    "don't",
    'slowly',
    'up',
    'dis',
    'il',
    'was',
    'it',
    'not',
    'so',
    'said',
  ].join('\n'),
);

const counts = (left: string, fill: string, right: string, kind: Parameters<typeof checkJoins>[3] = 'mid-sentence') => {
  const c = checkJoins(left, fill, right, kind, vocab);
  return { glued: c.glued, doubled: c.doubled, punct: c.spaceBeforePunctuation, lineBreak: c.lineBreak, doubleSpace: c.doubleSpace, bad: c.bad };
};
const clean = { glued: false, doubled: false, punct: false, lineBreak: false, doubleSpace: false, bad: false };

describe('fill join counters', () => {
  it('passes a clean fill', () => {
    expect(counts('Then he ', 'climbed the hill', ' and went home.')).toEqual(clean);
    expect(counts('Then he', ' climbed the hill', ', and went home.')).toEqual(clean);
    expect(counts('Then he ', 'climbed the hill ', 'and went home.')).toEqual(clean);
    expect(counts('It was so. ', 'He climbed the hill.', '\n\nHome.', 'paragraph-end')).toEqual(clean);
  });

  it('finds a word glued to the text at either edge', () => {
    expect(counts('Then he', 'climbed the hill', ' and went.')).toMatchObject({ glued: true, bad: true }); // "heclimbed"
    expect(counts('Then he ', 'climbed the hill', 'and went.')).toMatchObject({ glued: true }); // "hilland"
    expect(checkJoins('Then he', 'climbed', ' up.', 'mid-sentence', vocab).notes).toEqual(['glued: heclimbed']);
    // a straddling word that is a corpus word, or does not split into two at the edge, is not glued
    expect(counts('Then he ', 'slow', 'ly up.')).toMatchObject({ glued: false });
    expect(counts('Then he', 'xq went', ' home.')).toMatchObject({ glued: false });
    // one-word fill touching both sides
    expect(counts('Then he', 'climbed', 'the hill.')).toMatchObject({ glued: true });
  });

  it('finds two words glued inside the fill at its edge, without flagging odd or rare words', () => {
    expect(counts('Then ', 'heclimbed the hill', ' and went.')).toMatchObject({ glued: true });
    expect(counts('Then ', 'ahouse and', ' went.')).toMatchObject({ glued: true });
    expect(counts('Then ', 'he went to the fatheri', ' said.')).toMatchObject({ glued: false }); // "i" may only lead
    expect(counts('Then ', 'he went disil', ' home.')).toMatchObject({ glued: false }); // "il": 2 letters, rare
    expect(splitsIntoTwo('hillhome', vocab)).toBe(true);
    expect(splitsIntoTwo('house', vocab)).toBe(false);
    expect(splitsIntoTwo('Don’t', vocab)).toBe(false); // curly apostrophe normalised
  });

  it('finds a doubled edge word, case-insensitive', () => {
    expect(counts('Then he ', 'and went home', ' home.')).toMatchObject({ doubled: true, bad: true });
    expect(counts('Then he ', 'He climbed', ' up.')).toMatchObject({ doubled: true });
    expect(counts('Then he ', 'climbed', ' the hill.')).toMatchObject({ doubled: false });
    // touching words are one (glued) word, not a doubled one
    expect(counts('Then he', 'he went', ' home.')).toMatchObject({ doubled: false });
  });

  it('finds a space before closing punctuation in the fill or across its edges', () => {
    expect(counts('Then he ', 'climbed , the hill', ' and went.')).toMatchObject({ punct: true });
    expect(counts('Then he ', ', climbed', ' up.')).toMatchObject({ punct: true }); // " ," across the left edge
    expect(counts('Then he ', 'climbed the hill ', '. Home.')).toMatchObject({ punct: true });
    expect(counts('Then he ', 'climbed (the hill)', ' up.')).toMatchObject({ punct: false });
  });

  it('finds a line break in a sentence blank; for a continuation only an empty line (a new paragraph is a clean start)', () => {
    expect(counts('Then he ', 'climbed\nthe hill', ' and went.')).toMatchObject({ lineBreak: true });
    expect(counts('Then he ', 'climbed.\n\nThe', ' hill.', 'sentence-end')).toMatchObject({ lineBreak: true });
    expect(counts('Then he ', 'climbed.\n\nThe', ' hill.', 'paragraph-end')).toMatchObject({ lineBreak: false });
    expect(counts('Then he climbed.', '\n\nThe hill', '', 'continuation')).toEqual(clean);
    expect(counts('Then he climbed.', '\n\n\nThe hill', '', 'continuation')).toMatchObject({ lineBreak: true, bad: true });
    expect(counts('Then he climbed.\n\n', '\nThe hill', '', 'continuation')).toMatchObject({ lineBreak: true });
    expect(counts('Then he climbed.', ' The hill.\n\n \nHome', '', 'continuation')).toMatchObject({ lineBreak: true });
    expect(counts('Then he climbed. ', 'The hill.\n\nHome', '', 'continuation')).toEqual(clean);
  });

  it('finds a doubled space, for continuations too, and a continuation glued to the last word', () => {
    expect(counts('Then he ', ' climbed', '', 'continuation')).toMatchObject({ doubleSpace: true, bad: true });
    expect(counts('Then he ', 'climbed  the hill', ' up.')).toMatchObject({ doubleSpace: true });
    expect(counts('Then he', 'climbed up', '', 'continuation')).toMatchObject({ glued: true });
    expect(counts('Then he', ' climbed up', '', 'continuation')).toEqual(clean);
  });

  it('counts distinct n-grams across alternatives', () => {
    expect(distinctN(['the hill', 'the hill'], 1)).toBe(0.5);
    expect(distinctN(['the hill', 'a house'], 2)).toBe(1);
    expect(distinctN(['The hill', 'the hill', 'the house'], 2)).toBeCloseTo(2 / 3);
    expect(distinctN(['up', 'home'], 2)).toBeNaN();
  });

  it('splits a final text back into left, fill and right', () => {
    expect(splitFinal('Then he climbed up and home.', 'Then he ', ' and home.')).toEqual({ left: 'Then he ', fill: 'climbed up', right: ' and home.' });
    // the engine may put the writer's space on the other side of the fill
    expect(splitFinal('Then he climbed up and home.', 'Then he', 'and home.')).toEqual({ left: 'Then he', fill: ' climbed up ', right: 'and home.' });
    expect(splitFinal('Then he ', 'Then he ', '')).toEqual({ left: 'Then he ', fill: '', right: '' });
  });

  it('normalises words like the vocabulary file', () => {
    expect(normWord('Don’t')).toBe("don't");
    expect(words('“Don’t,” he said—twice.')).toEqual(['Don’t', 'he', 'said', 'twice']);
  });

  it('the original words of the committed blank set rarely trip the counters', () => {
    const root = join(import.meta.dirname, '..');
    const real = parseVocabulary(readFileSync(join(root, 'models', 'data', 'vocabulary.txt'), 'utf8'));
    const blanks = readFileSync(join(root, 'models', 'data', 'fill-blanks.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { kind: Parameters<typeof checkJoins>[3]; left: string; blank: string; right: string; tokens: number; words: string });
    expect(blanks.length).toBeGreaterThanOrEqual(240);
    for (const b of blanks) {
      const n = words(b.words).length;
      expect(n).toBeGreaterThanOrEqual(2);
      expect(b.tokens).toBeGreaterThan(0);
    }
    const bad = blanks.filter((b) => checkJoins(b.left, b.blank, b.right, b.kind, real).bad);
    expect(bad.length / blanks.length).toBeLessThanOrEqual(0.02);
  });
});
