import { describe, expect, it } from 'vitest';
import { ApiError } from '../../common/api';
import { parseBlanks } from '../../common/blanks';
import { blankSpans, decodeFills, planInfill, spliceFills } from './infill';
import { Tokenizer } from './tokenizer';
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
  it('tokenizes text segments and writes a MASK run per blank', () => {
    const text = 'The cat ____ on the {{3}}.';
    const plan = planInfill(text, tok, opts);
    const before = tok.encode('The cat ');
    const middle = tok.encode(' on the ');
    expect(Array.from(plan.template)).toEqual([...before, ...Array(16).fill(MASK), ...middle, MASK, MASK, MASK, ...tok.encode('.')]);
    expect(plan.blanks).toEqual([
      { start: before.length, length: 16, from: 8, to: 12, lead: '' },
      { start: before.length + 16 + middle.length, length: 3, from: 20, to: 25, lead: '' },
    ]);
  });

  it('treats special-token strings in user text as plain text', () => {
    const plan = planInfill('<|endoftext|> ____', tok, opts);
    expect(Array.from(plan.template)).not.toContain(510);
  });

  it('rejects text without a blank, and bad blank syntax', () => {
    expect(badRequest(() => planInfill('no blanks here, only \\____', tok, opts)).message).toMatch(/no blank/);
    expect(badRequest(() => planInfill('a {{0}} b', tok, opts)).message).toMatch(/1 to 1024/);
  });

  it('rejects text longer than the model reads, saying by how much', () => {
    const words = 'word '.repeat(200);
    const n = tok.encode(words).length + 16;
    const e = badRequest(() => planInfill(words + '____', tok, opts));
    expect(e.message).toContain(`the text is ${n} tokens; this model reads at most 128`);
    expect(e.message).toMatch(/context windows/);
    // Exactly the model's length is fine.
    expect(planInfill('{{128}}', tok, opts).template.length).toBe(128);
    badRequest(() => planInfill('{{129}}', tok, opts));
  });

  it('finds the blanks where parseBlanks does, escapes included', () => {
    const text = 'a \\____ b \\\\____ c {{ 2 }} d\\\\\\{{3}}';
    expect(blankSpans(text)).toEqual([
      { from: 10, to: 16, lead: '\\', tokens: 16 },
      { from: 19, to: 26, lead: '', tokens: 2 },
    ]);
    expect(parseBlanks(text).filter((s) => s.kind === 'blank')).toEqual([
      { kind: 'blank', tokens: 16 },
      { kind: 'blank', tokens: 2 },
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
    expect(decodeFills(plan, tokens, tok)).toEqual([' hello' + '!'.repeat(16 - hello.length), ' ok']);
  });
});
