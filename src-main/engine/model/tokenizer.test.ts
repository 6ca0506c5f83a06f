import { describe, expect, it } from 'vitest';
import { Random } from '../random';
import { bytesToUnicode, preTokenize, Tokenizer } from './tokenizer';
import { fixtureFile, fixtureJson } from '../test-fixture';

interface Case {
  text: string;
  ids: number[];
  pre_tokens?: string[];
}
interface Cases {
  eos_id: number;
  cases: Case[];
  special_cases: Case[];
}
interface Json {
  model: { vocab: Record<string, number>; merges: [string, string][] };
  added_tokens: { id: number; content: string }[];
  pre_tokenizer: Record<string, unknown>;
}

const json = fixtureJson<Json>('tokenizer.json');
const golden = fixtureJson<Cases>('tokenizer-cases.json');

describe('Tokenizer on the fixture tokenizer.json', () => {
  const tok = new Tokenizer(json);

  it('has the fixture vocabulary: 510 tokens and <|endoftext|>', () => {
    expect(tok.size).toBe(511);
    expect(tok.tokenId('<|endoftext|>')).toBe(golden.eos_id);
  });

  it.each(golden.cases.map((c) => [JSON.stringify(c.text).slice(0, 60), c] as const))('encodes %s exactly as the reference', (_name, c) => {
    if (c.pre_tokens) expect(preTokenize(c.text)).toEqual(c.pre_tokens);
    expect(tok.encode(c.text)).toEqual(c.ids);
    expect(tok.decode(c.ids)).toBe(c.text);
  });

  it('matches added tokens only when asked (HF behaviour)', () => {
    expect(golden.special_cases.length).toBeGreaterThan(0);
    for (const c of golden.special_cases) {
      expect(tok.encode(c.text, { allowSpecial: true })).toEqual(c.ids);
      expect(tok.decode(c.ids)).toBe(c.text);
      expect(tok.encode(c.text)).not.toContain(golden.eos_id);
      expect(tok.decode(tok.encode(c.text))).toBe(c.text);
    }
  });

  it('round trips varied Unicode exactly', () => {
    const rng = new Random(7);
    const pools: [number, number][] = [
      [0x20, 0x7e], // ASCII
      [0x00, 0x1f], // controls
      [0xa0, 0x24f], // Latin-1, Latin extended
      [0x300, 0x36f], // combining marks
      [0x590, 0x6ff], // Hebrew, Arabic
      [0x2000, 0x206f], // general punctuation, odd spaces
      [0x3000, 0x30ff], // CJK punctuation, kana
      [0x4e00, 0x9fff], // CJK
      [0xac00, 0xd7a3], // Hangul
      [0xfe00, 0xffff], // specials, BOM, variation selectors
      [0x1f300, 0x1faff], // emoji
      [0x10000, 0x10ffff], // astral planes
    ];
    for (let n = 0; n < 300; n++) {
      const cps: number[] = [];
      const len = Math.floor(rng.uniform() * 40);
      for (let k = 0; k < len; k++) {
        const [lo, hi] = pools[Math.floor(rng.uniform() * pools.length)]!;
        let cp = lo + Math.floor(rng.uniform() * (hi - lo + 1));
        if (cp >= 0xd800 && cp <= 0xdfff) cp = 0x20;
        cps.push(cp);
        if (rng.uniform() < 0.2) cps.push(0x20);
      }
      const s = String.fromCodePoint(...cps);
      expect(tok.decode(tok.encode(s))).toBe(s);
    }
  });

  it('keeps a leading byte-order mark and replaces lone surrogates', () => {
    expect(tok.decode(tok.encode('\uFEFFhello'))).toBe('\uFEFFhello');
    expect(tok.decode(tok.encode('a\uD800b'))).toBe('a\uFFFDb');
  });

  it('handles 100k characters, with and without spaces', () => {
    const long = 'x'.repeat(50_000) + '-'.repeat(50_000);
    expect(tok.decode(tok.encode(long))).toBe(long);
    const prose = 'The quick brown fox jumps over the lazy dog, twice; naïve café 😀\n'.repeat(1600);
    expect(prose.length).toBeGreaterThan(100_000);
    const ids = tok.encode(prose);
    expect(tok.decode(ids)).toBe(prose);
  });

  it('merges exactly like GPT-2’s reference loop', () => {
    const ranks = new Map(json.model.merges.map(([a, b], r) => [`${a} ${b}`, r]));
    const byteChar = bytesToUnicode();
    const enc = new TextEncoder();
    const reference = (text: string): number[] =>
      preTokenize(text).flatMap((piece) => {
        let word = Array.from(enc.encode(piece), (x) => byteChar[x]!);
        for (;;) {
          let best = -1;
          let bestRank = Infinity;
          for (let i = 0; i + 1 < word.length; i++) {
            const r = ranks.get(`${word[i]} ${word[i + 1]}`);
            if (r !== undefined && r < bestRank) [best, bestRank] = [i, r];
          }
          if (best < 0) break;
          const [a, b] = [word[best]!, word[best + 1]!];
          const merged: string[] = [];
          for (let i = 0; i < word.length; i++) {
            if (i + 1 < word.length && word[i] === a && word[i + 1] === b) {
              merged.push(a + b);
              i++;
            } else merged.push(word[i]!);
          }
          word = merged;
        }
        return word.map((w) => json.model.vocab[w]!);
      });
    const rng = new Random(11);
    const letters = "ethaoinsrdlu  \n.,'-";
    for (let n = 0; n < 500; n++) {
      let s = '';
      const len = Math.floor(rng.uniform() * 60);
      for (let k = 0; k < len; k++) s += letters[Math.floor(rng.uniform() * letters.length)];
      expect(tok.encode(s), JSON.stringify(s)).toEqual(reference(s));
    }
  });

  it('reads merges written as "a b" strings the same as pairs', () => {
    const asStrings = { ...json, model: { ...json.model, merges: json.model.merges.map(([a, b]) => `${a} ${b}`) } };
    const other = new Tokenizer(asStrings);
    const text = golden.cases.map((c) => c.text).join('\n');
    expect(other.encode(text)).toEqual(tok.encode(text));
  });

  it('applies merges by rank, not by order of appearance', () => {
    const vocab: Record<string, number> = {};
    bytesToUnicode().forEach((c, i) => (vocab[c] = i));
    vocab.ab = 256;
    vocab.bc = 257;
    const make = (merges: string[]): Tokenizer => new Tokenizer({ ...json, added_tokens: [], model: { type: 'BPE', vocab, merges } });
    expect(make(['a b', 'b c']).encode('abc')).toEqual([256, vocab.c]);
    expect(make(['b c', 'a b']).encode('abc')).toEqual([vocab.a, 257]);
  });

  it('loads from a file', async () => {
    const fromFile = await Tokenizer.fromFile(fixtureFile('tokenizer.json'));
    expect(fromFile.encode('Hello, world!')).toEqual(tok.encode('Hello, world!'));
  });
});

describe('Tokenizer validation', () => {
  it('names what is wrong with a tokenizer.json', () => {
    const vocab = { ...json.model.vocab };
    delete vocab['Ġ'];
    expect(() => new Tokenizer({ ...json, model: { ...json.model, vocab, merges: [] } })).toThrow(/lacks byte 0x20/);
    expect(() => new Tokenizer({ ...json, model: { ...json.model, merges: ['nonsense'] } })).toThrow(/merge 0 "nonsense"/);
    expect(() => new Tokenizer({ ...json, model: { ...json.model, merges: [['q', 'z']] } })).toThrow(/missing from the vocabulary/);
    expect(() => new Tokenizer({ ...json, model: { ...json.model, type: 'WordPiece' } })).toThrow(/model\.type/);
    expect(() => new Tokenizer({ ...json, pre_tokenizer: { type: 'Whitespace' } })).toThrow(/ByteLevel/);
  });

  it('rejects an id outside the vocabulary when decoding', () => {
    expect(() => new Tokenizer(json).decode([511])).toThrow(/not in the vocabulary/);
  });
});
