// Named weights, a token batch and an empty KV cache as onnxruntime feeds.
import type { Tensor } from 'onnxruntime-common';
import type { Backend } from './backend.js';
import { pastName } from '../artifacts/model.js';
import type { ModelConfig } from '../models/config.js';
import { familyOf } from '../models/family.js';
import type { ParamSpec } from '../models/gpt2.js';
import type { Weights } from '../models/init.js';

export function weightFeeds(b: Backend, specs: readonly ParamSpec[], W: Weights): Record<string, Tensor> {
  return Object.fromEntries(specs.map((s) => [s.name, b.upload(W[s.name], s.shape)]));
}

/** A (batch, seq) token batch: input ids, next-token labels, and which labels are trained. */
export interface Batch {
  ids: Int32Array;
  labels: Int32Array;
  mask: Float32Array;
  batch: number;
  seq: number;
}

export function batchFeeds(b: Backend, x: Batch): Record<string, Tensor> {
  const T = b.ort.Tensor;
  const dims = [x.batch, x.seq];
  return {
    input_ids: new T('int32', x.ids, dims),
    labels: new T('int32', x.labels, dims),
    loss_mask: new T('float32', x.mask, dims),
  };
}

/** A zero KV cache of `cache` positions for every layer: past.N.key and past.N.value, (1, heads, cache, head dim). */
export function emptyCacheFeeds(b: Backend, c: ModelConfig, cache: number): Record<string, Tensor> {
  const f = familyOf(c);
  const { kvHeads, headDim } = f.attention(c);
  const dims = [1, kvHeads, cache, headDim];
  const out: Record<string, Tensor> = {};
  for (let i = 0; i < f.layers(c); i++)
    for (const kv of ['key', 'value'] as const) out[pastName(i, kv)] = b.zeros(dims);
  return out;
}
