import { describe, expect, it } from 'vitest';
import { Random } from '../engine/random';
import { diffWords, tokenize, type DiffOp } from './diff';

const side = (ops: DiffOp[], keep: 'insert' | 'delete'): string =>
  ops
    .filter((o) => o.op === 'equal' || o.op === keep)
    .map((o) => o.text)
    .join('');

describe('diffWords', () => {
  it('finds a changed word and keeps the rest equal', () => {
    expect(diffWords('The keeper climbed the stairs.', 'The keeper descended the stairs.', { context: Infinity })).toEqual([
      { op: 'equal', text: 'The keeper ' },
      { op: 'delete', text: 'climbed' },
      { op: 'insert', text: 'descended' },
      { op: 'equal', text: ' the stairs.' },
    ]);
  });

  it('handles insertions, deletions, empty sides and identical texts', () => {
    expect(diffWords('', '', {})).toEqual([]);
    expect(diffWords('', 'new text', {})).toEqual([{ op: 'insert', text: 'new text' }]);
    expect(diffWords('old', '', {})).toEqual([{ op: 'delete', text: 'old' }]);
    expect(diffWords('same', 'same', {})).toEqual([{ op: 'equal', text: 'same' }]);
    expect(diffWords('a c', 'a b c', { context: Infinity })).toEqual([
      { op: 'equal', text: 'a ' },
      { op: 'insert', text: 'b ' },
      { op: 'equal', text: 'c' },
    ]);
  });

  it('reconstructs both sides exactly for random edits, odd Unicode included', () => {
    const rng = new Random(9);
    const words = ['lamp', 'sea', 'ночь', '海', 'e\u0301té', '🙂', 'שלום', '\n\n', ' ', ',', 'tide'];
    const pick = (): string => words[Math.floor(rng.uniform() * words.length)]!;
    for (let trial = 0; trial < 200; trial++) {
      const a = Array.from({ length: Math.floor(rng.uniform() * 40) }, () => `${pick()} `);
      const b = a.slice();
      for (let e = 0; e < 1 + Math.floor(rng.uniform() * 6); e++) {
        const at = Math.floor(rng.uniform() * (b.length + 1));
        if (rng.uniform() < 0.5 && b.length) b.splice(at, 1);
        else b.splice(at, 0, `${pick()} `);
      }
      const ops = diffWords(a.join(''), b.join(''), { context: Infinity });
      expect(side(ops, 'delete')).toBe(a.join(''));
      expect(side(ops, 'insert')).toBe(b.join(''));
      for (let i = 1; i < ops.length; i++) expect(ops[i]!.op === ops[i - 1]!.op).toBe(false);
    }
  });

  it('falls back to one replacement past maxEdits, and still reconstructs both sides', () => {
    const a = Array.from({ length: 100 }, (_, i) => `w${i}`).join(' ');
    const b = Array.from({ length: 100 }, (_, i) => `v${i}`).join(' ');
    const ops = diffWords(a, b, { maxEdits: 10, context: Infinity });
    expect(side(ops, 'delete')).toBe(a);
    expect(side(ops, 'insert')).toBe(b);
    expect(ops.filter((o) => o.op !== 'equal')).toHaveLength(2);
  });

  it('shortens long unchanged runs to the context around each change', () => {
    const long = 'word '.repeat(1000);
    const ops = diffWords(`${long}old ${long}`, `${long}new ${long}`, { context: 50 });
    expect(ops.map((o) => o.op)).toEqual(['equal', 'delete', 'insert', 'equal']);
    const [head, , , tail] = ops as [Extract<DiffOp, { op: 'equal' }>, DiffOp, DiffOp, Extract<DiffOp, { op: 'equal' }>];
    expect(head.text.length).toBe(50);
    expect(head.elided).toBe(5000 - 50);
    expect(tail.text.length).toBe(50);
    expect(tail.elided).toBe(5001 - 50); // the space after "old" belongs to the unchanged tail
  });

  it('splits words, spaces and punctuation into tokens', () => {
    expect(tokenize("It's 12 o’clock, ok?")).toEqual(["It's", ' ', '12', ' ', 'o’clock', ',', ' ', 'ok', '?']);
  });
});
