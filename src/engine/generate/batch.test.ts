// Continuous batching must not change a reply: requests decoded together (joining and leaving between tokens,
// prefilled together, the cache growing in slots and positions as they come) give each the single-stream generator's greedy tokens, for
// GPT-2 and each Llama variant, and a consumer that stops early frees its slot for the rest.
import { describe, expect, it } from 'vitest';
import { allParams, type ModelSpec } from '../artifacts/model.js';
import type { ModelConfig } from '../models/config.js';
import { initGpt2, TINY_GPT2 } from '../models/init.js';
import { createNodeBackend } from '../runtime/node.js';
import { weightFeeds } from '../runtime/feeds.js';
import { llamaTestWeights, tinyLlama } from '../testing/llama-configs.js';
import type { LlamaVariant } from '../testing/llama-fixtures.js';
import { Rng } from '../util/rng.js';
import { BatchDecoder, logprobsOf, type BatchEvent } from './batch.js';
import { Generator } from './generator.js';
import { GREEDY } from './sampling.js';

const tok = { eosId: -1, decode: (ids: readonly number[]) => ids.map((i) => `<${i}>`).join('') };

function models(): [string, ModelConfig, Record<string, Float32Array>][] {
  const gpt2 = { ...TINY_GPT2, n_positions: 256 };
  const W = initGpt2(gpt2, 3);
  const r = new Rng(5);
  for (const v of Object.values(W)) for (let i = 0; i < v.length; i++) v[i] += 0.1 * r.normal();
  const llamas = (['smollm2', 'qwen2', 'qwen3', 'llama3'] as LlamaVariant[]).map((v) => {
    const c = tinyLlama(v, { vocab_size: 300, max_position_embeddings: 256 });
    return [v, c, llamaTestWeights(c, 7, { matrix: 0.3, norm: 0.2, bias: 0.2 })] as [
      string,
      ModelConfig,
      Record<string, Float32Array>,
    ];
  });
  return [['gpt2', gpt2, W], ...llamas];
}

const prompts = [
  [5, 17, 42, 9, 100, 3, 77, 21, 8], // past a chunk of 4, with a padded tail
  [11, 250],
  Array.from({ length: 70 }, (_, i) => (i * 37) % 280), // needs a cache of 128 once it joins
  [2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22], // prefills beside the one above past its first chunk: a copy of both slots
];

async function collect(events: AsyncGenerator<BatchEvent>) {
  for await (const e of events) if (e.type === 'done') return e;
  throw new Error('no done event');
}

describe('BatchDecoder', () => {
  for (const [name, config, W] of models()) {
    it(`gives every request of a batch its single-stream greedy reply (${name})`, async () => {
      const b = await createNodeBackend('node-cpu');
      const m: ModelSpec = { config };
      const weights = weightFeeds(b, allParams(m), W);
      const gen = new Generator(b, m, () => weights, tok, { cache: 256, prefillChunk: 4 });
      const alone: number[][] = [];
      for (const [i, p] of prompts.entries()) {
        for await (const e of gen.stream(p, { ...GREEDY, maxNewTokens: 10 + i }))
          if (e.type === 'done') alone.push(e.tokens);
      }
      const batch = new BatchDecoder(b, m, W, tok, { maxBatch: 4, context: 256, prefillChunk: 4 });
      // the first two start together; the others join while they decode
      const first = prompts.slice(0, 2).map((p, i) => collect(batch.generate(p, { ...GREEDY, maxNewTokens: 10 + i })));
      await new Promise((r) => setTimeout(r, 5));
      const later = prompts.slice(2).map((p, i) => collect(batch.generate(p, { ...GREEDY, maxNewTokens: 12 + i })));
      const got = await Promise.all([...first, ...later]);
      expect(got.map((d) => d.tokens)).toEqual(alone);
      expect(got.map((d) => d.reason)).toEqual(prompts.map(() => 'max-tokens'));
      expect(got.map((d) => d.promptTokens)).toEqual(prompts.map((p) => p.length));
      expect(batch.stats.rows / batch.stats.steps).toBeGreaterThan(1.5); // they did decode together
      expect(new Set(alone.flat()).size).toBeGreaterThan(5);
      await batch.release();
      await gen.release();
    });
  }

  it('frees the slot of a consumer that stops early, and of an aborted request', async () => {
    const [, config, W] = models()[0];
    const b = await createNodeBackend('node-cpu');
    const m: ModelSpec = { config };
    // the weights as graph inputs here (the default for models past 1 GiB)
    const batch = new BatchDecoder(b, m, W, tok, { maxBatch: 1, context: 128, initializers: false });
    let seen = 0;
    for await (const e of batch.generate([1, 2, 3], { ...GREEDY, maxNewTokens: 100 })) {
      expect(e.type).toBe('token');
      if (++seen === 3) break;
    }
    const ac = new AbortController();
    const aborted = collect(batch.generate([4, 5], { ...GREEDY, maxNewTokens: 100, signal: ac.signal }));
    ac.abort();
    expect((await aborted).reason).toBe('aborted');
    // with one slot, this one runs only if both slots above were freed
    const d = await collect(batch.generate([1, 2, 3], { ...GREEDY, maxNewTokens: 5 }));
    expect(d.tokens).toHaveLength(5);
    expect(batch.load).toEqual({ active: 0, queued: 0 });
    await batch.release();
  });

  it('reports log-probabilities that normalize', () => {
    const logits = Float32Array.from([1, 3, 2, -1]);
    const lp = logprobsOf(logits, 2, 2);
    const z = Math.log([1, 3, 2, -1].reduce((a, x) => a + Math.exp(x), 0));
    expect(lp.logprob).toBeCloseTo(2 - z, 6);
    expect(lp.top.map((t) => t.token)).toEqual([1, 2]);
    expect(lp.top[0].logprob).toBeCloseTo(3 - z, 6);
  });
});
