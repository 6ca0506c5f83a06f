import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { appRoot } from '../platform/paths';
import { describe, expect, it } from 'vitest';
import { decodeFills, planInfill, spliceFills } from './infill';
import { blankBans, blankEdges, leftEdge, planBans, rightEdge, tokenClasses, wordKey, type BlankEdges } from './joins';
import { Tokenizer } from './model/tokenizer';

const root = appRoot();
const tokenizers: [string, Tokenizer][] = [
  ["GPT-2's", new Tokenizer(JSON.parse(readFileSync(join(root, 'models/gpt2/tokenizer.json'), 'utf8')))],
  ["lacuna-mini's", new Tokenizer(JSON.parse(readFileSync(join(root, 'models/lacuna-mini/tokenizer.json'), 'utf8')))],
];

/** The id of a string that the tokenizer encodes as a single token (fails the test otherwise). */
function one(tok: Tokenizer, s: string): number {
  const ids = tok.encode(s);
  expect(ids, `"${s}" is one token`).toHaveLength(1);
  return ids[0]!;
}

describe('edges', () => {
  it('says what touches a blank on either side', () => {
    expect([leftEdge(''), leftEdge('a\n'), leftEdge('a '), leftEdge('word'), leftEdge('end.'), leftEdge('say “')]).toEqual([
      'edge',
      'paragraph',
      'space',
      'word',
      'punctuation',
      'open',
    ]);
    expect([rightEdge(''), rightEdge('  \n'), rightEdge('\n\nNext'), rightEdge(' and'), rightEdge('climbed'), rightEdge(', then'), rightEdge('(x)')]).toEqual([
      'edge',
      'edge',
      'paragraph',
      'space',
      'word',
      'punctuation',
      'open',
    ]);
    expect(blankEdges('The keeper', true, ' and went')).toEqual({ left: 'space', right: 'space', leftWord: 'keeper', rightWord: 'and', paragraphs: false });
    // A continuation may hold paragraphs; so may a blank that is a paragraph of its own; a sentence blank may not.
    expect(blankEdges('It ended.', true, '').paragraphs).toBe(true);
    expect(blankEdges('One.\n\n', false, '\n\nThree.').paragraphs).toBe(true);
    expect(blankEdges('One.', true, '\n\nThree.').paragraphs).toBe(false);
    expect([wordKey(' And'), wordKey('don’t'), wordKey(' ,'), wordKey('\n')]).toEqual(['and', "don't", '', '']);
  });
});

