// Llama-family config.json parsing and parameter lists: the four supported Hub models' configs (their fields as
// the Hub's config.json files spell them) give the published parameter counts, and bad configs are refused by field.
import { describe, expect, it } from 'vitest';
import { countParams } from './gpt2.js';
import { llamaParams, parseLlamaConfig } from './llama-config.js';

const SMOLLM2_135M = {
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  hidden_size: 576,
  intermediate_size: 1536,
  num_hidden_layers: 30,
  num_attention_heads: 9,
  num_key_value_heads: 3,
  vocab_size: 49152,
  max_position_embeddings: 8192,
  rms_norm_eps: 1e-5,
  rope_theta: 100000,
  rope_scaling: null,
  hidden_act: 'silu',
  attention_bias: false,
  mlp_bias: false,
  tie_word_embeddings: true,
};
const QWEN25_05B = {
  architectures: ['Qwen2ForCausalLM'],
  model_type: 'qwen2',
  hidden_size: 896,
  intermediate_size: 4864,
  num_hidden_layers: 24,
  num_attention_heads: 14,
  num_key_value_heads: 2,
  vocab_size: 151936,
  max_position_embeddings: 32768,
  rms_norm_eps: 1e-6,
  rope_theta: 1000000,
  hidden_act: 'silu',
  use_sliding_window: false,
  sliding_window: 32768,
  max_window_layers: 21,
  tie_word_embeddings: true,
};
const QWEN3_06B = {
  architectures: ['Qwen3ForCausalLM'],
  model_type: 'qwen3',
  hidden_size: 1024,
  intermediate_size: 3072,
  num_hidden_layers: 28,
  num_attention_heads: 16,
  num_key_value_heads: 8,
  head_dim: 128,
  vocab_size: 151936,
  max_position_embeddings: 40960,
  rms_norm_eps: 1e-6,
  rope_theta: 1000000,
  rope_scaling: null,
  attention_bias: false,
  hidden_act: 'silu',
  use_sliding_window: false,
  tie_word_embeddings: true,
};
const LLAMA32_1B = {
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  hidden_size: 2048,
  intermediate_size: 8192,
  num_hidden_layers: 16,
  num_attention_heads: 32,
  num_key_value_heads: 8,
  head_dim: 64,
  vocab_size: 128256,
  max_position_embeddings: 131072,
  rms_norm_eps: 1e-5,
  rope_theta: 500000,
  rope_scaling: {
    factor: 32.0,
    high_freq_factor: 4.0,
    low_freq_factor: 1.0,
    original_max_position_embeddings: 8192,
    rope_type: 'llama3',
  },
  attention_bias: false,
  mlp_bias: false,
  hidden_act: 'silu',
  tie_word_embeddings: true,
};

const count = (json: unknown) => countParams(llamaParams(parseLlamaConfig(json)));

describe('Llama-family parameter counts equal the published ones', () => {
  // embed V*C; per layer: q C*H*D, k and v C*Hkv*D each, o H*D*C, 3 MLP matrices C*F, two norms C; final norm C.
  it('SmolLM2-135M: 134,515,008', () => {
    // 49152*576 = 28,311,552; layer: 331,776 + 2*110,592 + 331,776 + 3*884,736 + 1,152 = 3,540,096;
    // 28,311,552 + 30*3,540,096 + 576 = 134,515,008
    expect(count(SMOLLM2_135M)).toBe(134_515_008);
  });
  it('Qwen2.5-0.5B: 494,032,768 (0.49B; 0.36B without the embedding, as its model card says)', () => {
    // 151936*896 = 136,134,656; layer: q 802,816 + 896 bias, k and v 114,688 + 128 bias each, o 802,816,
    // MLP 3*4,358,144, norms 1,792 = 14,912,384; 136,134,656 + 24*14,912,384 + 896 = 494,032,768
    expect(count(QWEN25_05B)).toBe(494_032_768);
  });
  it('Qwen3-0.6B: 596,049,920 (0.6B; 0.44B without the embedding, as its model card says)', () => {
    // 151936*1024 = 155,582,464; layer: q 1024*2048, k and v 1024*1024 each, o 2048*1024 = 6,291,456, q/k norms
    // 256, MLP 3*3,145,728, norms 2,048 = 15,730,944; 155,582,464 + 28*15,730,944 + 1,024 = 596,049,920
    expect(count(QWEN3_06B)).toBe(596_049_920);
    expect(count(QWEN3_06B) - 151936 * 1024).toBe(440_467_456);
  });
  it('Llama-3.2-1B: 1,235,814,400 (1.24B)', () => {
    // 128256*2048 = 262,668,288; layer: q and o 4,194,304 each, k and v 1,048,576 each, MLP 3*16,777,216,
    // norms 4,096 = 60,821,504; 262,668,288 + 16*60,821,504 + 2,048 = 1,235,814,400
    expect(count(LLAMA32_1B)).toBe(1_235_814_400);
  });
  it('an untied head adds lm_head.weight [vocab, hidden]', () => {
    const specs = llamaParams(parseLlamaConfig({ ...SMOLLM2_135M, tie_word_embeddings: false }));
    expect(specs.at(-1)).toEqual({ name: 'lm_head.weight', shape: [49152, 576], decay: true });
    expect(countParams(specs)).toBe(134_515_008 + 49152 * 576);
  });
});

