/**
 * GPT-2-style byte-level BPE, read from a Hugging Face `tokenizer.json` (models/FORMAT.md).
 *
 * encode: split out added tokens (e.g. <|endoftext|>) → split the rest with GPT-2's pattern →
 * map each piece's UTF-8 bytes to the printable byte alphabet → apply merges by rank → ids.
 * decode: ids → token strings → bytes → UTF-8. decode(encode(s)) === s for every well-formed
 * string (lone UTF-16 surrogates become U+FFFD, as in any UTF-8 round trip).
 */
import { z } from 'zod';
import { parseJsonText } from '../../common/json-text';
import { readModelJson } from './limits';

/**
 * GPT-2's pre-tokenizer pattern. `\s` is written as `\p{White_Space}`, the set Oniguruma
 * (Hugging Face tokenizers) and models/sedd/tokenizer.py use: JavaScript's own `\s` also matches
 * U+FEFF and misses U+0085, which would split some texts differently from the reference.
 */
const GPT2_PATTERN = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\p{White_Space}\p{L}\p{N}]+|\p{White_Space}+(?!\P{White_Space})|\p{White_Space}+/gu;

/** Split text into GPT-2 pre-tokens (their concatenation is the text). */
export function preTokenize(text: string): string[] {
  return Array.from(text.matchAll(GPT2_PATTERN), (m) => m[0]);
}

/** GPT-2's reversible map from bytes to printable characters (bytes_to_unicode in encoder.py). */
export function bytesToUnicode(): string[] {
  const keep: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) keep.push(b);
  for (let b = 0xa1; b <= 0xac; b++) keep.push(b);
  for (let b = 0xae; b <= 0xff; b++) keep.push(b);
  const map: string[] = new Array<string>(256);
  for (const b of keep) map[b] = String.fromCharCode(b);
  let n = 0;
  for (let b = 0; b < 256; b++) if (map[b] === undefined) map[b] = String.fromCharCode(256 + n++);
  return map;
}

const AddedToken = z.object({
  id: z.number().int().nonnegative(),
  content: z.string().min(1),
  special: z.boolean().optional(),
  lstrip: z.boolean().optional(),
  rstrip: z.boolean().optional(),
  single_word: z.boolean().optional(),
  normalized: z.boolean().optional(),
});

const TokenizerJson = z.object({
  added_tokens: z.array(AddedToken).nullish(),
  normalizer: z.object({ type: z.string() }).passthrough().nullish(),
  pre_tokenizer: z.object({ type: z.string(), add_prefix_space: z.boolean().optional(), use_regex: z.boolean().optional() }).passthrough().nullish(),
  model: z.object({
    type: z.literal('BPE'),
    vocab: z.record(z.string(), z.number().int().nonnegative()),
    merges: z.array(z.union([z.string(), z.tuple([z.string(), z.string()])])),
    ignore_merges: z.boolean().optional(),
    continuing_subword_prefix: z.string().nullish(),
    end_of_word_suffix: z.string().nullish(),
    dropout: z.number().nullish(),
  }),
});
export type TokenizerJson = z.input<typeof TokenizerJson>;

interface Special {
  id: number;
  content: string;
  lstrip: boolean;
  rstrip: boolean;
}

const CACHE_LIMIT = 50_000;
const CACHE_MAX_PIECE = 128;

export class Tokenizer {
  /** One more than the largest id (vocabulary and added tokens). */
  readonly size: number;
  private readonly vocab: Map<string, number>;
  private readonly tokens: (string | undefined)[];
  /** merge rank by "left\u0000right" */
  private readonly ranks: Map<string, number>;
  private readonly specials: Special[];
  private readonly specialById: Map<number, string>;
  private readonly specialRe: RegExp | null;
  private readonly byteChar: string[];
  private readonly charByte: Map<string, number>;
  private readonly addPrefixSpace: boolean;
  private readonly useRegex: boolean;
  private readonly ignoreMerges: boolean;
  private readonly cache = new Map<string, number[]>();
  private readonly encoder = new TextEncoder();
  private readonly decoder = new TextDecoder('utf-8', { ignoreBOM: true });

