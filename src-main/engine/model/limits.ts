/**
 * What a model package or checkpoint may hold, checked before anything is parsed (issue 16: a
 * 200 MB tokenizer.json held the server for 13 minutes at 1.5 GB; vocab_size 10⁹ failed only deep
 * in the network). Generous for every real model: GPT-2's tokenizer.json is 1.4 MB and its vocabulary
 * 50,257; the largest public vocabularies are about 256 k; sedd-medium is 1,024 wide with 24 blocks.
 */
import { stat, readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { formatBytes } from '../../common/units';

export const MODEL_LIMITS = {
  /** Largest JSON file read, bytes, by file name. */
  jsonBytes: { 'manifest.json': 1 << 20, 'config.json': 1 << 20, 'template.json': 1 << 20, 'tokenizer.json': 64 << 20 } as Readonly<Record<string, number>>,
  vocabSize: 1 << 20,
  length: 1 << 16,
  hiddenSize: 1 << 14,
  blocks: 512,
  heads: 256,
} as const;

export class ModelLimitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelLimitError';
  }
}

/** A model's JSON file as text, refused (ModelLimitError, naming the limit) when it is larger than MODEL_LIMITS allows for its name. */
export async function readModelJson(path: string): Promise<string> {
  const name = basename(path);
  const limit = MODEL_LIMITS.jsonBytes[name] ?? 1 << 20;
  const { size } = await stat(path);
  if (size > limit) throw new ModelLimitError(`${name} is ${formatBytes(size)}; a model's ${name} may be at most ${formatBytes(limit)}`);
  return readFile(path, 'utf8');
}
