// The one seam between the engine and a model family. Artifacts, generation, the loaders, memory estimates, LoRA
// and the exports ask the config's family for what differs (parameter names and shapes, the trunk, the head, the
// KV cache, LoRA's modules and their weights' layout); only the files in models/ name a tensor.
import type { Graph, Value } from '../onnx/graph.js';
import { isLlama, type ModelConfig } from './config.js';
import type { OutFile } from '../util/files.js';
import { TRANSFORMERS_JS_CONFIG } from './optimum.js';
import {
  causalMask,
  gpt2ServeGraphBody,
  gpt2GenerateGraphBody,
  gpt2OnnxFiles,
  gpt2Params,
  gpt2Trunk,
  innerDim,
  type GPT2Config,
  type ParamSpec,
} from './gpt2.js';
import { gpt2Gguf, llamaGguf, type GgufModel } from './gguf-map.js';
import { llamaServeGraphBody, llamaGenerateGraphBody } from './llama-cache.js';
import { llamaOnnxFiles, llamaTransformersJsConfig } from './llama-onnx.js';
import { llamaParams, type LlamaConfig } from './llama-config.js';
import { linear } from './llama-ops.js';
import { llamaInputs, llamaTrunk, type LinearOf } from './llama.js';
import { ropeTables } from './rope.js';
import type { F32Tensor } from '../util/tensor.js';
import { gpt2ConfigJson, gpt2WeightsFromTensors } from './hf.js';
import type { Weights } from './init.js';
import { llamaConfigJson, llamaWeightsFromTensors } from './llama-hf.js';
import { loraDelta, type LoraConfig } from './lora-config.js';

/** The special token ids a config.json and generation_config.json carry. */
export interface SpecialIds {
  readonly bos: number | null;
  /** Every id that ends a reply, the tokenizer's eos first. */
  readonly eos: readonly number[];
  readonly pad: number | null;
}

export interface ModelFamily<C extends ModelConfig = ModelConfig> {
  /** "gpt2", "llama", "qwen2", "qwen3": config.json's model_type. */
  modelType(c: C): string;
  /** What a person reads: "GPT-2", "Llama", "Qwen2", "Qwen3". */
  label(c: C): string;
  params(c: C): ParamSpec[];
  /** The longest sequence the model takes (n_positions, max_position_embeddings). */
  maxPositions(c: C): number;
  vocabSize(c: C): number;
  hiddenSize(c: C): number;
  layers(c: C): number;
  /** Query heads, and the KV cache's heads and head size per layer. */
  attention(c: C): { heads: number; kvHeads: number; headDim: number };
  /** The MLP's inner width. */
  innerSize(c: C): number;
  /**
   * Floats one layer keeps for the backward at batch x seq (models/memory.ts): GPT-2's fitted to measurements,
   * the Llama family's counted from its graph's saved tensors (not yet measured).
   */
  layerActivations(c: C, batch: number, seq: number): number;
  /** The token embedding, and the (V, C) head weight the logits are h @ W^T of (the embedding when tied). */
  embedding(c: C): string;
  head(c: C): string;
  /** The decoder over ids (B, T) at positions 0..T-1, causal: (B*T, C) after the final norm. */
  trunk(g: Graph, c: C, P: Record<string, Value>, ids: Value, lora?: LoraConfig): Value;
  /** config.json as transformers writes it, with the tokenizer's special ids (eos: one or a list). */
  configJson(c: C, ids: SpecialIds): Record<string, unknown>;
  /**
   * The body of a generate graph (S new tokens, a cache of L slots; inputs past.<i>.*, outputs logits and
   * present.<i>.*), with LoRA on the family's modules; the target is g.options.
   */
  generate(
    g: Graph,
    c: C,
    P: Record<string, Value>,
    o: { ids: Value; position: Value; last: Value; cache: number; lora?: LoraConfig },
  ): void;
  /**
   * The body of a served model's graph (batch-cache.ts): ids (B, S), a read-only cache of L slots (B and L only
   * representative: no shape depends on them), positions below `rows`; outputs logits and new.<i>.*. Plain
   * weights (LoRA merged), the target g.options.
   */
  serve(g: Graph, c: C, P: Record<string, Value>, o: { ids: Value; cache: number; rows: number }): void;
  /** The model as llama.cpp's converter writes it to GGUF: its architecture, hyperparameters and tensors. */
  gguf(c: C, W: Weights): GgufModel;
  /** The transformers.js package's ONNX files (onnx/model.onnx + external data) and what config.json adds for it. */
  onnxFiles(c: C, W: Weights): OutFile[];
  transformersJsConfig(c: C, ids: SpecialIds): Record<string, unknown>;
  /** A checkpoint's tensors under the engine's names, every shape checked against the config. */
  weightsFromTensors(c: C, tensors: Map<string, F32Tensor>, file: string): Weights;
  /** LoRA: the module suffixes it may adapt (PEFT's target_modules), the default sets, where each sits. */
  readonly lora: {
    readonly targets: readonly string[];
    /** PEFT's usual choice for the family: the CLI's and the benchmarks' default. */
    readonly cliDefault: readonly string[];
    /** What the studio trains by default. */
    readonly studioDefault: readonly string[];
    /** `transformer.h.3.attn.c_attn`, `model.layers.3.self_attn.q_proj`. */
    module(layer: number, target: string): string;
    /** (in, out) of the module's linear map. */
    dims(c: C, target: string): [number, number];
    /** How the module's weight is stored: Conv1D's [in, out] or nn.Linear's [out, in] (PEFT's fan_in_fan_out). */
    readonly weightLayout: 'in-out' | 'out-in';
  };
}

