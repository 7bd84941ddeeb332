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
import { countParams, gpt2Params, type GPT2Config } from './gpt2.js';
import { loraParams, type LoraConfig } from './lora.js';
import { fmtSize } from '../util/size.js';
import { headChunks } from '../artifacts/head-loss.js';

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
  largestBuffer: string;
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
  c: GPT2Config,
  batch: number,
  seq: number,
  lora?: LoraConfig,
  o: { flatParams?: boolean } = {},
): MemoryEstimate {
  const params = countParams(gpt2Params(c));
  const trained = lora ? countParams(loraParams(c, lora)) : params;
  const N = batch * seq;
  const layer = 16 * N * c.n_embd + 3.5 * batch * c.n_head * seq * seq;
  const chunk = Math.max(...headChunks(N, c.vocab_size)); // the fused loss's rows at a time (artifacts/head-loss.ts)
  const activationBytes = 4 * (c.n_layer * layer + (2 * N + 3.4 * chunk) * c.vocab_size);
  const buffers: [string, number][] = [
    ['the token embedding', 4 * c.vocab_size * c.n_embd],
    [`the logits (${N} tokens x ${c.vocab_size})`, 4 * N * c.vocab_size],
    ['the attention scores', 4 * batch * c.n_head * seq * seq],
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
    checkpointBytes: 12 * trained,
  };
}

/** The WASM backend's address space (wasm32), less what the module itself and JavaScript glue need. */
export const WASM_HEAP_LIMIT = 4 * 2 ** 30 - 64 * 2 ** 20;

export interface FitLimits {
  backend: 'webgpu' | 'wasm';
  /** The WebGPU adapter's limits (null on WASM or when unknown). */
  adapter?: { maxBufferSize: number; maxStorageBufferBindingSize: number } | null;
  /** Free storage for checkpoints, or null when the browser does not say. */
  freeStorage?: number | null;
}

/**
 * What stops a run from fitting, each with the way out; empty when it fits. Checked before training starts (the
 * worker) and shown by "Check size".
 */
export function fitProblems(e: MemoryEstimate, batch: number, seq: number, l: FitLimits, lora: boolean): string[] {
  const out: string[] = [];
  const shape = `batch ${batch} x ${seq}`;
  const smaller = lora
    ? 'a smaller batch or sequence length'
    : 'LoRA (a LoRA rank above 0), or a smaller batch or sequence length';
  if (l.backend === 'wasm' && e.trainingBytes > WASM_HEAP_LIMIT) {
    out.push(
      `this run needs about ${fmtSize(e.trainingBytes)} of memory at ${shape}, more than the 4 GiB the WASM backend can address. Use ${smaller}, or WebGPU.`,
    );
  }
  if (l.backend === 'webgpu' && l.adapter) {
    const limit = Math.min(l.adapter.maxBufferSize, l.adapter.maxStorageBufferBindingSize);
    if (e.largestBufferBytes > limit) {
      out.push(
        `${e.largestBuffer} take${e.largestBuffer.startsWith('the logits') ? '' : 's'} a ${fmtSize(e.largestBufferBytes)} GPU buffer at ${shape}, but this GPU binds at most ${fmtSize(limit)}. Use a smaller batch or sequence length, or the WASM backend.`,
      );
    }
  }
  if (l.freeStorage != null && e.checkpointBytes > l.freeStorage) {
    out.push(
      `each checkpoint of this run needs ${fmtSize(e.checkpointBytes)} of storage, but only ${fmtSize(l.freeStorage)} is free in this browser. Delete cached models or old runs${lora ? '' : ', or use LoRA (its checkpoints hold only the adapters)'}.`,
    );
  }
  return out;
}
