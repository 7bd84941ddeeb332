// Device memory a run needs, estimated before it starts, and the checks that refuse what cannot fit. The terms
// follow what one fused training step holds at its peak, and the coefficients were fitted to measurements
// (runtime/memory.ts: GPU buffers on WebGPU, the heap on WASM; memory.test.ts holds the estimate within 25 %):
//   - every weight (4 bytes a parameter): inputs of each run;
//   - per trained parameter, 24 bytes: AdamW's two moments, the gradient, and the step's new weight and moments,
//     which exist beside the old ones until the old are freed after the run (partly in memory the activations
//     held until the backward consumed them);
//   - activations kept for the backward pass: per layer ~16 (B*T, C) tensors (24 before GELU, attention and
//     LayerNorm got their closed-form backward: 2026-11-29) and ~3.5 (B, H, T, T) attention
//     tensors; over the 50,257-token vocabulary, ~3.4 (rows, V) tensors of the fused loss's largest chunk and ~2
//     (B*T, V)'s worth that the allocators hold on to (the WASM arena grows by doubling and never shrinks);
//   - 16 MiB for onnxruntime itself;
//   - on WebGPU, where the trained parameters are packed in flat groups (artifacts/flat.ts), 8 more bytes per
//     trained parameter: the Split copies the forward reads and the gradients concatenated back (not fitted to a
//     measurement: SwiftShader is too slow for a 124M step).
import type { ModelConfig } from './config.js';
import { familyOf } from './family.js';
import { countParams } from './gpt2.js';
import { loraParams, type LoraConfig } from './lora.js';
import { headChunks } from './head-chunks.js';

/** The buffers that can pass a GPU's binding limit: the token embedding, the logits, the attention scores. */
export type LargeBuffer = 'embedding' | 'logits' | 'attention';

export interface MemoryEstimate {
  /** Every parameter, float32. */
  weightsBytes: number;
  /** The parameters that train (all of them, or LoRA's adapters). */
  trainedParams: number;
  activationBytes: number;
  /** The step's peak on the device. */
  trainingBytes: number;
  /** The largest single buffer (token embedding, logits or attention): must fit the adapter's binding limits. */
  largestBufferBytes: number;
  largestBuffer: LargeBuffer;
  /** (tokens, vocabulary) of the logits. */
  logitsShape: [number, number];
  /** One stored checkpoint: the trained weights and their two moments. */
  checkpointBytes: number;
}

/**
 * onnxruntime's own share of the heap whatever the model (sessions, kernel scratch, thread stacks): the tiny
 * model's full fine-tune at 2 x 24 measured 155 MiB against 139 without it, and 187 MiB once under a loaded
 * machine (the WASM heap grows in steps).
 */
const RUNTIME_BYTES = 16 * 2 ** 20;

export function estimateMemory(
  c: ModelConfig,
  batch: number,
  seq: number,
  lora?: LoraConfig,
  o: { flatParams?: boolean } = {},
): MemoryEstimate {
  const f = familyOf(c);
  const params = countParams(f.params(c));
  const trained = lora ? countParams(loraParams(c, lora)) : params;
  const N = batch * seq;
  const V = f.vocabSize(c);
  const { heads } = f.attention(c);
  const chunk = Math.max(...headChunks(N, V)); // the fused loss's rows at a time (artifacts/head-loss.ts)
  const activationBytes = 4 * (f.layers(c) * f.layerActivations(c, batch, seq) + (2 * N + 3.4 * chunk) * V);
  const buffers: [LargeBuffer, number][] = [
    ['embedding', 4 * V * f.hiddenSize(c)],
    ['logits', 4 * N * V],
    ['attention', 4 * batch * heads * seq * seq],
  ];
  const [largestBuffer, largestBufferBytes] = buffers.reduce((a, b) => (b[1] > a[1] ? b : a));
  return {
    weightsBytes: 4 * params,
    trainedParams: trained,
    activationBytes,
    // activations the backward has consumed make room for the step's new weights and moments, once they are large
    // enough for the allocator to reuse (fitted: half of them, past the first 256 MiB)
    trainingBytes:
      RUNTIME_BYTES +
      4 * params +
      (o.flatParams ? 32 : 24) * trained +
      activationBytes -
      Math.min(activationBytes / 2, 12 * trained, Math.max(0, activationBytes - 2 ** 28)),
    largestBufferBytes,
    largestBuffer,
    logitsShape: [N, V],
    checkpointBytes: 12 * trained,
  };
}

/** The WASM backend's address space (wasm32), less what the module itself and JavaScript glue need. */
export const WASM_HEAP_LIMIT = 4 * 2 ** 30 - 64 * 2 ** 20;