const GPT2_TARGETS = ['attn.c_attn', 'attn.c_proj', 'mlp.c_fc', 'mlp.c_proj'] as const;

export const GPT2_FAMILY: ModelFamily<GPT2Config> = {
  modelType: () => 'gpt2',
  label: () => 'GPT-2',
  params: gpt2Params,
  maxPositions: (c) => c.n_positions,
  vocabSize: (c) => c.vocab_size,
  hiddenSize: (c) => c.n_embd,
  layers: (c) => c.n_layer,
  attention: (c) => ({ heads: c.n_head, kvHeads: c.n_head, headDim: c.n_embd / c.n_head }),
  innerSize: innerDim,
  // ~16 (B*T, C) tensors and ~3.5 (B, H, T, T) attention tensors (fitted: memory.ts)
  layerActivations: (c, B, T) => 16 * B * T * c.n_embd + 3.5 * B * c.n_head * T * T,
  embedding: () => 'transformer.wte.weight',
  head: () => 'transformer.wte.weight',
  configJson: (c, ids) => gpt2ConfigJson(c, ids.eos[0]),
  generate: (g, c, P, o) => gpt2GenerateGraphBody(g, c, P, o.ids, o.position, o.last, o.cache, o.lora),
  serve: (g, c, P, o) => gpt2ServeGraphBody(g, c, P, o.ids, o.cache),
  gguf: gpt2Gguf,
  onnxFiles: gpt2OnnxFiles,
  transformersJsConfig: () => ({ 'transformers.js_config': TRANSFORMERS_JS_CONFIG }),
  weightsFromTensors: gpt2WeightsFromTensors,
  trunk: (g, c, P, ids, lora) => {
    const T = ids.shape[1];
    const pos = g.slice(P['transformer.wpe.weight'], 0, 0, T); // (T, C): position ids 0..T-1
    return gpt2Trunk(g, c, P, ids, pos, { lora, mask: causalMask(g, T) });
  },
  lora: {
    targets: GPT2_TARGETS,
    cliDefault: ['attn.c_attn'],
    studioDefault: ['attn.c_attn', 'mlp.c_fc'],
    module: (layer, t) => `transformer.h.${layer}.${t}`,
    dims: (c, t) => {
      const C = c.n_embd;
      const F = innerDim(c);
      const d: Record<string, [number, number]> = {
        'attn.c_attn': [C, 3 * C],
        'attn.c_proj': [C, C],
        'mlp.c_fc': [C, F],
        'mlp.c_proj': [F, C],
      };
      return d[t];
    },
    weightLayout: 'in-out',
  },
};

const LLAMA_ATTN = ['q_proj', 'k_proj', 'v_proj', 'o_proj'] as const;
const LLAMA_MLP = ['gate_proj', 'up_proj', 'down_proj'] as const;

