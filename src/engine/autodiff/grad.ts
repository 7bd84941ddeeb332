// Reverse-mode autodiff over the graph IR: walks the nodes backwards from the loss, asks the op table for each
// node's gradient rule, and sums the partials of values used more than once. The backward nodes are appended to
// the same graph, so one ONNX model holds forward, loss and backward. An op without a rule is an error naming it.
import { GraphError, type Graph, type Value } from '../onnx/graph.js';
import { OPS } from '../onnx/ops.js';
import { zerosLike } from '../onnx/op-helpers.js';

export class NoGradientRuleError extends GraphError {
  constructor(op: string) {
    super(
      `no gradient rule for op "${op}": add one to the op table in src/engine/onnx/ops.ts, or stop the gradient before it`,
    );
  }
}

/** Gradients of the scalar `loss` with respect to each of `wrt` (zeros for a value the loss does not depend on). */
export function gradients(g: Graph, loss: Value, wrt: readonly Value[], seed?: Value): Map<Value, Value> {
  return backprop(g, new Map([[loss, seed ?? g.expand(g.scalar(1), loss.shape)]]), wrt);
}

/**
 * The reverse pass from known cotangents: `seeds` maps values to the gradient of the objective with respect to
 * them, computed elsewhere (a fused loss that forms its own backward, say). Returns the gradients of `wrt`, each
 * summing every path, the seeds included.
 */
export function backprop(g: Graph, seeds: Map<Value, Value>, wrt: readonly Value[]): Map<Value, Value> {
  const forward = g.nodes.slice(); // nodes built after this point are the backward pass
  // Which values carry a dependence on `wrt` (only those need gradients).
  const live = new Set<Value>(wrt);
  for (const n of forward) {
    if (n.noGrad) continue;
    if ((n.custom?.inputs ?? n.inputs).some((i) => i && live.has(i)))
      for (const o of n.outputs) if (o.dtype === 'float32') live.add(o);
  }
  if (![...seeds.keys()].some((v) => live.has(v)))
    throw new GraphError('the loss does not depend on any of the values to differentiate');

  const partials = new Map<Value, Value[]>();
  const push = (v: Value, d: Value) => (partials.get(v) ?? partials.set(v, []).get(v)!).push(d);
  const made = new Set(forward);
  // A partial that a Gemm of this backward made, with no C: the other partials' sum becomes its C (one kernel
  // instead of a Gemm and an Add; the Gemm without C is left unread, and serializing drops it).
  const gemmTakingC = (p: Value) => {
    const n = g.producer.get(p);
    return (
      !!n &&
      n.op === 'Gemm' &&
      n.inputs.length === 2 &&
      !made.has(n) &&
      !(n.attrs.beta?.kind === 'float' && n.attrs.beta.value !== 1)
    );
  };
  const total = (v: Value): Value | null => {
    const ps = partials.get(v);
    if (!ps) return null;
    let sum: Value;
    const k = ps.length > 1 ? ps.findIndex(gemmTakingC) : -1;
    if (k >= 0) {
      const n = g.producer.get(ps[k])!;
      const rest = ps.filter((_, i) => i !== k).reduce((a, b) => g.add(a, b));
      sum = g.op1('Gemm', [n.inputs[0], n.inputs[1], rest], n.attrs);
    } else sum = ps.reduce((a, b) => g.add(a, b));
    partials.set(v, [sum]);
    return sum;
  };
  for (const [v, d] of seeds) push(v, d);

  for (let k = forward.length - 1; k >= 0; k--) {
    const node = forward[k];
    if (node.noGrad) continue;
    const dy = node.outputs.map(total);
    if (dy.every((d) => d === null)) continue;
    const inputs = node.custom?.inputs ?? node.inputs;
    const needs = inputs.map((i) => !!i && live.has(i));
    if (!needs.some(Boolean)) continue;
    let dx: (Value | null)[];
    if (node.custom) dx = node.custom.grad(dy[0]!, needs);
    else {
      const op = OPS[node.op];
      if (!op.grad) throw new NoGradientRuleError(node.op);
      dx = op.grad({ g, node, x: node.inputs, y: node.outputs, dy, needs });
    }
    inputs.forEach((inp, i) => {
      const d = dx[i];
      if (inp && needs[i] && d) push(inp, d);
    });
  }
  return new Map(wrt.map((w) => [w, total(w) ?? zerosLike(g, w)]));
}
