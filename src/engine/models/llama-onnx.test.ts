// The Llama family's transformers.js package, loaded by transformers.js in Node (remote models off) for four tiny
// random models in the Hub's shapes (SmolLM2, Qwen2.5, Qwen3, Llama 3): its logits within 1e-4 of the independent
// float64 reference, its greedy generation the reference's argmax loop, its empty past shaped as the graph's inputs;
// and the ONNX file fed directly a left-padded batch of 2, prompt then one cached step.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Tensor } from '@huggingface/transformers';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Weights } from './init.js';
import { parseLlamaConfig, type LlamaConfig } from './llama-config.js';
import { llamaReferenceLogits } from './llama.reference.js';
import { chatSpecialIds, chatTokenizerFiles, chatTokenizerSize, type ChatFormat } from '../testing/chat-tokenizers.js';
import { llamaTestWeights, localTransformers, tinyLlamaJson } from '../testing/llama-configs.js';
import { jsonFile } from '../util/files.js';
import { llamaOnnxFiles, llamaTransformersJsConfig, type LlamaTokenIds } from './llama-onnx.js';
import { writeFolder } from '../export/write.node.js';

interface Variant {
  name: string;
  format: ChatFormat;
  json: Record<string, unknown>;
  ids: (s: Record<string, number>) => LlamaTokenIds;
}

const variants: Variant[] = [
  {
    name: 'smollm2',
    format: 'smollm2',
    json: tinyLlamaJson('smollm2', {
      hidden_size: 64,
      intermediate_size: 96,
      vocab_size: chatTokenizerSize('smollm2'),
      rms_norm_eps: 1e-5,
      rope_theta: 100000,
    }),
    ids: (s) => ({ eos: [s['<|im_end|>']], bos: s['<|im_start|>'], pad: s['<|im_end|>'] }),
  },
  {
    name: 'qwen2 (biases, untied head, vocab padded 64 past the tokenizer)',
    format: 'qwen2',
    json: tinyLlamaJson('qwen2', {
      intermediate_size: 64,
      vocab_size: chatTokenizerSize('qwen2') + 64,
      rms_norm_eps: 1e-6,
      rope_theta: 1000000,
    }),
    ids: (s) => ({ eos: [s['<|im_end|>']], bos: null, pad: s['<|endoftext|>'] }),
  },
  {
    name: 'qwen3 (q/k norms, head_dim 16, not 32 / 4)',
    format: 'qwen3',
    json: tinyLlamaJson('qwen3', {
      intermediate_size: 64,
      vocab_size: chatTokenizerSize('qwen3'),
      rms_norm_eps: 1e-6,
      rope_theta: 1000000,
    }),
    ids: (s) => ({ eos: [s['<|im_end|>'], s['<|endoftext|>']], bos: null, pad: s['<|endoftext|>'] }),
  },
  {
    name: 'llama3 (llama3 RoPE scaling, 6 heads on 2 KV heads, eos list)',
    format: 'llama3',
    // head_dim 8: wavelens 2 pi, 167, 4.4e3, 1.2e5 against high 16 / 4 and low 16: one smoothed, three divided
    json: tinyLlamaJson('llama3', {
      hidden_size: 48,
      intermediate_size: 64,
      num_attention_heads: 6,
      vocab_size: chatTokenizerSize('llama3'),
      rms_norm_eps: 1e-5,
    }),
    ids: (s) => ({ eos: [s['<|end_of_text|>'], s['<|eot_id|>']], bos: s['<|begin_of_text|>'] }),
  },
];

/** Matrices N(0, 0.15), norms 1 + N(0, 0.2), biases N(0, 0.1): logits of order 1. */
const testWeights = (c: LlamaConfig, seed: number) => llamaTestWeights(c, seed, { matrix: 0.15, norm: 0.2, bias: 0.1 });

const argmax = (row: ArrayLike<number>) => {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
};

