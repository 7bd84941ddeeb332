// Nodes per graph, as the WebGPU backend builds them: each node is at least one GPU dispatch, and WebGPU's
// per-dispatch overhead (tens of microseconds) is what a step and a token cost beyond their arithmetic. Counted
// from the serialized bytes, what onnxruntime receives (before its own graph optimizations).
import { buildGenerateGraph, buildTrainStepGraph } from './build.js';
import { flatLayout } from './flat.js';
import { trainableParams, type ModelSpec } from './model.js';
import type { ModelConfig } from '../models/config.js';
import { familyOf } from '../models/family.js';
import { defaultLora } from '../models/lora.js';
import { nodeOps, opHistogram } from '../onnx/inspect.js';
import type { GraphOptions } from '../onnx/graph.js';

/** The WebGPU backend's graph options (runtime/web.ts), with its default flat-group size. */
export const WEBGPU_TARGET: GraphOptions = { flatParams: true, einsum: true, vocabMajor: true };

export interface GraphNodes {
  trainStepFull: number;
  trainStepLora: number;
  generateToken: number;
}

/** The fused train step (full fine-tune, and the family's default LoRA, rank 8) at batch x seq, and one generated token. */
export function graphs(c: ModelConfig, batch: number, seq: number, target: GraphOptions = WEBGPU_TARGET) {
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
    trainStepLora: step({ config: c, lora: defaultLora(c) }),
    generateToken: buildGenerateGraph(
      { config: c },
      { step: 1, cache: Math.min(256, familyOf(c).maxPositions(c)) },
      target,
    ),
  };
}

export function graphNodes(c: ModelConfig, batch: number, seq: number, target?: GraphOptions): GraphNodes {
  const g = graphs(c, batch, seq, target);
  return {
    trainStepFull: nodeOps(g.trainStepFull.bytes).length,
    trainStepLora: nodeOps(g.trainStepLora.bytes).length,
    generateToken: nodeOps(g.generateToken.bytes).length,
  };
}

/** `op count` pairs per graph, largest first (for the bench's report). */
export function graphOps(
  c: ModelConfig,
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