  constructor(json: unknown, source = 'tokenizer.json') {
    const parsed = TokenizerJson.safeParse(json);
    if (!parsed.success) {
      const i = parsed.error.issues[0]!;
      throw new Error(`${source}: ${i.path.join('.') || '(root)'}: ${i.message}`);
    }
    const t = parsed.data;
    if (t.model.continuing_subword_prefix || t.model.end_of_word_suffix) {
      throw new Error(`${source}: BPE with a subword prefix or suffix is not byte-level BPE`);
    }
    if (t.model.dropout) throw new Error(`${source}: BPE dropout is for training; set model.dropout to null`);
    if (t.normalizer) throw new Error(`${source}: normalizer "${t.normalizer.type}" is not supported (byte-level BPE needs none)`);
    const pre = t.pre_tokenizer;
    if (!pre || pre.type !== 'ByteLevel') {
      throw new Error(`${source}: pre_tokenizer must be ByteLevel (found ${pre ? `"${pre.type}"` : 'none'})`);
    }
    this.addPrefixSpace = pre.add_prefix_space ?? false;
    this.useRegex = pre.use_regex ?? true;
    this.ignoreMerges = t.model.ignore_merges ?? false;

    this.byteChar = bytesToUnicode();
    this.charByte = new Map(this.byteChar.map((c, b) => [c, b]));

    this.vocab = new Map(Object.entries(t.model.vocab));
    let size = 0;
    for (const id of this.vocab.values()) size = Math.max(size, id + 1);
    for (const a of t.added_tokens ?? []) size = Math.max(size, a.id + 1);
    this.size = size;
    this.tokens = new Array<string | undefined>(size);
    for (const [tok, id] of this.vocab) {
      if (this.tokens[id] !== undefined) throw new Error(`${source}: id ${id} is used by two tokens`);
      this.tokens[id] = tok;
    }
    for (const [b, c] of this.byteChar.entries()) {
      if (!this.vocab.has(c))
        throw new Error(`${source}: the vocabulary lacks byte 0x${b.toString(16).padStart(2, '0')} ("${c}"), so some texts cannot be encoded`);
    }

    this.ranks = new Map();
    t.model.merges.forEach((m, rank) => {
      let pair: [string, string];
      if (typeof m === 'string') {
        const parts = m.split(' ');
        if (parts.length !== 2 || !parts[0] || !parts[1]) throw new Error(`${source}: merge ${rank} "${m}" is not two tokens separated by one space`);
        pair = [parts[0], parts[1]];
      } else {
        pair = m;
      }
      if (!this.vocab.has(pair[0] + pair[1])) throw new Error(`${source}: merge ${rank} "${pair[0]} ${pair[1]}" makes a token missing from the vocabulary`);
      const key = pair[0] + '\u0000' + pair[1];
      if (!this.ranks.has(key)) this.ranks.set(key, rank);
    });

    this.specials = (t.added_tokens ?? []).map((a) => ({ id: a.id, content: a.content, lstrip: !!a.lstrip, rstrip: !!a.rstrip }));
    this.specialById = new Map(this.specials.map((s) => [s.id, s.content]));
    const alternatives = [...this.specials].sort((a, b) => b.content.length - a.content.length).map((s) => escapeRegExp(s.content));
    this.specialRe = alternatives.length ? new RegExp(alternatives.join('|'), 'gu') : null;
  }

  static async fromFile(path: string): Promise<Tokenizer> {
    const text = await readModelJson(path);
    return new Tokenizer(parseJsonText(text, path), path);
  }

  /** The ids of the added (special) tokens, such as "<|endoftext|>". */
  specialIds(): number[] {
    return this.specials.map((s) => s.id);
  }

  /** The id of a token string (vocabulary or added token), if any. */
  tokenId(token: string): number | undefined {
    return this.vocab.get(token) ?? this.specials.find((s) => s.content === token)?.id;
  }

  /**
   * Text → ids. By default added-token strings such as "<|endoftext|>" are ordinary text (right for
   * user text); with allowSpecial they are matched first and become their ids, as Hugging Face
   * tokenizers does.
   */
  encode(text: string, options: { allowSpecial?: boolean } = {}): number[] {
    const ids: number[] = [];
    if (!this.specialRe || !options.allowSpecial) {
      this.encodeOrdinary(text, ids);
      return ids;
    }
    let last = 0;
    for (const m of text.matchAll(this.specialRe)) {
      const special = this.specials.find((s) => s.content === m[0])!;
      let start = m.index;
      let end = start + m[0].length;
      if (special.lstrip) while (start > last && isWhitespace(text[start - 1]!)) start--;
      if (special.rstrip) while (end < text.length && isWhitespace(text[end]!)) end++;
      this.encodeOrdinary(text.slice(last, start), ids);
      ids.push(special.id);
      last = end;
    }
    this.encodeOrdinary(text.slice(last), ids);
    return ids;
  }

  decode(ids: ArrayLike<number>): string {
    const bytes: number[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      const special = this.specialById.get(id);
      if (special !== undefined) {
        for (const b of this.encoder.encode(special)) bytes.push(b);
        continue;
      }
      const tok = this.tokens[id];
      if (tok === undefined) throw new RangeError(`token id ${id} is not in the vocabulary`);
      for (const c of tok) {
        const b = this.charByte.get(c);
        if (b === undefined) throw new RangeError(`token ${id} ("${tok}") is not byte-level`);
        bytes.push(b);
      }
    }
    return this.decoder.decode(Uint8Array.from(bytes));
  }

