// Whether a run fits before it starts: its memory estimate (models/memory.ts) against the backend's limits (the
// WASM heap, the WebGPU adapter's binding size, free storage for checkpoints), each problem said with the way out.
// Checked by the worker before training and by the page as settings change.
import { WASM_HEAP_LIMIT, type MemoryEstimate } from '../models/memory.js';
import { fmtSize } from '../util/size.js';

const bufferName = (e: MemoryEstimate): string =>
  ({
    embedding: 'the token embedding takes',
    logits: `the logits (${e.logitsShape[0]} tokens x ${e.logitsShape[1]}) take`,
    attention: 'the attention scores take',
  })[e.largestBuffer];

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
  if (l.backend === 'wasm' && e.weightsBytes > WASM_HEAP_LIMIT) {
    // no setting helps: the float32 weights alone pass the 4 GiB a WASM module can address
    out.push(
      `this model's weights alone take ${fmtSize(e.weightsBytes)} as float32, more than the 4 GiB the WASM backend can address, at any batch. Use WebGPU, or a smaller model.`,
    );
  } else if (l.backend === 'wasm' && e.trainingBytes > WASM_HEAP_LIMIT) {
    out.push(
      `this run needs about ${fmtSize(e.trainingBytes)} of memory at ${shape}, more than the 4 GiB the WASM backend can address. Use ${smaller}, or WebGPU.`,
    );
  }
  if (l.backend === 'webgpu' && l.adapter) {
    const limit = Math.min(l.adapter.maxBufferSize, l.adapter.maxStorageBufferBindingSize);
    if (e.largestBufferBytes > limit) {
      // the embedding's size is the model's: only the other buffers shrink with the batch
      const way =
        e.largestBuffer === 'embedding'
          ? 'It does not depend on the batch: use a GPU that binds more (desktop GPUs bind 1-4 GiB), or the WASM backend.'
          : 'Use a smaller batch or sequence length, or the WASM backend.';
      out.push(
        `${bufferName(e)} a ${fmtSize(e.largestBufferBytes)} GPU buffer at ${shape}, but this GPU binds at most ${fmtSize(limit)}. ${way}`,
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
