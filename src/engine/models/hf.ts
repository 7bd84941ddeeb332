// Hugging Face GPT-2 checkpoints: config.json validation and model.safetensors name mapping. Hub checkpoints
// differ: openai-community/gpt2 names tensors without the "transformer." prefix, some carry attn.bias /
// attn.masked_bias mask buffers or a separate lm_head.weight (tied here, so it must equal wte or is dropped).
import { gpt2Params, type GPT2Config } from './gpt2.js';
import type { Weights } from './init.js';
import type { F32Tensor } from '../util/tensor.js';

export class ModelFormatError extends Error {
  readonly code = 'MODEL_FORMAT';
}

/** Validates a config.json object; every message names the field and the file. */
export function parseGpt2Config(json: unknown, file = 'config.json'): GPT2Config {
  if (!json || typeof json !== 'object') throw new ModelFormatError(`${file}: not a JSON object`);
  const c = json as Record<string, unknown>;
  if (c.model_type !== 'gpt2') {
    throw new ModelFormatError(
      `${file}: model_type is ${JSON.stringify(c.model_type)}, but only GPT-2 checkpoints (model_type "gpt2") can be trained here`,
    );
  }
  const int = (k: string, dflt?: number) => {
    const v = c[k] ?? dflt;
    if (!Number.isInteger(v) || (v as number) <= 0)
      throw new ModelFormatError(`${file}: field "${k}" must be a positive integer, got ${JSON.stringify(c[k])}`);
    return v as number;
  };
  const cfg: GPT2Config = {
    vocab_size: int('vocab_size'),
    n_positions: int('n_positions', c.n_ctx as number | undefined),
    n_embd: int('n_embd'),
    n_layer: int('n_layer'),
    n_head: int('n_head'),
    layer_norm_epsilon: typeof c.layer_norm_epsilon === 'number' ? c.layer_norm_epsilon : 1e-5,
    n_inner: c.n_inner == null ? null : int('n_inner'),
  };
  if (cfg.n_embd % cfg.n_head)
    throw new ModelFormatError(`${file}: n_embd ${cfg.n_embd} is not divisible by n_head ${cfg.n_head}`);
  const act = c.activation_function ?? 'gelu_new';
  if (act !== 'gelu_new' && act !== 'gelu_pytorch_tanh')
    throw new ModelFormatError(
      `${file}: activation_function ${JSON.stringify(act)} is not supported (GPT-2 uses gelu_new)`,
    );
  return cfg;
}

/** The HF config.json we write for a GPT-2 (what GPT2LMHeadModel.save_pretrained writes, minus version noise). */
export function gpt2ConfigJson(c: GPT2Config, eosId = 50256): Record<string, unknown> {
  return {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    activation_function: 'gelu_new',
    vocab_size: c.vocab_size,
    n_positions: c.n_positions,
    n_ctx: c.n_positions,
    n_embd: c.n_embd,
    n_layer: c.n_layer,
    n_head: c.n_head,
    n_inner: c.n_inner ?? null,
    layer_norm_epsilon: c.layer_norm_epsilon,
    initializer_range: 0.02,
    attn_pdrop: 0.1,
    embd_pdrop: 0.1,
    resid_pdrop: 0.1,
    scale_attn_weights: true,
    use_cache: true,
    bos_token_id: eosId,
    eos_token_id: eosId,
    tie_word_embeddings: true,
    torch_dtype: 'float32',
  };
}

/** Maps a checkpoint's tensors onto the engine's parameter names, checking every shape. */
export function gpt2WeightsFromTensors(
  c: GPT2Config,
  tensors: Map<string, F32Tensor>,
  file = 'model.safetensors',
): Weights {
  const byName = new Map<string, F32Tensor>();
  for (const [k, t] of tensors) {
    if (/\.attn\.(masked_)?bias$/.test(k)) continue; // causal-mask buffers, not weights
    byName.set(k.startsWith('transformer.') || k === 'lm_head.weight' ? k : `transformer.${k}`, t);
  }
  const W: Weights = {};
  const missing: string[] = [];
  for (const p of gpt2Params(c)) {
    const t = byName.get(p.name);
    if (!t) {
      missing.push(p.name);
      continue;
    }
    if (t.shape.length !== p.shape.length || t.shape.some((d, i) => d !== p.shape[i])) {
      throw new ModelFormatError(
        `${file}: tensor ${p.name} has shape [${t.shape}], but config.json implies [${p.shape}]`,
      );
    }
    W[p.name] = t.data;
  }
  if (missing.length)
    throw new ModelFormatError(
      `${file}: missing ${missing.length} tensor(s): ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', ...' : ''}`,
    );
  const head = byName.get('lm_head.weight');
  if (head) {
    const wte = W['transformer.wte.weight'];
    const same = head.data.length === wte.length && head.data.every((v, i) => v === wte[i]);
    if (!same)
      throw new ModelFormatError(
        `${file}: lm_head.weight differs from transformer.wte.weight; GPT-2's head is tied to the token embedding, and an untied head is not supported`,
      );
  }
  return W;
}
