import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Judge, RIGHT_TOKENS } from './fill-judge';

const ROOT = join(import.meta.dirname, '..');
const LEFT = 'It was the best of times, it was the worst of times, it was the age of wisdom, it was the ';
const RIGHT = ', it was the epoch of belief, it was the epoch of incredulity, it was the season of Light.';

describe('fill judge (models/judge/ar-twin.onnx)', () => {
  let judge: Judge;
  beforeAll(async () => {
    judge = await Judge.load(ROOT);
  });
  afterAll(async () => {
    await judge?.close();
  });

  it('names its source and scores the fill and 8 right tokens', async () => {
    expect(judge.info.io.bos_id).toBe(8191);
    expect(judge.info.step).toBeGreaterThan(0);
    const s = await judge.score(LEFT, 'age of foolishness', RIGHT);
    expect(s.fillTokens).toBeGreaterThanOrEqual(3);
    expect(s.tokens).toBe(s.fillTokens + RIGHT_TOKENS);
    expect(s.cut).toBe(0);
    expect(s.nll).toBeGreaterThan(0);
    expect(s.nll).toBeLessThan(8);
  });

  it('prefers the real words to the same words shuffled, and to a glued join', async () => {
    const real = await judge.score(LEFT, 'age of foolishness', RIGHT);
    const shuffled = await judge.score(LEFT, 'foolishness age of', RIGHT);
    const glued = await judge.score(LEFT.trimEnd(), 'age of foolishness', RIGHT);
    expect(real.nll).toBeLessThan(shuffled.nll);
    expect(real.nll).toBeLessThan(glued.nll);
  });

  it('cuts a long left side from its start, and gives NaN when nothing is left to score', async () => {
    const long = await judge.score(LEFT.repeat(20), 'age of foolishness', RIGHT);
    expect(long.cut).toBeGreaterThan(0);
    expect(Number.isFinite(long.nll)).toBe(true);
    const empty = await judge.score(LEFT, '', '');
    expect(empty.tokens).toBe(0);
    expect(empty.nll).toBeNaN();
    const continuation = await judge.score(LEFT, 'age of foolishness', '');
    expect(continuation.tokens).toBe(continuation.fillTokens);
  });
});
