/**
 * Entry point of a one-shot worker thread (built to out/main/tokenizer-worker.js; started by
 * inspectTokenizer in tokenizer-inspect.ts): reads and checks a tokenizer.json off the calling
 * thread. A tokenizer may be up to 64 MiB (model/limits.ts); parsing and checking one that large
 * took 4.4 s here, which in the desktop app would freeze the window during a model import.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Tokenizer } from './tokenizer';
import type { TokenizerFacts } from './tokenizer-inspect';

Tokenizer.fromFile(String(workerData)).then(
  (tok) => parentPort?.postMessage({ ok: true, facts: { size: tok.size, eosId: tok.tokenId('<|endoftext|>') ?? null } satisfies TokenizerFacts }),
  (err: unknown) => parentPort?.postMessage({ ok: false, message: err instanceof Error ? err.message : String(err) }),
);
