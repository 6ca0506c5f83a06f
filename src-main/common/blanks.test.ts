import { describe, expect, it } from 'vitest';
import {
  BlankSyntaxError,
  blankMatches,
  MAX_BLANK_TOKENS,
  isBlankLength,
  type BlankLength,
  blankToken,
  countBlanks,
  formatBlanks,
  parseBlanks,
  type Segment,
} from './blanks';

const t = (text: string): Segment => ({ kind: 'text', text });
const b = (tokens: BlankLength = 'auto'): Segment => ({ kind: 'blank', tokens });

describe('parseBlanks', () => {
  it('splits text and default blanks', () => {
    expect(parseBlanks('The cat ____ on the mat.')).toEqual([t('The cat '), b(), t(' on the mat.')]);
  });

  it('needs four underscores; longer runs are one blank', () => {
    expect(parseBlanks('a ___ b')).toEqual([t('a ___ b')]);
    expect(parseBlanks('a ________ b')).toEqual([t('a '), b(), t(' b')]);
  });

  it('reads explicit lengths, with spaces inside the braces', () => {
    expect(parseBlanks('{{12}}')).toEqual([b(12)]);
    expect(parseBlanks('x{{ 3 }}y')).toEqual([t('x'), b(3), t('y')]);
    expect(parseBlanks(`{{${MAX_BLANK_TOKENS}}}`)).toEqual([b(MAX_BLANK_TOKENS)]);
    expect(parseBlanks('{{1}}')).toEqual([b(1)]);
  });

  it('rejects lengths out of range', () => {
    expect(() => parseBlanks('{{0}}')).toThrow(BlankSyntaxError);
    expect(() => parseBlanks(`{{${MAX_BLANK_TOKENS + 1}}}`)).toThrow(/1 to 1024/);
    expect(() => parseBlanks('{{99999999999999999999}}')).toThrow(BlankSyntaxError);
  });

  it('leaves malformed braces as text', () => {
    expect(parseBlanks('{{x}} {{}} {3} {{-2}}')).toEqual([t('{{x}} {{}} {3} {{-2}}')]);
  });

  it('handles escapes: odd backslashes make a literal blank, pairs are one backslash', () => {
    expect(parseBlanks('\\____')).toEqual([t('____')]);
    expect(parseBlanks('\\\\____')).toEqual([t('\\'), b()]);
    expect(parseBlanks('\\\\\\____')).toEqual([t('\\____')]);
    expect(parseBlanks('a\\{{5}}b')).toEqual([t('a{{5}}b')]);
    expect(parseBlanks('C:\\dir\\file')).toEqual([t('C:\\dir\\file')]);
  });

  it('keeps adjacent blanks apart and merges text around escapes', () => {
    expect(parseBlanks('____{{3}}')).toEqual([b(), b(3)]);
    expect(parseBlanks('a \\____ b ____')).toEqual([t('a ____ b '), b()]);
    expect(parseBlanks('')).toEqual([]);
  });

  it('counts blanks', () => {
    expect(countBlanks('____ and {{2}} but not \\____')).toBe(2);
    expect(countBlanks('none')).toBe(0);
  });
});