/** The reference's greedy loop: argmax of the last row, stopping at an eos; asserts no near-tie to flip it. */
function referenceGreedy(c: LlamaConfig, W: Weights, prompt: number[], n: number, eos: readonly number[]) {
  const out = [...prompt];
  for (let i = 0; i < n; i++) {
    const rows = llamaReferenceLogits(c, W, out);
    const last = rows[rows.length - 1];
    const best = argmax(last);
    const second = Math.max(...last.filter((_, j) => j !== best));
    expect(last[best] - second, `step ${i}: a near-tie the float32 graph could flip`).toBeGreaterThan(1e-3);
    out.push(best);
    if (eos.includes(best)) break;
  }
  return out.slice(prompt.length);
}

const dir = mkdtempSync(join(tmpdir(), 'fts-onnx-llama-'));
const built = new Map<string, { c: LlamaConfig; W: Weights; t: LlamaTokenIds }>();
let tjs: Awaited<ReturnType<typeof localTransformers>>;

beforeAll(async () => {
  for (const v of variants) {
    const c = parseLlamaConfig(v.json);
    const W = testWeights(c, 5);
    const t = v.ids(chatSpecialIds(v.format));
    const tjs = llamaTransformersJsConfig(c, t);
    const tok = chatTokenizerFiles(v.format);
    await writeFolder(join(dir, v.format), [
      ...llamaOnnxFiles(c, W),
      jsonFile('config.json', { ...v.json, ...tjs.config }),
      jsonFile('generation_config.json', { ...tjs.generation, do_sample: false }),
      jsonFile('tokenizer.json', tok.tokenizer),
      jsonFile('tokenizer_config.json', tok.config),
    ]);
    built.set(v.format, { c, W, t });
  }
  tjs = await localTransformers(dir);
});

describe('the Llama family in transformers.js', () => {
  it.each(variants.map((v) => [v.name, v] as const))(
    '%s: logits, greedy generation, past shapes',
    async (_n, v) => {
      const { c, W, t } = built.get(v.format)!;
      const tjsTok = await tjs.tokenizer(v.format);
      const model = await tjs.model(v.format);
      try {
        // the shapes transformers.js reads: the graph's past inputs, and the normalized config of older versions
        const session = (model as unknown as { sessions: Record<string, ort.InferenceSession> }).sessions.model;
        const meta = session.inputMetadata.find((m) => m.name === 'past_key_values.1.value');
        expect(meta && 'shape' in meta ? meta.shape : null).toEqual([
          'batch_size',
          c.num_key_value_heads,
          'past_sequence_length',
          c.head_dim,
        ]);
        const norm = (model.config as unknown as { normalized_config: Record<string, unknown> }).normalized_config;
        expect(norm).toMatchObject({ num_heads: c.num_key_value_heads, num_layers: 2, dim_kv: c.head_dim });
        expect(model.generation_config).toMatchObject({ eos_token_id: t.eos.length === 1 ? t.eos[0] : t.eos });

        const text = tjsTok.apply_chat_template<false>([{ role: 'user', content: 'Tell me a story' }], {
          tokenize: false,
          add_generation_prompt: true,
        });
        const inputs = tjsTok(text, { add_special_tokens: false });
        const prompt = Array.from(inputs.input_ids.data as BigInt64Array, Number);
        const ref = llamaReferenceLogits(c, W, prompt);

        const out = (await model(inputs)) as { logits: Tensor };
        expect(out.logits.dims).toEqual([1, prompt.length, c.vocab_size]);
        const logits = out.logits.data as Float32Array;
        let worst = 0;
        let biggest = 0;
        ref.forEach((row, i) =>
          row.forEach((x, j) => {
            biggest = Math.max(biggest, Math.abs(x));
            worst = Math.max(worst, Math.abs(x - logits[i * c.vocab_size + j]));
          }),
        );
        console.log(
          `${v.name}: ${prompt.length} tokens, max |logit| ${biggest.toFixed(2)}, max diff ${worst.toExponential(2)}`,
        );
        expect(biggest).toBeGreaterThan(0.5);
        expect(worst).toBeLessThan(1e-4);

        const gen = (await model.generate({
          ...inputs,
          max_new_tokens: 8,
          do_sample: false,
          repetition_penalty: 1,
          return_dict_in_generate: true,
        })) as unknown as { sequences: Tensor; past_key_values: Record<string, Tensor> & { dispose(): Promise<void> } };
        const theirs = Array.from(gen.sequences.data as BigInt64Array, Number).slice(prompt.length);
        console.log(`${v.name}: generated ${theirs.join(' ')}`);
        expect(theirs).toEqual(referenceGreedy(c, W, prompt, 8, t.eos));
        expect(new Set(theirs).size).toBeGreaterThan(1);
        // the cache it carried: every layer's key and value, (1, Hkv, all tokens but the last, D)
        const total = prompt.length + theirs.length - 1;
        for (const name of ['past_key_values.0.key', 'past_key_values.0.value', 'past_key_values.1.key'])
          expect(gen.past_key_values[name].dims).toEqual([1, c.num_key_value_heads, total, c.head_dim]);
        await gen.past_key_values.dispose();
      } finally {
        await model.dispose();
      }
    },
    120_000,
  );
});

