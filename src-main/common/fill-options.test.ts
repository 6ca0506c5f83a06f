/** The options table is the one home of the fill's rules: the contract and the engine's checks agree with it at every edge. */
import { describe, expect, it } from 'vitest';
import { FillRequest, ScoreRequest } from './api';
import { FILL_OPTIONS, optionProblem, optionsProblem, randomSeed, SCORE_OPTIONS, type ChoiceOption, type NumberOption } from './fill-options';

/** Values at and just past each edge of an option, with whether the option accepts them. */
function edges(o: NumberOption | ChoiceOption): { value: unknown; ok: boolean }[] {
  if (o.kind === 'choice') return [...o.values.map((value) => ({ value, ok: true })), { value: 'nosuch', ok: false }, { value: 1, ok: false }];
  const step = o.kind === 'integer' ? 1 : 0.01;
  const cases = [
    { value: o.min, ok: true },
    { value: o.max, ok: true },
    { value: o.min - step, ok: false },
    { value: o.max + step, ok: false },
    { value: String(o.min), ok: false },
    { value: Number.NaN, ok: false },
  ];
  if (o.kind === 'integer') cases.push({ value: o.min + 0.5, ok: false });
  return cases;
}

const base = {
  fill: { requestId: 'r', text: 'The ____ sat.' },
  score: { text: 'The cat sat.' },
};

describe('fill and score options', () => {
  for (const [kind, table, schema] of [
    ['fill', FILL_OPTIONS, FillRequest],
    ['score', SCORE_OPTIONS, ScoreRequest],
  ] as const) {
    for (const [name, o] of Object.entries(table)) {
      it(`${kind} ${name}: the contract's schema and the engine's check accept the same values`, () => {
        for (const { value, ok } of edges(o)) {
          const request = { ...base[kind], [name]: value };
          expect(schema.safeParse(request).success, `${name} = ${String(value)} (contract)`).toBe(ok);
          expect(optionProblem(table, name, value) === undefined, `${name} = ${String(value)} (check)`).toBe(ok);
        }
        expect(optionProblem(table, name, undefined)).toBeUndefined();
      });
    }
  }

  it('names the option, its range and the value given', () => {
    expect(optionsProblem(FILL_OPTIONS, { steps: 10, topP: 2 })).toBe('topP must be a number from 0.05 to 1, got 2');
    expect(optionsProblem(FILL_OPTIONS, { steps: 0 })).toBe('steps must be a whole number from 1 to 4096, got 0');
    expect(optionsProblem(FILL_OPTIONS, { device: 'tpu' })).toBe('device must be one of auto, cpu, cuda, dml, coreml, webgpu, remote, got "tpu"');
    expect(optionsProblem(SCORE_OPTIONS, { draws: 16, seed: 7 })).toBeUndefined();
  });

  it('draws a missing seed from the whole seed range', () => {
    expect(randomSeed(() => 0)).toBe(FILL_OPTIONS.seed.min);
    expect(randomSeed(() => 1 - 2 ** -53)).toBe(FILL_OPTIONS.seed.max);
    for (let i = 0; i < 100; i++) expect(optionProblem(FILL_OPTIONS, 'seed', randomSeed())).toBeUndefined();
  });
});
