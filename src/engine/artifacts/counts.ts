// Nodes per graph, as the WebGPU backend builds them: each node is at least one GPU dispatch, and WebGPU's
// per-dispatch overhead (tens of microseconds) is what a step and a token cost beyond their arithmetic. Counted
// from the serialized bytes, what onnxruntime receives (before its own graph optimizations).
import { buildGenerateGraph, buildTrainStepGraph } from './build.js';
import { flatLayout } from './flat.js';
import { trainableParams, type ModelSpec } from './model.js';
import { DEFAULT_LORA } from '../models/lora.js';
import type { GPT2Config } from '../models/gpt2.js';
import { nodeOps, opHistogram } from '../onnx/inspect.js';
import type { GraphOptions } from '../onnx/graph.js';

/** The WebGPU backend's graph options (runtime/web.ts), with its default flat-group size. */
export const WEBGPU_TARGET: GraphOptions = { flatParams: true, einsum: true, vocabMajor: true };

export interface GraphNodes {
  trainStepFull: number;
  trainStepLora: number;
  generateToken: number;
}

/** The fused train step (full fine-tune, and LoRA rank 8 on c_attn) at batch x seq, and one generated token. */
export function graphs(c: GPT2Config, batch: number, seq: number, target: GraphOptions = WEBGPU_TARGET) {
  const step = (m: ModelSpec) =>
    buildTrainStepGraph(
      m,
      { batch, seq },
      undefined,
      target,
      flatLayout(trainableParams(m), { packed: !!target.flatParams }),
    );
  return {
    trainStepFull: step({ config: c }),
    trainStepLora: step({ config: c, lora: DEFAULT_LORA }),
    generateToken: buildGenerateGraph({ config: c }, { step: 1, cache: Math.min(256, c.n_positions) }, target),
  };
}

export function graphNodes(c: GPT2Config, batch: number, seq: number, target?: GraphOptions): GraphNodes {
  const g = graphs(c, batch, seq, target);
  return {
    trainStepFull: nodeOps(g.trainStepFull.bytes).length,
    trainStepLora: nodeOps(g.trainStepLora.bytes).length,
    generateToken: nodeOps(g.generateToken.bytes).length,
  };
}

/** `op count` pairs per graph, largest first (for the bench's report). */
export function graphOps(
  c: GPT2Config,
  batch: number,
  seq: number,
  target?: GraphOptions,
): Record<keyof GraphNodes, string> {
  const g = graphs(c, batch, seq, target);
  const fmt = (b: Uint8Array) =>
    opHistogram(b)
      .map(([op, n]) => `${op} ${n}`)
      .join(', ');
  return {
    trainStepFull: fmt(g.trainStepFull.bytes),
    trainStepLora: fmt(g.trainStepLora.bytes),
    generateToken: fmt(g.generateToken.bytes),
  };
}
