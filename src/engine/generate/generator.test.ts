// KV-cache decoding must produce exactly the tokens of full recomputation (the eval graph's logits, re-run on the
// whole sequence for every new token), including across prefill chunks with a padded tail, on onnxruntime-node's
// CPU EP and on onnxruntime-web's WASM build (the studio's fallback, which writes no pre-allocated output).
import type { GPT2Config } from '../models/gpt2.js';
import { describe, expect, it } from 'vitest';
import { buildEvalGraph } from '../artifacts/build.js';
import { allParams, type ModelSpec } from '../artifacts/model.js';
import { initGpt2, initLora, TINY_GPT2 } from '../models/init.js';
import { createNodeBackend, createNodeWasmBackend } from '../runtime/node.js';
import { weightFeeds } from '../runtime/feeds.js';
import { Rng } from '../util/rng.js';
import { Generator } from './generator.js';
import { GREEDY, sampleToken } from './sampling.js';

const decoder = { eosId: 50256, decode: (ids: readonly number[]) => ids.map((i) => `<${i}>`).join('') };

async function fullRecompute(m: ModelSpec<GPT2Config>, W: Record<string, Float32Array>, prompt: number[], n: number) {
  const cpu = await createNodeBackend('node-cpu');
  const seq = [...prompt];
  const V = m.config.vocab_size;
  for (let k = 0; k < n; k++) {
    const T = seq.length;
    const s = await cpu.createSession(buildEvalGraph(m, { batch: 1, seq: T }, { logits: true }));
    const Tn = cpu.ort.Tensor;
    const out = await s.run({
      ...weightFeeds(cpu, allParams(m), W),
      input_ids: new Tn('int32', Int32Array.from(seq), [1, T]),
      labels: new Tn('int32', new Int32Array(T), [1, T]),
      loss_mask: new Tn('float32', new Float32Array(T), [1, T]),
    });
    const logits = (out.logits.data as Float32Array).slice((T - 1) * V, T * V);
    seq.push(sampleToken(logits, GREEDY, [], new Rng(0)));
    await s.release();
  }
  return seq.slice(prompt.length);
}

describe('KV-cache generation', () => {
  const cases = [
    { backend: 'node-cpu', lora: undefined },
    { backend: 'node-cpu', lora: { rank: 2, alpha: 4, targets: ['attn.c_attn', 'mlp.c_proj'] as const } },
    { backend: 'wasm', lora: undefined },
  ] as const;
  for (const { backend, lora } of cases) {
    it(`equals full recomputation token for token on ${backend}${lora ? ' (LoRA)' : ''}`, async () => {
      const m: ModelSpec<GPT2Config> = { config: { ...TINY_GPT2, n_positions: 32 }, lora };
      const r = new Rng(4);
      const W = { ...initGpt2(m.config, 12), ...(lora ? initLora(m.config, lora, 2) : {}) };
      for (const [k, v] of Object.entries(W))
        for (let i = 0; i < v.length; i++) v[i] += (k.includes('lora_B') ? 0.05 : 0.1) * r.normal();
      const prompt = [464, 3290, 318, 257, 1332, 13, 198]; // 7 tokens: one full chunk of 4 and a padded one
      const n = 12;
      const b = backend === 'wasm' ? await createNodeWasmBackend() : await createNodeBackend('node-cpu');
      const weights = weightFeeds(b, allParams(m), W);
      const gen = new Generator(b, m, () => weights, { ...decoder, eosId: -1 }, { cache: 32, prefillChunk: 4 });
      let tokens: number[] = [];
      for await (const ev of gen.stream(prompt, { ...GREEDY, maxNewTokens: n }))
        if (ev.type === 'done') tokens = ev.tokens;
      expect(tokens).toEqual(await fullRecompute(m, W, prompt, n));
      expect(new Set(tokens).size).toBeGreaterThan(1);
      await gen.release();
    });
  }

  it('stops at end-of-text, at a stop string, and at the cache end', async () => {
    const m: ModelSpec<GPT2Config> = { config: { ...TINY_GPT2, n_positions: 16 } };
    const cpu = await createNodeBackend('node-cpu');
    const W = initGpt2(m.config, 1);
    // A model whose every next token is 7: ln_f's bias (all ones) lines up with wte row 7 (all ones) in the tied head.
    W['transformer.ln_f.bias'].fill(1);
    W['transformer.wte.weight'].subarray(7 * 64, 8 * 64).fill(1);
    const weights = weightFeeds(cpu, allParams(m), W);
    const run = async (eosId: number, extra: object) => {
      const gen = new Generator(cpu, m, () => weights, { ...decoder, eosId }, { cache: 16, prefillChunk: 4 });
      let done: { reason: string; tokens: number[]; text: string } | undefined;
      for await (const ev of gen.stream([1, 2], { ...GREEDY, maxNewTokens: 50, ...extra }))
        if (ev.type === 'done') done = ev;
      await gen.release();
      return done!;
    };
    expect((await run(7, {})).reason).toBe('eos');
    const stopped = await run(-1, { stopStrings: ['<7><7><7>'] });
    expect(stopped).toMatchObject({ reason: 'stop-string', text: '' });
    const full = await run(-1, {});
    expect(full.reason).toBe('context-full');
    expect(full.tokens.length).toBe(16 - 2 + 1); // the last token is predicted from a full cache and needs no slot
    expect((await run(-1, { maxNewTokens: 3 })).reason).toBe('max-tokens');
  });

  it('sizes the cache to the call: prompt + budget to a power of two (at least 64), within the capacity', () => {
    const m: ModelSpec = { config: { ...TINY_GPT2, n_positions: 1024 } };
    const gen = new Generator({} as never, m, () => ({}), decoder, { cache: 512 });
    expect(gen.cacheFor(10, 20)).toBe(64);
    expect(gen.cacheFor(32, 64)).toBe(128);
    expect(gen.cacheFor(100, 100)).toBe(256);
    expect(gen.cacheFor(400, 400)).toBe(512);
  });
});
