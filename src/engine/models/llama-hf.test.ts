// Llama-family checkpoints map onto llamaParams: shapes checked, missing tensors named, a tied head dropped or
// refused, buffers ignored; and config.json written for each family reads back into the same config.
import { describe, expect, it } from 'vitest';
import { llama3Scaling, tinyLlama } from '../testing/llama-configs.js';
import { Rng } from '../util/rng.js';
import type { F32Tensor } from '../util/tensor.js';
import { llamaParams, parseLlamaConfig, type LlamaConfig } from './llama-config.js';
import { llamaConfigJson, llamaWeightsFromTensors } from './llama-hf.js';

const base = { hidden_size: 16, intermediate_size: 24, num_attention_heads: 4, num_key_value_heads: 2 };
const tied = tinyLlama('smollm2', { ...base, vocab_size: 11 });
const untied = tinyLlama('qwen2', { ...base, num_hidden_layers: 1, vocab_size: 13 });

function tensorsOf(c: LlamaConfig, seed = 1): Map<string, F32Tensor> {
  const r = new Rng(seed);
  return new Map(
    llamaParams(c).map((p) => {
      const n = p.shape.reduce((a, b) => a * b, 1);
      return [p.name, { shape: p.shape, data: Float32Array.from({ length: n }, () => r.normal()) }] as const;
    }),
  );
}

describe('Llama-family checkpoints', () => {
  it('maps every tensor without a copy and ignores rotary_emb.inv_freq buffers', () => {
    const t = tensorsOf(tied);
    t.set('model.layers.0.self_attn.rotary_emb.inv_freq', { shape: [2], data: new Float32Array(2) });
    const W = llamaWeightsFromTensors(tied, t);
    expect(Object.keys(W).sort()).toEqual(
      llamaParams(tied)
        .map((p) => p.name)
        .sort(),
    );
    expect(W['model.layers.1.mlp.down_proj.weight']).toBe(t.get('model.layers.1.mlp.down_proj.weight')!.data);
  });

  it('names a wrong shape with the file, the tensor and both shapes; the shard through fileOf', () => {
    const t = tensorsOf(untied);
    t.set('model.layers.0.self_attn.k_proj.weight', { shape: [16, 16], data: new Float32Array(256) });
    expect(() => llamaWeightsFromTensors(untied, t, 'r/model.safetensors')).toThrow(
      'r/model.safetensors: tensor model.layers.0.self_attn.k_proj.weight has shape [16,16], but config.json implies [8,16]',
    );
    expect(() =>
      llamaWeightsFromTensors(untied, t, 'r/index.json', () => 'r/model-00002-of-00002.safetensors'),
    ).toThrow(/^r\/model-00002-of-00002\.safetensors: tensor model\.layers\.0\.self_attn\.k_proj\.weight/);
  });

  it('names the first five missing tensors and the count', () => {
    const t = tensorsOf(tied);
    for (const k of [...t.keys()].filter((k) => k.includes('layers.1.'))) t.delete(k);
    expect(() => llamaWeightsFromTensors(tied, t, 'r/model.safetensors')).toThrow(
      'r/model.safetensors: missing 9 tensor(s): model.layers.1.input_layernorm.weight, model.layers.1.self_attn.q_proj.weight, model.layers.1.self_attn.k_proj.weight, model.layers.1.self_attn.v_proj.weight, model.layers.1.self_attn.o_proj.weight, ... (9 in all)',
    );
  });

  it('drops a tied lm_head.weight equal to the embedding, refuses one that differs', () => {
    const t = tensorsOf(tied);
    const emb = t.get('model.embed_tokens.weight')!;
    t.set('lm_head.weight', { shape: emb.shape, data: emb.data.slice() });
    expect(llamaWeightsFromTensors(tied, t)['lm_head.weight']).toBeUndefined();
    const other = emb.data.slice();
    other[3] += 1;
    t.set('lm_head.weight', { shape: emb.shape, data: other });
    expect(() => llamaWeightsFromTensors(tied, t, 'r/model.safetensors')).toThrow(
      'r/model.safetensors: lm_head.weight differs from model.embed_tokens.weight, but config.json says "tie_word_embeddings": true; set it false to load the separate head',
    );
  });

  it('refuses an untied config without lm_head.weight, naming tie_word_embeddings', () => {
    const t = tensorsOf(untied);
    t.delete('lm_head.weight');
    expect(() => llamaWeightsFromTensors(untied, t, 'r/model.safetensors')).toThrow(
      /^r\/model\.safetensors: lm_head\.weight is missing, but config\.json says "tie_word_embeddings": false/,
    );
  });

  it('refuses tensors the config has no place for (biases a config without attention_bias does not have)', () => {
    const t = tensorsOf(tied);
    t.set('model.layers.0.self_attn.o_proj.bias', { shape: [16], data: new Float32Array(16) });
    expect(() => llamaWeightsFromTensors(tied, t, 'r/model.safetensors')).toThrow(
      'r/model.safetensors: 1 tensor(s) that config.json (model_type "llama") has no place for: model.layers.0.self_attn.o_proj.bias; check attention_bias, num_hidden_layers and model_type',
    );
  });
});

