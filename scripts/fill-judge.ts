/**
 * The fill benchmark's judge (issue 14): an autoregressive model that did not write the fill —
 * models/judge/ar-twin.onnx, the AR twin of lacuna-mini (models/train/export_judge.py; step,
 * held-out perplexity and hash in models/judge/judge.json) — scores how plausible a fill is in its
 * place: the mean negative log-likelihood per token of the fill's tokens and the first 8 tokens
 * of the right side, read after the left side.
 *
 * The text left + fill + right is tokenised as one string (the fill as the writer's text would
 * hold it: a glued word is one odd word, not two tidy tokens), so the scored tokens are those that
 * overlap the fill's bytes, then the next 8. The judge reads BOS (the MASK id, as in training)
 * and at most its trained length minus one tokens ending with the last scored one (the left side is
 * cut from its start).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { ortOffline } from '../src-main/engine/runtime/ort-offline';
import { Tokenizer } from '../src-main/engine/model/tokenizer';

export const RIGHT_TOKENS = 8;

export interface JudgeInfo {
  file: string;
  sha256: string;
  bytes: number;
  step: number | null;
  tokens_seen: number | null;
  source_run: string;
  tokenizer: string;
  io: { bos_id: number; trained_length: number };
  held_out: { nats_per_token: number; ppl: number; blocks: number } | null;
}

export interface JudgeScore {
  /** Mean NLL per scored token (nats). */
  nll: number;
  /** Tokens scored (fill tokens + up to 8 of the right side). */
  tokens: number;
  /** Of those, the fill's. */
  fillTokens: number;
  /** Tokens of left context cut off to fit the judge's length. */
  cut: number;
}

export class Judge {
  private constructor(
    private readonly session: InferenceSession,
    readonly info: JudgeInfo,
    readonly tokenizer: Tokenizer,
    /** UTF-8 bytes of each token id. */
    private readonly tokenBytes: Int32Array,
  ) {}

  /** Loads models/judge (judge.json, the ONNX file, the tokenizer it names) from the repository root `root`. */
  static async load(root: string, dir = join(root, 'models', 'judge'), threads = 1): Promise<Judge> {
    const info = JSON.parse(readFileSync(join(dir, 'judge.json'), 'utf8')) as JudgeInfo;
    const tokPath = join(root, info.tokenizer);
    const tokenizer = await Tokenizer.fromFile(tokPath);
    const vocab = (JSON.parse(readFileSync(tokPath, 'utf8')) as { model: { vocab: Record<string, number> } }).model.vocab;
    const tokenBytes = new Int32Array(tokenizer.size);
    for (const [tok, id] of Object.entries(vocab)) tokenBytes[id] = [...tok].length; // byte-level: one character per byte
    ortOffline();
    const session = await InferenceSession.create(join(dir, info.file), {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionProviders: ['cpu'],
    });
    return new Judge(session, info, tokenizer, tokenBytes);
  }

  /** The judge's NLL of `fill` between `left` and `right` (see the module comment). */
  async score(left: string, fill: string, right: string): Promise<JudgeScore> {
    const ids = this.tokenizer.encode(left + fill + right);
    const startByte = Buffer.byteLength(left);
    const endByte = startByte + Buffer.byteLength(fill);
    let pos = 0;
    let first = -1;
    let lastFill = -1;
    for (let i = 0; i < ids.length; i++) {
      const end = pos + this.tokenBytes[ids[i]!]!;
      if (first < 0 && end > startByte) first = i;
      if (pos < endByte && end > startByte) lastFill = i;
      pos = end;
    }
    if (first < 0) first = ids.length; // nothing after the left side (an empty continuation)
    const fillTokens = lastFill >= first ? lastFill - first + 1 : 0;
    const stop = Math.min(ids.length, first + fillTokens + RIGHT_TOKENS);
    const scored = stop - first;
    if (scored <= 0) return { nll: NaN, tokens: 0, fillTokens: 0, cut: 0 };
    const room = this.info.io.trained_length - 1;
    const begin = Math.max(0, stop - room);
    if (begin > first) throw new Error(`the fill and ${RIGHT_TOKENS} right tokens (${scored}) do not fit the judge's ${room} tokens`);
    const input = [this.info.io.bos_id, ...ids.slice(begin, stop)];
    const L = input.length;
    const out = await this.session.run({
      input_ids: new Tensor(
        'int64',
        BigInt64Array.from(input, (v) => BigInt(v)),
        [1, L],
      ),
    });
    const lp = out.log_probs!;
    const V = lp.dims[2]!;
    const data = lp.data as Float32Array;
    let sum = 0;
    // input[k] = ids[begin + k - 1]; the row at k predicts ids[begin + k]
    for (let t = first; t < stop; t++) {
      const k = t - begin;
      sum -= data[k * V + ids[t]!]!;
    }
    return { nll: sum / scored, tokens: scored, fillTokens, cut: begin };
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}
