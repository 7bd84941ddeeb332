// A one-node model used to ask an execution provider whether it can run at all.
import { Graph } from '../onnx/graph.js';
import { serializeModel } from '../onnx/proto.js';

export function buildProbeGraph(): Uint8Array {
  const g = new Graph('probe');
  g.output(g.addScalar(g.input('x', 'float32', [1]), 1), 'y');
  return serializeModel(g);
}
