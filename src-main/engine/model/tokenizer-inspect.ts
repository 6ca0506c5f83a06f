/**
 * What a model import needs to know of a tokenizer.json (its size and end-of-text id), worked out
 * on a worker thread (tokenizer-worker.ts) so that a large or hostile file never blocks the thread
 * that serves the window or the web front. The error, when the file is not a usable tokenizer, is
 * the tokenizer's own message (Tokenizer.fromFile: limits, JSON position, missing parts).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { ApiError } from '../../common/api';
import { appRoot } from '../../platform/paths';

export interface TokenizerFacts {
  size: number;
  eosId: number | null;
}

export function defaultTokenizerWorkerPath(): string {
  return join(appRoot(), 'out', 'main', 'tokenizer-worker.js');
}

export function inspectTokenizer(path: string, workerPath: string = defaultTokenizerWorkerPath()): Promise<TokenizerFacts> {
  if (!existsSync(workerPath)) {
    return Promise.reject(new ApiError('internal', `the tokenizer worker ${workerPath} is missing; build it first (npm run build)`));
  }
  return new Promise<TokenizerFacts>((resolve, reject) => {
    const worker = new Worker(workerPath, { workerData: path });
    let answered = false;
    worker.once('message', (m: { ok: true; facts: TokenizerFacts } | { ok: false; message: string }) => {
      answered = true;
      if (m.ok) resolve(m.facts);
      else reject(new Error(m.message));
      void worker.terminate();
    });
    worker.once('error', (err) => {
      answered = true;
      reject(err);
    });
    worker.once('exit', (code) => {
      if (!answered) reject(new Error(`the tokenizer check stopped unexpectedly (exit code ${code})`));
    });
  });
}
