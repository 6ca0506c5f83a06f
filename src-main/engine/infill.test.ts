import { describe, expect, it } from 'vitest';
import { ApiError } from '../common/api';
import { MAX_BLANKS_PER_FILL, parseBlanks } from '../common/blanks';
import { blankSpans, decodeFills, parseFillText, planInfill, planWindows, spliceFills } from './infill';
import { Tokenizer } from './model/tokenizer';
import { fixtureJson } from './test-fixture';

const tok = new Tokenizer(fixtureJson('tokenizer.json'));
const MASK = 511;
const opts = { maskId: MASK, maxLength: 128 };

function badRequest(fn: () => unknown): ApiError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ApiError);
  expect((err as ApiError).code).toBe('bad_request');
  return err as ApiError;
}

/** The filled text as plain text: what the result of spliceFills must read as in the blank syntax. */
function plainFilled(text: string, fills: string[]): string {
  let k = 0;
  return parseBlanks(text)
    .map((s) => (s.kind === 'text' ? s.text : fills[k++]!))
    .join('');
}

function readsAs(result: string): string {
  const segs = parseBlanks(result);
  expect(segs.every((s) => s.kind === 'text')).toBe(true);
  return segs.map((s) => (s.kind === 'text' ? s.text : '')).join('');
}

describe('planInfill', () => {
  it('tokenizes text segments and writes a MASK run per blank, moving the space before a blank into it', () => {
    const text = 'The cat ____ on the {{3}}.';
    const plan = planInfill(text, tok, opts);
    // "The cat " loses its trailing space to the blank: no lone " " token before the MASKs.
    const before = tok.encode('The cat');
    const middle = tok.encode(' on the');
    expect(Array.from(plan.template)).toEqual([...before, ...Array(16).fill(MASK), ...middle, MASK, MASK, MASK, ...tok.encode('.')]);
    expect(plan.blanks).toMatchObject([
      { start: before.length, length: 16, from: 8, to: 12, lead: '', spaceMoved: true, spaceAdded: false, auto: true },
      { start: before.length + 16 + middle.length, length: 3, from: 20, to: 25, lead: '', spaceMoved: true, spaceAdded: false, auto: false },
    ]);
    expect(plan.blanks.map((b) => b.edges)).toEqual([
      { left: 'space', right: 'space', leftWord: 'cat', rightWord: 'on', paragraphs: false },
      { left: 'space', right: 'punctuation', leftWord: 'the', rightWord: '', paragraphs: false },
    ]);
    // An auto blank takes the length it is planned at.
    expect(planInfill(text, tok, { ...opts, autoLength: 4 }).blanks.map((b) => b.length)).toEqual([4, 3]);
    expect(plan.windows).toEqual([{ start: 0, end: plan.template.length, blanks: [0, 1] }]);
    // Only one space moves; no space, no move.
    const two = planInfill('a  ____', tok, opts);
    expect(Array.from(two.template.subarray(0, two.blanks[0]!.start))).toEqual(tok.encode('a '));
    expect(planInfill('a____', tok, opts).blanks[0]!.spaceMoved).toBe(false);
  });

  it('splices fills back around the moved space, keeping the text byte for byte', () => {
    const text = 'The cat ____ on the mat.';
    const plan = planInfill(text, tok, opts);
    const put = (fill: string): string => {
      const tokens = plan.template.slice();
      const ids = tok.encode(fill);
      tokens.set([...ids, ...Array(16 - ids.length).fill(tok.encode('!')[0]!)].slice(0, 16), plan.blanks[0]!.start);
      const fills = decodeFills(plan, tokens, tok);
      return spliceFills(text, plan, fills);
    };
    // The generated leading space is the user's space: not doubled, not lost.
    expect(put(' sat')).toBe('The cat sat' + '!'.repeat(16 - tok.encode(' sat').length) + ' on the mat.');
    // No generated leading space: the user's space stays anyway.
    expect(put('sat')).toBe('The cat sat' + '!'.repeat(16 - tok.encode('sat').length) + ' on the mat.');
  });

  it('handles a trailing blank (continuation) and text that is only a blank', () => {
    const cont = planInfill('Once upon a time ____', tok, opts);
    expect(cont.blanks[0]!.start + 16).toBe(cont.template.length);
    expect(cont.blanks[0]!.spaceMoved).toBe(true);
    const only = planInfill('{{5}}', tok, opts);
    expect(Array.from(only.template)).toEqual(Array(5).fill(MASK));
    expect(only.blanks[0]).toMatchObject({ start: 0, length: 5, from: 0, to: 5, spaceMoved: false });
  });
  it('treats special-token strings in user text as plain text', () => {
    const plan = planInfill('<|endoftext|> ____', tok, opts);
    expect(Array.from(plan.template)).not.toContain(510);
  });

  it('rejects text without a blank, and bad blank syntax', () => {
    expect(badRequest(() => planInfill('no blanks here, only \\____', tok, opts)).message).toMatch(/no blank/);
    expect(badRequest(() => planInfill('a {{0}} b', tok, opts)).message).toMatch(/1 to 1024/);
  });

  it('takes at most MAX_BLANKS_PER_FILL blanks in one fill, and says how many there were', () => {
    expect(() => parseFillText('____ '.repeat(MAX_BLANKS_PER_FILL))).not.toThrow();
    expect(badRequest(() => parseFillText('____ '.repeat(2_000))).message).toBe(
      `the text has 2000 blanks; one fill takes at most ${MAX_BLANKS_PER_FILL}: fill part of the text at a time`,
    );
  });

  it('reads a long document through windows centred on the blanks; a blank longer than the model is a bad_request', () => {
    const words = 'word '.repeat(200);
    const plan = planInfill(words + 'middle {{10}} more ' + words + '{{4}}', tok, opts);
    expect(plan.template.length).toBeGreaterThan(2 * 128);
    expect(plan.windows).toHaveLength(2);
    const [w0, w1] = plan.windows as [{ start: number; end: number; blanks: number[] }, { start: number; end: number; blanks: number[] }];
    const b0 = plan.blanks[0]!;
    // Centred: as much text before the blank as after it.
    expect(w0).toMatchObject({ end: w0.start + 128, blanks: [0] });
    expect(Math.abs(b0.start - w0.start - (w0.end - b0.start - b0.length))).toBeLessThanOrEqual(1);
    // At the document's end, the window takes all its room on the left.
    expect(w1).toEqual({ start: plan.template.length - 128, end: plan.template.length, blanks: [1] });
    expect(planInfill('{{128}}', tok, opts).template.length).toBe(128);
    const e = badRequest(() => planInfill('a {{129}} b', tok, opts));
    expect(e.message).toContain('blank 1 is 129 tokens; this model generates at most 128');
  });

  it('groups blanks that fit one window and starts a new window for one that does not', () => {
    const blanks = [
      { start: 10, length: 5 },
      { start: 40, length: 5 },
      { start: 100, length: 30 }, // 130 − 10 > 100: next window
      { start: 300, length: 10 },
    ];
    expect(planWindows(blanks, 50, 100)).toEqual([{ start: 0, end: 50, blanks: [0, 1, 2, 3] }]);
    expect(planWindows(blanks, 330, 100)).toEqual([
      { start: 0, end: 100, blanks: [0, 1] }, // centred start 10 − 32 clipped at 0
      { start: 65, end: 165, blanks: [2] }, // room 70: 35 on each side
      { start: 230, end: 330, blanks: [3] }, // centred would be 255…355: clipped at the document's end
    ]);
  });

  it('finds the blanks where parseBlanks does, escapes included', () => {
    const text = 'a \\____ b \\\\____ c {{ 2 }} d\\\\\\{{3}}';
    expect(blankSpans(text)).toEqual([
      { from: 10, to: 16, lead: '\\', tokens: 'auto' },
      { from: 19, to: 26, lead: '', tokens: 2 },
    ]);
    expect(parseBlanks(text).filter((s) => s.kind === 'blank')).toEqual([
      { kind: 'blank', tokens: 'auto' },
      { kind: 'blank', tokens: 2 },
    ]);
  });

  it('reads a word right after a blank as a word start and writes the space after the fill', () => {
    const text = 'he ____climbed up';
    const plan = planInfill(text, tok, opts);
    const b = plan.blanks[0]!;
    expect(b).toMatchObject({ spaceMoved: true, spaceAdded: true, edges: { left: 'space', right: 'word', rightWord: 'climbed' } });
    expect(Array.from(plan.template.subarray(b.start + b.length))).toEqual(tok.encode(' climbed up'));
    const tokens = plan.template.slice();
    const ids = tok.encode(' slowly');
    tokens.set([...ids, ...Array(16 - ids.length).fill(tok.encode(' and')[0]!)], b.start);
    const fills = decodeFills(plan, tokens, tok);
    expect(fills[0]!.endsWith(' ')).toBe(true);
    expect(spliceFills(text, plan, fills)).toBe(`he slowly${' and'.repeat(16 - ids.length)} climbed up`);
    // Not before punctuation or a space, and two blanks side by side touch no known text.
    expect(planInfill('he ____, then', tok, opts).blanks[0]!.spaceAdded).toBe(false);
    const pair = planInfill('a ____{{2}} b', tok, opts);
    expect(pair.blanks.map((x) => [x.edges.left, x.edges.right])).toEqual([
      ['space', 'open'],
      ['open', 'space'],
    ]);
  });
});

