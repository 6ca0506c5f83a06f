import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { appRoot } from '../../platform/paths';
import { inspectTokenizer } from './tokenizer-inspect';
import { Tokenizer } from './tokenizer';

const dir = mkdtempSync(join(tmpdir(), 'lacuna-tok-inspect-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('inspectTokenizer (worker thread)', () => {
  it("gives the same size and end-of-text id as the tokenizer itself, and the tokenizer's own errors", async () => {
    for (const path of [join(appRoot(), 'models', 'gpt2', 'tokenizer.json'), join(appRoot(), 'models', 'lacuna-mini', 'tokenizer.json')]) {
      const tok = await Tokenizer.fromFile(path);
      expect(await inspectTokenizer(path)).toEqual({ size: tok.size, eosId: tok.tokenId('<|endoftext|>') ?? null });
    }
    const broken = join(dir, 'tokenizer.json');
    writeFileSync(broken, '{"model": {"vocab": {"a": 0}, "merges": [');
    await expect(inspectTokenizer(broken)).rejects.toThrow(/is not valid JSON \(it ends too early\)/);
    await expect(inspectTokenizer(join(dir, 'none.json'))).rejects.toThrow(/ENOENT|no such file|cannot read/i);
    await expect(inspectTokenizer(broken, join(dir, 'missing-worker.js'))).rejects.toMatchObject({ code: 'internal' });
  });
});
