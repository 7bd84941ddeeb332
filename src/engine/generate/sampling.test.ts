import { describe, expect, it } from 'vitest';
import { Rng } from '../util/rng.js';
import { GREEDY, sampleToken, validateSampling } from './sampling.js';

const logits = Float32Array.from([1, 5, 3, 4.9, -2]);
const draw = (o: object, n = 400) => {
  const r = new Rng(1);
  const seen = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const t = sampleToken(logits, { ...GREEDY, ...o }, [], r);
    seen.set(t, (seen.get(t) ?? 0) + 1);
  }
  return seen;
};

describe('sampling', () => {
  it('greedy takes the argmax', () => expect(sampleToken(logits, GREEDY, [], new Rng(1))).toBe(1));
  it('top-k keeps only the k best', () => expect([...draw({ temperature: 1, topK: 2 }).keys()].sort()).toEqual([1, 3]));
  it('top-p keeps the smallest set with that mass', () => {
    expect([...draw({ temperature: 1, topP: 0.3 }).keys()]).toEqual([1]); // p(1) ~ 0.47
    expect([...draw({ temperature: 1, topP: 0.6 }).keys()].sort()).toEqual([1, 3]);
  });
  it('temperature spreads the choice', () => expect(draw({ temperature: 5 }).size).toBe(5));
  it('repetition penalty turns greedy away from a seen token', () => {
    expect(sampleToken(logits, { ...GREEDY, repetitionPenalty: 1.5 }, [1], new Rng(1))).toBe(3);
  });
  it('rejects nonsense settings by name', () => {
    expect(() => validateSampling({ ...GREEDY, topP: 0 })).toThrow(/topP/);
    expect(() => validateSampling({ ...GREEDY, temperature: -1 })).toThrow(/temperature/);
  });
});