describe('spliceFills', () => {
  const splice = (text: string, fills: string[]): string => spliceFills(text, planInfill(text, tok, opts), fills);

  it('puts each fill where its blank was and keeps the rest byte for byte', () => {
    expect(splice('The cat ____ on the {{3}}.', [' sat', ' mat'])).toBe('The cat  sat on the  mat.');
    expect(splice('😀____é\r\n\tend', ['x'])).toBe('😀xé\r\n\tend');
    expect(splice('{{1}}{{2}}', ['a', 'b'])).toBe('ab');
  });

  it('keeps escaped literal blanks and halves an escaped backslash before a blank', () => {
    const text = 'a \\____ b \\\\____ c';
    const out = splice(text, ['X']);
    expect(out).toBe('a \\____ b \\X c');
    expect(readsAs(out)).toBe(plainFilled(text, ['X']));
  });

  it('escapes a fill that would read as a blank', () => {
    const text = 'x ____ y';
    const out = splice(text, ['__init____']);
    expect(out).toBe('x __init\\____ y');
    expect(readsAs(out)).toBe('x __init____ y');
  });

  it('falls back to the canonical form when a fill and its neighbours would form a blank', () => {
    const text = '{{2}}___ and ____';
    const fills = ['x_', 'ok'];
    const out = splice(text, fills);
    expect(readsAs(out)).toBe(plainFilled(text, fills));
    expect(out).toBe('x\\____ and ok');
  });

  it('needs one fill per blank', () => {
    expect(() => splice('a ____ b ____', ['one'])).toThrow(RangeError);
  });
});

describe('decodeFills', () => {
  it('decodes each blank’s tokens on its own', () => {
    const plan = planInfill('A ____ B {{2}} C', tok, opts);
    const tokens = plan.template.slice();
    const hello = tok.encode(' hello');
    const fill1 = [...hello, ...Array(16 - hello.length).fill(tok.encode('!')[0]!)];
    tokens.set(fill1, plan.blanks[0]!.start);
    tokens.set(tok.encode(' ok'), plan.blanks[1]!.start);
    expect(tok.encode(' ok').length).toBe(2);
    // Both blanks follow a space, which was moved into them: the generated leading space is dropped from the fill.
    expect(decodeFills(plan, tokens, tok)).toEqual(['hello' + '!'.repeat(16 - hello.length), 'ok']);
    const noSpace = planInfill('A:____', tok, opts);
    const t2 = noSpace.template.slice();
    t2.set(fill1, noSpace.blanks[0]!.start);
    expect(decodeFills(noSpace, t2, tok)).toEqual([' hello' + '!'.repeat(16 - hello.length)]);
  });
});