  private encodeOrdinary(text: string, ids: number[]): void {
    if (!text) return;
    if (this.addPrefixSpace && !text.startsWith(' ')) text = ' ' + text;
    if (!this.useRegex) {
      for (const id of this.encodePiece(text)) ids.push(id);
      return;
    }
    for (const m of text.matchAll(GPT2_PATTERN)) for (const id of this.encodePiece(m[0])) ids.push(id);
  }

  /** One pre-token → ids, memoised for short pieces. */
  private encodePiece(piece: string): number[] {
    const cached = this.cache.get(piece);
    if (cached) return cached;
    let chars = '';
    for (const b of this.encoder.encode(piece)) chars += this.byteChar[b]!;
    let ids: number[];
    const whole = this.ignoreMerges ? this.vocab.get(chars) : undefined;
    if (whole !== undefined) ids = [whole];
    else ids = this.bpe(chars).map((tok) => this.vocab.get(tok)!);
    if (piece.length <= CACHE_MAX_PIECE) {
      if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
      this.cache.set(piece, ids);
    }
    return ids;
  }

  /**
   * Byte-pair merging of one word: repeatedly merge the adjacent pair with the lowest merge rank
   * (leftmost first among equal ranks) until no adjacent pair has a rank. Symbols form a linked
   * list and candidate pairs a binary heap, so a word of n symbols costs O(n log n) — long runs
   * without spaces (URLs, base64, rows of dashes) stay fast. Same result as GPT-2's reference loop,
   * which merges every occurrence of the best pair left to right.
   */
  private bpe(chars: string): string[] {
    const sym = Array.from(chars);
    const n = sym.length;
    if (n < 2) return sym;
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    const alive = new Uint8Array(n).fill(1);
    const heap = new PairHeap();
    const push = (l: number): void => {
      const r = next[l]!;
      if (l < 0 || r < 0) return;
      const rank = this.ranks.get(sym[l]! + '\u0000' + sym[r]!);
      if (rank !== undefined) heap.push(rank, l, r);
    };
    for (let i = 0; i + 1 < n; i++) push(i);
    for (;;) {
      const top = heap.pop();
      if (!top) break;
      const { rank, left: l, right: r } = top;
      // Skip stale entries: a symbol merged away, or a pair that changed since it was queued
      // (a symbol only changes by growing, and each merge rank names one pair).
      if (!alive[l] || !alive[r] || next[l] !== r) continue;
      if (this.ranks.get(sym[l]! + '\u0000' + sym[r]!) !== rank) continue;
      sym[l] = sym[l]! + sym[r]!;
      alive[r] = 0;
      const after = next[r]!;
      next[l] = after;
      if (after >= 0) prev[after] = l;
      push(prev[l]!);
      push(l);
    }
    const out: string[] = [];
    for (let i = 0; i >= 0; i = next[i]!) out.push(sym[i]!);
    return out;
  }
}

/** A binary min-heap of candidate merges ordered by (rank, left position). */
class PairHeap {
  private rank: number[] = [];
  private left: number[] = [];
  private right: number[] = [];

  push(rank: number, left: number, right: number): void {
    this.rank.push(rank);
    this.left.push(left);
    this.right.push(right);
    let i = this.rank.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }

  pop(): { rank: number; left: number; right: number } | undefined {
    const n = this.rank.length;
    if (n === 0) return undefined;
    const top = { rank: this.rank[0]!, left: this.left[0]!, right: this.right[0]! };
    this.swap(0, n - 1);
    this.rank.pop();
    this.left.pop();
    this.right.pop();
    const m = n - 1;
    let i = 0;
    for (;;) {
      const a = 2 * i + 1;
      const b = a + 1;
      let s = i;
      if (a < m && this.less(a, s)) s = a;
      if (b < m && this.less(b, s)) s = b;
      if (s === i) break;
      this.swap(i, s);
      i = s;
    }
    return top;
  }

  private less(i: number, j: number): boolean {
    const ri = this.rank[i]!;
    const rj = this.rank[j]!;
    return ri < rj || (ri === rj && this.left[i]! < this.left[j]!);
  }

  private swap(i: number, j: number): void {
    for (const arr of [this.rank, this.left, this.right]) {
      const t = arr[i]!;
      arr[i] = arr[j]!;
      arr[j] = t;
    }
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'); // syntax characters only: the pattern is compiled with the u flag
}

function isWhitespace(c: string): boolean {
  return /^\p{White_Space}$/u.test(c);
}