describe('llamaConfigJson', () => {
  const configs: Record<string, unknown>[] = [
    { ...base, model_type: 'llama', num_hidden_layers: 2, vocab_size: 11, tie_word_embeddings: true },
    {
      ...base,
      model_type: 'llama',
      num_hidden_layers: 1,
      vocab_size: 11,
      attention_bias: true,
      rope_theta: 500000,
      rope_scaling: llama3Scaling(32, 8192),
    },
    { ...base, model_type: 'qwen2', num_hidden_layers: 1, vocab_size: 13, rope_theta: 1e6 },
    { ...base, model_type: 'qwen3', num_hidden_layers: 1, vocab_size: 13, head_dim: 8, tie_word_embeddings: true },
    { ...base, model_type: 'qwen3', num_hidden_layers: 1, vocab_size: 13, rope_scaling: { type: 'linear', factor: 2 } },
  ];
  it.each(configs.map((j) => [j.model_type, j] as const))('%s reads back into the same config', (_, json) => {
    const c = parseLlamaConfig(json);
    const out = llamaConfigJson(c, { bos_token_id: 1, eos_token_id: [2, 3], torch_dtype: 'bfloat16' });
    expect(parseLlamaConfig(JSON.parse(JSON.stringify(out)))).toEqual(c);
    expect(out).toMatchObject({ bos_token_id: 1, eos_token_id: [2, 3], torch_dtype: 'bfloat16' });
  });

  it('names the architecture transformers picks, and rope_scaling in its HF form', () => {
    const arch = (j: Record<string, unknown>) => llamaConfigJson(parseLlamaConfig(j)).architectures;
    expect(configs.map(arch)).toEqual([
      ['LlamaForCausalLM'],
      ['LlamaForCausalLM'],
      ['Qwen2ForCausalLM'],
      ['Qwen3ForCausalLM'],
      ['Qwen3ForCausalLM'],
    ]);
    expect(llamaConfigJson(parseLlamaConfig(configs[1])).rope_scaling).toEqual({
      rope_type: 'llama3',
      factor: 32,
      low_freq_factor: 1,
      high_freq_factor: 4,
      original_max_position_embeddings: 8192,
    });
    expect(llamaConfigJson(parseLlamaConfig(configs[4])).rope_scaling).toEqual({ rope_type: 'linear', factor: 2 });
    expect(llamaConfigJson(parseLlamaConfig(configs[0]))).toMatchObject({ rope_scaling: null, torch_dtype: 'float32' });
  });

  it('refuses a config its family cannot spell', () => {
    expect(() => llamaConfigJson({ ...tied, qkv_bias: true })).toThrow(
      'config.json: model_type "llama" cannot express qkv_bias true, o_bias false, qk_norm false',
    );
  });
});