describe.each(tokenizers)('join rules with %s tokenizer', (_name, tok) => {
  const c = tokenClasses(tok);
  const sentence: BlankEdges = { left: 'space', right: 'space', leftWord: 'and', rightWord: 'went', paragraphs: false };

  it('bans, everywhere in a sentence blank: line breaks, lone whitespace, whitespace before punctuation, end of text', () => {
    const { first, middle, last } = blankBans(sentence, 8, c);
    // " ," and "\n\n" are single tokens in GPT-2's vocabulary; lacuna-mini writes them as " " + ","
    // and "\n" + "\n", which the bans on " " and "\n" cover.
    const bannedStrings = ['\n', ' ', ...[' ,', ' .', '\n\n'].filter((s) => tok.encode(s).length === 1)];
    for (const s of bannedStrings) {
      const id = one(tok, s);
      expect(middle[id], JSON.stringify(s)).toBe(1);
      expect(first[id], JSON.stringify(s)).toBe(1);
      expect(last[id], JSON.stringify(s)).toBe(1);
    }
    for (const id of tok.specialIds()) expect(middle[id]).toBe(1);
    // Carriage returns and tabs: never (the editor writes neither), in a continuation too.
    const para = blankBans(blankEdges('It ended.', false, ''), 8, c);
    for (const s of ['\r', '\t']) if (tok.encode(s).length === 1) expect([middle[one(tok, s)], para.middle[one(tok, s)]], JSON.stringify(s)).toEqual([1, 1]);
    for (const s of [' the', ',', '.', 'ing', ' "']) expect(middle[one(tok, s)], JSON.stringify(s)).toBe(0);
  });

  it('keeps a word from gluing to the word before the blank, and from doubling either neighbour', () => {
    const glued: BlankEdges = { left: 'word', right: 'space', leftWord: 'he', rightWord: 'went', paragraphs: false };
    const { first } = blankBans(glued, 4, c);
    expect(first[one(tok, 'the')]).toBe(1); // "he" + "the" would read "hethe"
    expect(first[one(tok, ' the')]).toBe(0);
    expect(first[one(tok, ',')]).toBe(0);
    const edges = blankBans(sentence, 4, c);
    expect(edges.first[one(tok, ' and')]).toBe(1); // "and and"
    expect(edges.last[one(tok, ' went')]).toBe(1); // "went went"
    expect(edges.middle[one(tok, ' and')]).toBe(0);
    expect(edges.middle[one(tok, ' went')]).toBe(0);
  });

  it('after a moved space the first token is a word start (the space is the writer’s): no "keeper , towards"', () => {
    const { first } = blankBans(sentence, 4, c);
    expect(first[one(tok, ',')]).toBe(1);
    expect(first[one(tok, 'the')]).toBe(1);
    expect(first[one(tok, ' the')]).toBe(0);
  });

  it('a continuation starts where the text ends: no empty line after a paragraph break, newlines allowed after a sentence', () => {
    const afterBreak = blankBans(blankEdges('It ended.\n\n', false, ''), 8, c);
    expect(afterBreak.first[one(tok, '\n')]).toBe(1);
    expect(afterBreak.first[one(tok, ' The')]).toBe(1);
    expect(afterBreak.first[one(tok, 'The')]).toBe(0);
    expect(afterBreak.middle[one(tok, '\n')]).toBe(0);
    const afterSentence = blankBans(blankEdges('It ended.', false, ''), 8, c);
    expect(afterSentence.first[one(tok, ' The')]).toBe(0);
    expect(afterSentence.first[one(tok, '\n')]).toBe(0);
    expect(afterSentence.first[one(tok, 'The')]).toBe(1); // "ended.The"
  });

  it('where paragraphs are allowed, never writes more than two line breaks in a row (no empty line)', () => {
    const nl = one(tok, '\n');
    const word = one(tok, ' The');
    const text = 'It ended.____';
    const plan = planInfill(text, tok, { maskId: tok.size, maxLength: 1024, autoLength: 8 });
    const bans = planBans(plan.blanks, tok);
    const s = plan.blanks[0]!.start;
    // Tokens written so far, by position; −1 undecided.
    const written = new Map<number, number>();
    const near = (p: number) => (off: number) => written.get(p + off) ?? -1;
    // Undecided neighbours: a line break is allowed (the static rules allow it after a sentence).
    expect(bans(s + 1, near(s + 1))![nl]).toBe(0);
    written.set(s, nl);
    expect(bans(s + 1, near(s + 1))![nl]).toBe(0); // "\n\n": a paragraph break
    written.set(s + 1, nl);
    expect(bans(s + 2, near(s + 2))![nl]).toBe(1); // a third: an empty line
    expect(bans(s + 2, near(s + 2))![word]).toBe(0);
    // The same from either side, or around the position.
    written.clear();
    written.set(s + 3, nl).set(s + 4, nl);
    expect(bans(s + 2, near(s + 2))![nl]).toBe(1);
    written.clear();
    written.set(s + 1, nl).set(s + 3, nl);
    expect(bans(s + 2, near(s + 2))![nl]).toBe(1);
    written.set(s + 1, word);
    expect(bans(s + 2, near(s + 2))![nl]).toBe(0);
    // Tokens of three line breaks are banned outright; a sentence blank bans every line break anyway.
    for (const id of c.newlineIds) if (c.emptyLine[id]) expect(bans(s + 2)![id]).toBe(1);
    if (tok.encode('\n\n\n').length === 1) expect(c.emptyLine[one(tok, '\n\n\n')]).toBe(1);
    if (tok.encode('\n\n').length === 1) {
      written.clear();
      written.set(s + 1, nl);
      expect(bans(s + 2, near(s + 2))![one(tok, '\n\n')]).toBe(1); // 1 + 2
      expect(bans(s + 3, near(s + 3))![one(tok, '\n\n')]).toBe(0);
    }
  });

  it('never bans every token of a position', () => {
    const everything = new Uint8Array(c.size).fill(1);
    const fake = { ...c, special: everything };
    const bans = blankBans(sentence, 3, fake);
    for (const m of [bans.first, bans.middle, bans.last]) expect(m.every((v) => v === 1)).toBe(false);
  });

  it('maps the bans onto a planned text, position by position', () => {
    const text = 'The keeper and ____ went inside. She ____climbed';
    const plan = planInfill(text, tok, { maskId: tok.size, maxLength: 1024, autoLength: 4 });
    const bans = planBans(plan.blanks, tok);
    const [a, b] = plan.blanks;
    expect(bans(a!.start - 1)).toBeUndefined();
    expect(bans(a!.start)![one(tok, ' and')]).toBe(1);
    expect(bans(a!.start + 3)![one(tok, ' went')]).toBe(1);
    expect(bans(a!.start + 1)![one(tok, ' went')]).toBe(0);
    expect(b!.spaceAdded).toBe(true);
    // Whatever the model writes that the rules allow, the words stay apart.
    const tokens = plan.template.slice();
    tokens.set(
      tok
        .encode(' up the narrow')
        .slice(0, 4)
        .concat(Array(4).fill(one(tok, ' the')))
        .slice(0, 4),
      a!.start,
    );
    tokens.set(Array(4).fill(one(tok, ' slowly')), b!.start);
    const out = spliceFills(text, plan, decodeFills(plan, tokens, tok));
    expect(out.endsWith(' slowly slowly slowly slowly climbed')).toBe(true);
  });
});