export const LLAMA_FAMILY: ModelFamily<LlamaConfig> = {
  modelType: (c) => c.model_type,
  label: (c) => ({ llama: 'Llama', qwen2: 'Qwen2', qwen3: 'Qwen3' })[c.model_type],
  params: llamaParams,
  maxPositions: (c) => c.max_position_embeddings,
  vocabSize: (c) => c.vocab_size,
  hiddenSize: (c) => c.hidden_size,
  layers: (c) => c.num_hidden_layers,
  attention: (c) => ({ heads: c.num_attention_heads, kvHeads: c.num_key_value_heads, headDim: c.head_dim }),
  innerSize: (c) => c.intermediate_size,
  // RMSNorm's inputs and outputs, q/k before and after RoPE, v, the attention output: ~12 (B*T, C); SwiGLU's gate,
  // up, SiLU and product: 4 (B*T, F); the attention probabilities and scores as GPT-2's
  layerActivations: (c, B, T) =>
    12 * B * T * c.hidden_size + 4 * B * T * c.intermediate_size + 3.5 * B * c.num_attention_heads * T * T,
  embedding: () => 'model.embed_tokens.weight',
  head: (c) => (c.tie_word_embeddings ? 'model.embed_tokens.weight' : 'lm_head.weight'),
  configJson: (c, ids) =>
    llamaConfigJson(c, {
      bos_token_id: ids.bos,
      eos_token_id: ids.eos.length === 1 ? ids.eos[0] : ids.eos,
      pad_token_id: ids.pad,
      torch_dtype: 'float32',
    }),
  weightsFromTensors: (c, tensors, file) => llamaWeightsFromTensors(c, tensors, file),
  generate: (g, c, P, o) =>
    void llamaGenerateGraphBody(g, c, P, o.ids, o.position, o.last, o.cache, o.lora && llamaLinear(g, P, o.lora)),
  serve: (g, c, P, o) => llamaServeGraphBody(g, c, P, o.ids, o.cache, o.rows),
  gguf: llamaGguf,
  onnxFiles: llamaOnnxFiles,
  transformersJsConfig: (c, ids) => llamaTransformersJsConfig(c, ids).config,
  trunk: (g, c, P, ids, lora) => {
    const T = ids.shape[1];
    const t = ropeTables(c, T); // positions 0..T-1, constants of the graph
    const cos = g.constant('float32', [T, c.head_dim], t.cos);
    const sin = g.constant('float32', [T, c.head_dim], t.sin);
    return llamaTrunk(g, c, P, ids, llamaInputs(g, c, cos, sin), llamaLinear(g, P, lora));
  },
  lora: {
    targets: [...LLAMA_ATTN, ...LLAMA_MLP],
    cliDefault: ['q_proj', 'v_proj'],
    studioDefault: [...LLAMA_ATTN, ...LLAMA_MLP],
    module: (layer, t) =>
      `model.layers.${layer}.${(LLAMA_MLP as readonly string[]).includes(t) ? 'mlp' : 'self_attn'}.${t}`,
    dims: (c, t) => {
      const C = c.hidden_size;
      const q = c.num_attention_heads * c.head_dim;
      const kv = c.num_key_value_heads * c.head_dim;
      const F = c.intermediate_size;
      const d: Record<string, [number, number]> = {
        q_proj: [C, q],
        k_proj: [C, kv],
        v_proj: [C, kv],
        o_proj: [q, C],
        gate_proj: [C, F],
        up_proj: [C, F],
        down_proj: [F, C],
      };
      return d[t];
    },
    weightLayout: 'out-in',
  },
};

/** The family of a config. */
export function familyOf(c: GPT2Config): ModelFamily<GPT2Config>;
export function familyOf(c: LlamaConfig): ModelFamily<LlamaConfig>;
export function familyOf(c: ModelConfig): ModelFamily;
export function familyOf(c: ModelConfig): ModelFamily {
  return isLlama(c) ? LLAMA_FAMILY : GPT2_FAMILY;
}

/** Each linear layer of a Llama-family model by module name, with its LoRA update when the module is a target. */
export function llamaLinear(g: Graph, P: Record<string, Value>, lora?: LoraConfig): LinearOf {
  return (x, module) => {
    const y = linear(g, x, P[`${module}.weight`], P[`${module}.bias`] ?? null);
    return lora ? loraDelta(g, lora, P, module, x, y) : y;
  };
}

/** The longest sequence a model of any family takes. */
export const maxPositions = (c: ModelConfig) => familyOf(c).maxPositions(c);
