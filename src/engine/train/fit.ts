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
  if (l.backend === 'wasm' && e.trainingBytes > WASM_HEAP_LIMIT) {
    out.push(
      `this run needs about ${fmtSize(e.trainingBytes)} of memory at ${shape}, more than the 4 GiB the WASM backend can address. Use ${smaller}, or WebGPU.`,
    );
  }
  if (l.backend === 'webgpu' && l.adapter) {
    const limit = Math.min(l.adapter.maxBufferSize, l.adapter.maxStorageBufferBindingSize);
    if (e.largestBufferBytes > limit) {
      out.push(
        `${bufferName(e)} a ${fmtSize(e.largestBufferBytes)} GPU buffer at ${shape}, but this GPU binds at most ${fmtSize(limit)}. Use a smaller batch or sequence length, or the WASM backend.`,
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
