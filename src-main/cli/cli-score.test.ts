/**
 * `lacuna score` through the real built CLI (node bin/lacuna.js; `npm test` builds first, or run
 * `npx electron-vite build`), against the tiny fixture model, each run with its own LACUNA_DATA_DIR.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScoreResult } from '../common/api';
import { ROOT, runLacuna, type Outcome } from './cli-test-support';

const FIXTURE = join(ROOT, 'models', 'fixtures', 'tiny-fixture');
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function lacuna(args: string[]): Promise<Outcome> {
  const dataDir = mkdtempSync(join(tmpdir(), 'lacuna-score-'));
  dirs.push(dataDir);
  return runLacuna(args, { dataDir });
}

const TEXT = 'The lighthouse keeper had not spoken to anyone in weeks.';

describe('lacuna score', () => {
  it('prints the perplexity bound and the 10 most surprising tokens', async () => {
    const o = await lacuna(['score', '--model', FIXTURE, '--draws', '3', '--seed', '7', TEXT]);
    expect(o.stderr).toBe('');
    expect(o.code).toBe(0);
    const lines = o.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^perplexity ≤ [\d.e+]+ \(.*nats\/token, \d+ tokens, 3 draws, seed 7, model tiny-fixture\)$/);
    expect(lines[1]).toBe('most surprising tokens (nats):');
    expect(lines.length).toBe(12);
  });

  it('--json gives everything, deterministic for a seed; --file reads a file', async () => {
    const a = await lacuna(['score', '--model', FIXTURE, '--draws', '2', '--seed', '3', '--json', TEXT]);
    expect(a.code).toBe(0);
    const r = ScoreResult.parse(JSON.parse(a.stdout));
    expect(r.model).toBe('tiny-fixture');
    expect(r.draws).toBe(2);
    expect(r.perToken.length).toBe(r.tokens);
    expect(r.perToken.map((t) => t.text).join('')).toBe(TEXT);
    expect(r.perplexityBound).toBeCloseTo(Math.exp(r.nll / r.tokens), 8);
    const file = join(dirs[0]!, 'text.txt');
    writeFileSync(file, TEXT);
    const b = ScoreResult.parse(JSON.parse((await lacuna(['score', '--model', FIXTURE, '--draws', '2', '--seed', '3', '--json', '--file', file])).stdout));
    expect(b.nll).toBe(r.nll);
  });

  it('usage errors exit 2 with one line', async () => {
    const o = await lacuna(['score', '--draws', '0', 'x']);
    expect(o.code).toBe(2);
    expect(o.stderr).toMatch(/^lacuna: --draws must be a whole number/);
  });
});