describe('formatBlanks', () => {
  it('writes auto and exact blanks', () => {
    expect(formatBlanks([t('a '), b(), t(' b '), b(7), t(' c '), b(16)])).toBe('a ____ b {{7}} c {{16}}');
    expect(blankToken('auto')).toBe('____');
    expect(blankToken(2)).toBe('{{2}}');
    expect(blankToken(16)).toBe('{{16}}');
  });

  it('reads {{auto}} as an auto blank and knows the lengths', () => {
    expect(parseBlanks('a {{auto}} b {{ auto }}')).toEqual([t('a '), b(), t(' b '), b()]);
    expect(parseBlanks('{{Auto}}')).toEqual([t('{{Auto}}')]);
    expect([isBlankLength('auto'), isBlankLength(1), isBlankLength(MAX_BLANK_TOKENS), isBlankLength(0), isBlankLength(2.5), isBlankLength('16')]).toEqual([
      true,
      true,
      true,
      false,
      false,
      false,
    ]);
  });

  it('uses the explicit form where underscores touch a blank', () => {
    expect(formatBlanks([t('snake_'), b()])).toBe('snake_{{auto}}');
    expect(formatBlanks([b(), t('_case')])).toBe('{{auto}}_case');
    expect(formatBlanks([b(), b()])).toBe('____{{auto}}');
    expect(formatBlanks([t('snake_'), b(16)])).toBe('snake_{{16}}');
  });

  it('escapes literal blanks and backslashes before blanks', () => {
    expect(formatBlanks([t('____ and {{3}}')])).toBe('\\____ and \\{{3}}');
    expect(formatBlanks([t('dir\\'), b()])).toBe('dir\\\\____');
    expect(formatBlanks([t('\\____')])).toBe('\\\\\\____');
  });

  const cases: Segment[][] = [
    [t('plain text, no blanks')],
    [t('a '), b(), t(' b')],
    [t('ends with backslash\\'), b(3), t('\\\\ two more')],
    [t('x_'), b(), t('_y'), b(2), t('__')],
    [t('literal ____ and \\____ and {{4}} and \\{{4}}'), b(1)],
    [b(), b(5), b()],
    [t('___'), b(), t('___')],
    [t('{{'), b(2), t('}}')],
  ];
  it.each(cases.map((c) => [formatBlanks(c), c] as const))('round trips %j', (_text, segments) => {
    expect(parseBlanks(formatBlanks(segments))).toEqual(segments);
  });

  it('round trips random texts built from the syntax characters', () => {
    // A fixed pseudo-random sequence (LCG) so that a failure is reproducible.
    let state = 12345;
    const next = (n: number): number => {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      return (state >>> 8) % n;
    };
    const alphabet = ['_', '_', '_', '\\', '{', '}', '{{', '}}', '3', ' ', 'a', '____', '{{2}}'];
    for (let i = 0; i < 2000; i++) {
      let s = '';
      const len = next(12);
      for (let k = 0; k < len; k++) s += alphabet[next(alphabet.length)];
      let segments: Segment[];
      try {
        segments = parseBlanks(s);
      } catch {
        continue;
      }
      const formatted = formatBlanks(segments);
      expect(parseBlanks(formatted), `text ${JSON.stringify(s)} → ${JSON.stringify(formatted)}`).toEqual(segments);
      expect(formatBlanks(parseBlanks(formatted))).toBe(formatted);
    }
  });
});

describe('blank scanning is linear (issue 16)', () => {
  // The reference: the regular expression the scanner replaces (fine on short inputs).
  const REFERENCE = /(\\*)(_{4,}|\{\{\s*(\d+|auto)\s*\}\})/g;
  const reference = (s: string) =>
    [...s.matchAll(REFERENCE)].map((m) => ({ index: m.index, end: m.index + m[0].length, slashes: m[1]!.length, token: m[2]!, length: m[3] }));

  it('finds exactly what the regular expression finds, on random mixes of the syntax', () => {
    const alphabet = ['\\', '_', '{', '}', ' ', '\t', '1', '9', 'auto', 'a', '\n', '\u00a0', '{{', '}}', '____'];
    let seed = 7;
    const rand = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    for (let k = 0; k < 5000; k++) {
      let s = '';
      const len = rand(24);
      for (let i = 0; i < len; i++) s += alphabet[rand(alphabet.length)];
      expect([...blankMatches(s)], JSON.stringify(s)).toEqual(reference(s));
    }
  });

  it('parses and formats a million backslashes, underscores and braces in any mix (each piece a few times the size of the text, not its square)', () => {
    const N = 1_000_000;
    const mixes = [
      '\\'.repeat(N),
      `${'\\'.repeat(N)}x____`,
      '\\_'.repeat(N / 2),
      '___\\'.repeat(N / 4),
      `{{${' '.repeat(N)}`,
      `{{${'1'.repeat(N)}`,
      '{{ {'.repeat(N / 4),
      '\\{{1}'.repeat(N / 5),
      '_'.repeat(N),
    ];
    for (const text of mixes) {
      const segments = parseBlanks(text);
      // Round trip: the formatted text reads back as the same segments.
      expect(parseBlanks(formatBlanks(segments))).toEqual(segments);
      expect(countBlanks(text)).toBe(segments.filter((x) => x.kind === 'blank').length);
    }
    expect(countBlanks('_'.repeat(N))).toBe(1);
    expect(countBlanks(`${'\\'.repeat(N)}____`)).toBe(1); // an even run: N/2 literal backslashes, then a blank
  });
});
