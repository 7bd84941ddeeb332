// Choosing the next token from logits: repetition penalty, temperature, top-k, top-p (nucleus), greedy at
// temperature 0. Pure functions over a Float32Array of logits, seeded for reproducibility.
import type { Rng } from '../util/rng.js';

export interface SampleOptions {
  /** 0 means greedy. */
  readonly temperature: number;
  /** 0 means no top-k cut. */
  readonly topK: number;
  /** 1 means no nucleus cut. */
  readonly topP: number;
  /** 1 means none; >1 discourages tokens already in the context (CTRL / HF rule). */
  readonly repetitionPenalty: number;
}

export const DEFAULT_SAMPLING: SampleOptions = Object.freeze({
  temperature: 0.8,
  topK: 50,
  topP: 0.95,
  repetitionPenalty: 1.1,
});
export const GREEDY: SampleOptions = Object.freeze({ temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1 });

export function validateSampling(o: SampleOptions): void {
  const bad = (f: string, why: string) => {
    throw new RangeError(`sampling option ${f} ${why}`);
  };
  if (!(o.temperature >= 0)) bad('temperature', `must be >= 0, got ${o.temperature}`);
  if (!(Number.isInteger(o.topK) && o.topK >= 0)) bad('topK', `must be a whole number >= 0, got ${o.topK}`);
  if (!(o.topP > 0 && o.topP <= 1)) bad('topP', `must be in (0, 1], got ${o.topP}`);
  if (!(o.repetitionPenalty >= 1)) bad('repetitionPenalty', `must be >= 1, got ${o.repetitionPenalty}`);
}

export function sampleToken(logits: Float32Array, o: SampleOptions, context: Iterable<number>, rng: Rng): number {
  const x = Float32Array.from(logits);
  if (o.repetitionPenalty !== 1) {
    for (const t of new Set(context)) x[t] = x[t] > 0 ? x[t] / o.repetitionPenalty : x[t] * o.repetitionPenalty;
  }
  if (o.temperature === 0) {
    let best = 0;
    for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
    return best;
  }
  // Candidates sorted by logit; top-k cut, softmax at temperature, then the smallest prefix with mass >= top-p.
  const idx =
    o.topK > 0 && o.topK <= 256
      ? topIndices(x, o.topK)
      : Array.from(x.keys())
          .sort((a, b) => x[b] - x[a])
          .slice(0, o.topK || undefined);
  const max = x[idx[0]];
  const p = idx.map((i) => Math.exp((x[i] - max) / o.temperature));
  const z = p.reduce((a, b) => a + b, 0);
  let keep = idx.length;
  if (o.topP < 1) {
    let acc = 0;
    for (let k = 0; k < idx.length; k++) {
      acc += p[k] / z;
      if (acc >= o.topP) {
        keep = k + 1;
        break;
      }
    }
  }
  const mass = p.slice(0, keep).reduce((a, b) => a + b, 0);
  let r = rng.next() * mass;
  for (let k = 0; k < keep; k++) {
    r -= p[k];
    if (r <= 0) return idx[k];
  }
  return idx[keep - 1];
}

/** The k largest entries' indices, largest first (ties by index), in one pass: no sort of the whole vocabulary. */
export function topIndices(x: Float32Array, k: number): number[] {
  const top: number[] = [];
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    if (top.length === k && v <= x[top[k - 1]]) continue;
    let j = top.length;
    while (j > 0 && x[top[j - 1]] < v) j--;
    top.splice(j, 0, i);
    if (top.length > k) top.pop();
  }
  return top;
}
