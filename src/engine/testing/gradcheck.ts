// Test helper: checks autodiff gradients against central finite differences, running both through onnxruntime.
// The checked function is out = f(inputs); the scalar is sum(out * R) for a fixed random R, so every output
// element's gradient matters.
import { Graph, numel, type GraphOptions, type Value } from '../onnx/graph.js';
import { serializeModel } from '../onnx/proto.js';
import { gradients } from '../autodiff/grad.js';
import type { Backend } from '../runtime/backend.js';
import { Rng } from '../util/rng.js';

export interface CheckInput {
  shape: number[];
  dtype?: 'float32' | 'int32';
  /** Fixed values (ints for indices, or positive floats for Log/Sqrt). Default: uniform in [-1, 1). */
  data?: Float32Array | Int32Array;
  /** Check this input's gradient (float inputs only). Default true for floats. */
  check?: boolean;
}

export interface CheckResult {
  input: number;
  maxAbsErr: number;
  maxRelErr: number;
  checked: number;
}

export async function gradCheck(
  backend: Backend,
  build: (g: Graph, xs: Value[]) => Value,
  inputs: CheckInput[],
  o: { eps?: number; seed?: number; coords?: number; graph?: GraphOptions } = {},
): Promise<CheckResult[]> {
  const rng = new Rng(o.seed ?? 1);
  const eps = o.eps ?? 1e-2;
  const g = new Graph('gradcheck', o.graph);
  const xs = inputs.map((s, i) => g.input(`x${i}`, s.dtype ?? 'float32', s.shape));
  const out = build(g, xs);
  const R = g.constant(
    'float32',
    out.shape,
    Float32Array.from({ length: numel(out.shape) }, () => rng.uniform(-1, 1)),
  );
  const loss = g.reduceSum(g.mul(out, R), null, false);
  g.output(loss, 'loss');
  const wrt = inputs
    .map((s, i) => ((s.dtype ?? 'float32') === 'float32' && s.check !== false ? i : -1))
    .filter((i) => i >= 0);
  const grads = gradients(
    g,
    loss,
    wrt.map((i) => xs[i]),
  );
  wrt.forEach((i) => g.output(grads.get(xs[i])!, `g${i}`));
  const bytes = serializeModel(g);
  const session = await backend.createSession({
    name: g.name,
    bytes,
    inputs: [],
    outputs: ['loss', ...wrt.map((i) => `g${i}`)],
  });

  const T = backend.ort.Tensor;
  const values = inputs.map((s) => s.data ?? Float32Array.from({ length: numel(s.shape) }, () => rng.uniform(-1, 1)));
  const feeds = () =>
    Object.fromEntries(
      values.map((v, i) => [`x${i}`, new T(v instanceof Int32Array ? 'int32' : 'float32', v.slice(), inputs[i].shape)]),
    );
  const lossAt = async () => ((await session.run(feeds())).loss.data as Float32Array)[0];
  const base = await session.run(feeds());
  const results: CheckResult[] = [];
  for (const i of wrt) {
    const analytic = base[`g${i}`].data as Float32Array;
    const x = values[i] as Float32Array;
    const n = x.length;
    const coords =
      n <= (o.coords ?? 24)
        ? [...Array(n).keys()]
        : Array.from({ length: o.coords ?? 24 }, () => Math.floor(rng.uniform(0, n)));
    let maxAbs = 0;
    let maxRel = 0;
    for (const k of coords) {
      const x0 = x[k];
      x[k] = x0 + eps;
      const lp = await lossAt();
      x[k] = x0 - eps;
      const lm = await lossAt();
      x[k] = x0;
      const fd = (lp - lm) / (2 * eps);
      const err = Math.abs(fd - analytic[k]);
      maxAbs = Math.max(maxAbs, err);
      maxRel = Math.max(maxRel, err / Math.max(Math.abs(fd), Math.abs(analytic[k]), 1e-3));
    }
    results.push({ input: i, maxAbsErr: maxAbs, maxRelErr: maxRel, checked: coords.length });
  }
  await session.release();
  return results;
}