describe('parseLlamaConfig', () => {
  it('reads each family as transformers does', () => {
    const s = parseLlamaConfig(SMOLLM2_135M);
    expect(s).toMatchObject({ head_dim: 64, num_key_value_heads: 3, rms_norm_eps: 1e-5, rope_theta: 1e5 });
    expect(s).toMatchObject({ rope_scaling: null, qkv_bias: false, o_bias: false, qk_norm: false });
    expect(parseLlamaConfig(QWEN25_05B)).toMatchObject({ head_dim: 64, qkv_bias: true, o_bias: false });
    expect(parseLlamaConfig(QWEN3_06B)).toMatchObject({ head_dim: 128, qkv_bias: false, qk_norm: true });
    expect(parseLlamaConfig(LLAMA32_1B).rope_scaling).toEqual({
      rope_type: 'llama3',
      factor: 32,
      low_freq_factor: 1,
      high_freq_factor: 4,
      original_max_position_embeddings: 8192,
    });
  });
  it('names the q/k/v biases of Qwen2, the q/k norms of Qwen3 and the o_proj bias of attention_bias', () => {
    const names = (json: unknown) => llamaParams(parseLlamaConfig(json)).map((p) => p.name);
    const qwen2 = names({ ...QWEN25_05B, num_hidden_layers: 1 });
    expect(qwen2.slice(0, 9)).toEqual([
      'model.embed_tokens.weight',
      'model.layers.0.input_layernorm.weight',
      'model.layers.0.self_attn.q_proj.weight',
      'model.layers.0.self_attn.q_proj.bias',
      'model.layers.0.self_attn.k_proj.weight',
      'model.layers.0.self_attn.k_proj.bias',
      'model.layers.0.self_attn.v_proj.weight',
      'model.layers.0.self_attn.v_proj.bias',
      'model.layers.0.self_attn.o_proj.weight',
    ]);
    expect(qwen2).not.toContain('model.layers.0.self_attn.o_proj.bias');
    const qwen3 = llamaParams(parseLlamaConfig({ ...QWEN3_06B, num_hidden_layers: 1 }));
    expect(qwen3.find((p) => p.name === 'model.layers.0.self_attn.q_norm.weight')).toEqual({
      name: 'model.layers.0.self_attn.q_norm.weight',
      shape: [128],
      decay: false,
    });
    expect(qwen3.find((p) => p.name.endsWith('q_proj.weight'))!.shape).toEqual([2048, 1024]);
    expect(qwen3.find((p) => p.name.endsWith('o_proj.weight'))!.shape).toEqual([1024, 2048]);
    const biased = names({ ...SMOLLM2_135M, num_hidden_layers: 1, attention_bias: true });
    expect(biased).toContain('model.layers.0.self_attn.o_proj.bias');
    expect(llamaParams(parseLlamaConfig(QWEN25_05B)).filter((p) => !p.decay).length).toBe(24 * 5 + 1);
  });
  it("uses transformers' defaults for absent fields", () => {
    const { num_key_value_heads: _k, head_dim: _d, rope_theta: _t, tie_word_embeddings: _w, ...bare } = QWEN3_06B;
    expect(() => parseLlamaConfig(bare)).toThrow(
      "num_attention_heads 16 is not divisible by num_key_value_heads 32 (absent: transformers' default for qwen3)",
    );
    expect(parseLlamaConfig({ ...bare, num_attention_heads: 64 })).toMatchObject({
      num_key_value_heads: 32, // Qwen3Config's default, as Qwen2Config's
      head_dim: 128,
      rope_theta: 10000,
      tie_word_embeddings: false,
    });
    const { num_key_value_heads: _k2, rms_norm_eps: _e, ...llama } = SMOLLM2_135M;
    expect(parseLlamaConfig(llama)).toMatchObject({ num_key_value_heads: 9, rms_norm_eps: 1e-6 });
  });
  it('reads transformers 5 rope_parameters and the old "type" spelling', () => {
    const { rope_theta: _t, rope_scaling, ...rest } = LLAMA32_1B;
    const c = parseLlamaConfig({ ...rest, rope_parameters: { ...rope_scaling, rope_theta: 500000 } });
    expect(c.rope_theta).toBe(500000);
    expect(c.rope_scaling).toMatchObject({ rope_type: 'llama3', factor: 32 });
    const plain = parseLlamaConfig({ ...QWEN3_06B, rope_parameters: { rope_type: 'default', rope_theta: 1e6 } });
    expect(plain).toMatchObject({ rope_theta: 1e6, rope_scaling: null });
    const linear = parseLlamaConfig({ ...SMOLLM2_135M, rope_scaling: { type: 'linear', factor: 2 } });
    expect(linear.rope_scaling).toEqual({ rope_type: 'linear', factor: 2 });
  });
  it('refuses other models and bad fields, naming the file and the field', () => {
    expect(() => parseLlamaConfig({ model_type: 'mistral' })).toThrow(
      'config.json: model_type "mistral" is not a Llama-family model; supported: "llama", "qwen2", "qwen3"',
    );
    expect(() => parseLlamaConfig({ ...QWEN25_05B, num_key_value_heads: 3 })).toThrow(
      'config.json: num_attention_heads 14 is not divisible by num_key_value_heads 3',
    );
    expect(() => parseLlamaConfig({ ...SMOLLM2_135M, hidden_size: 577 }, 'SmolLM2/config.json')).toThrow(
      'SmolLM2/config.json: hidden_size 577 is not divisible by num_attention_heads 9',
    );
    expect(() => parseLlamaConfig({ ...SMOLLM2_135M, num_hidden_layers: '30' })).toThrow(
      'config.json: field "num_hidden_layers" must be a positive integer, got "30"',
    );
    expect(() => parseLlamaConfig({ ...SMOLLM2_135M, rope_scaling: { rope_type: 'yarn', factor: 4 } })).toThrow(
      'config.json: rope_scaling.rope_type "yarn" is not supported; supported: "default", "linear", "llama3"',
    );
    expect(() =>
      parseLlamaConfig({ ...LLAMA32_1B, rope_scaling: { ...LLAMA32_1B.rope_scaling, low_freq_factor: undefined } }),
    ).toThrow('config.json: field "rope_scaling.low_freq_factor" must be a positive number for rope_type "llama3"');
    expect(() => parseLlamaConfig({ ...SMOLLM2_135M, hidden_act: 'gelu' })).toThrow(/hidden_act "gelu"/);
    expect(() => parseLlamaConfig({ ...QWEN25_05B, use_sliding_window: true })).toThrow(/use_sliding_window/);
    expect(() => parseLlamaConfig({ ...SMOLLM2_135M, mlp_bias: true })).toThrow(/mlp_bias/);
    expect(() => parseLlamaConfig({ ...QWEN3_06B, head_dim: 7 })).toThrow(/head_dim 7 is odd/);
    expect(() => parseLlamaConfig({ ...SMOLLM2_135M, tie_word_embeddings: 1 })).toThrow(
      'field "tie_word_embeddings" must be true or false, got 1',
    );
    expect(() => parseLlamaConfig([])).toThrow('config.json: not a JSON object');
  });
});
