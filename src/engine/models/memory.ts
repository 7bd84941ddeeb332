// Device memory a run needs, estimated before downloading: weights, gradients and AdamW's two moments for what is
// trained, plus activations kept for the backward pass (per layer: ~20 tensors of (B*T, C) and the attention
// probabilities (B, H, T, T)) and the loss over the vocabulary (a few (B*T, V) tensors).
import { countParams, gpt2Params, type GPT2Config } from './gpt2.js';
import { loraParams, type LoraConfig } from './lora.js';

export interface MemoryEstimate {
  weightsBytes: number;
  trainingBytes: number;
  /** The largest single buffer (the token embedding): must fit the adapter's maxBufferSize. */
  largestBufferBytes: number;
}

export function estimateMemory(c: GPT2Config, batch: number, seq: number, lora?: LoraConfig): MemoryEstimate {
  const params = countParams(gpt2Params(c));
  const trained = lora ? countParams(loraParams(c, lora)) : params;
  const N = batch * seq;
  const activations = 4 * (c.n_layer * (20 * N * c.n_embd + 3 * batch * c.n_head * seq * seq) + 4 * N * c.vocab_size);
  return {
    weightsBytes: 4 * params,
    trainingBytes: 4 * params + 4 * 3 * trained + activations,
    largestBufferBytes: 4 * c.vocab_size * c.n_embd,
  };
}