describe('the ONNX file, fed directly', () => {
  it.each(variants.map((v) => [v.name, v] as const))(
    '%s: a left-padded batch of 2, prompt then one cached step, gives each row its own logits',
    async (_n, v) => {
      const { c, W } = built.get(v.format)!;
      const s = await ort.InferenceSession.create(join(dir, v.format, 'onnx', 'model.onnx'));
      const [Hkv, D, V] = [c.num_key_value_heads, c.head_dim, c.vocab_size];
      const rows = [
        [17, 2002, 345],
        [9, 64, 31337, 8, 1000, 77],
      ]; // the first left-padded by 3
      const T = 6;
      const pad = 3;
      const ids = [0, 0, 0, ...rows[0], ...rows[1]];
      const mask = [0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1];
      const pos = [1, 1, 1, 0, 1, 2, 0, 1, 2, 3, 4, 5]; // transformers.js's cumsum - 1, masked places 1
      const i64 = (xs: number[], dims: number[]) => new ort.Tensor('int64', BigInt64Array.from(xs, BigInt), dims);
      const feeds: Record<string, ort.Tensor> = {
        input_ids: i64(ids, [2, T]),
        attention_mask: i64(mask, [2, T]),
        position_ids: i64(pos, [2, T]),
      };
      for (let i = 0; i < c.num_hidden_layers; i++)
        for (const kv of ['key', 'value'])
          feeds[`past_key_values.${i}.${kv}`] = new ort.Tensor('float32', new Float32Array(0), [2, Hkv, 0, D]);
      const first = await s.run(feeds);
      expect(first['present.0.key'].dims).toEqual([2, Hkv, T, D]);
      let worst = 0;
      const compare = (got: Float32Array, b: number, t: number, S: number, want: Float64Array) => {
        for (let j = 0; j < V; j++) worst = Math.max(worst, Math.abs(got[(b * S + t) * V + j] - want[j]));
      };
      const l1 = first.logits.data as Float32Array;
      const r0 = llamaReferenceLogits(c, W, rows[0]);
      const r1 = llamaReferenceLogits(c, W, rows[1]);
      r0.forEach((row, t) => compare(l1, 0, pad + t, T, row));
      r1.forEach((row, t) => compare(l1, 1, t, T, row));

      // one more token per row on the cache: mask (2, T + 1), positions 3 and 6
      const next = [4242, 5];
      const step: Record<string, ort.Tensor> = {
        input_ids: i64(next, [2, 1]),
        attention_mask: i64([...mask.slice(0, T), 1, ...mask.slice(T), 1], [2, T + 1]),
        position_ids: i64([rows[0].length, rows[1].length], [2, 1]),
      };
      for (let i = 0; i < c.num_hidden_layers; i++)
        for (const kv of ['key', 'value']) step[`past_key_values.${i}.${kv}`] = first[`present.${i}.${kv}`];
      const second = await s.run(step);
      expect(second['present.1.value'].dims).toEqual([2, Hkv, T + 1, D]);
      const l2 = second.logits.data as Float32Array;
      compare(l2, 0, 0, 1, llamaReferenceLogits(c, W, [...rows[0], next[0]]).at(-1)!);
      compare(l2, 1, 0, 1, llamaReferenceLogits(c, W, [...rows[1], next[1]]).at(-1)!);
      await s.release();
      console.log(`${v.name}: padded batch, max diff ${worst.toExponential(2)}`);
      expect(worst).toBeLessThan(1e-4);
    },
    60_000,
  );
});
