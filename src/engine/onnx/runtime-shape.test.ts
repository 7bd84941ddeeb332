// Graphs whose sizes are symbolic in the file (models/optimum.ts): Reshape's 0 and -1, shapes read when the graph
// runs (Graph.runtimeShape), checked by the builder at the sizes it is built with, then run at other sizes.
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { Graph, GraphError } from './graph.js';
import { serializeModel } from './proto.js';

describe('run-time shapes', () => {
  it('Reshape by 0, by -1 and by a shape read at run time follow the sizes fed, not the built ones', async () => {
    const g = new Graph('shapes');
    const x = g.input('x', 'float32', [2, 3, 4]); // built as (2, 3, 4), fed (5, 7, 4)
    const rows = g.reshape(x, [-1, 4]); // (B*S, 4)
    g.output(g.reshape(rows, g.runtimeShape([[x, 0], [x, 1], 2, 2])), 'back'); // (B, S, 2, 2)
    g.output(g.reshape(x, [0, -1]), 'flat'); // (B, S*4)
    const ones = g.addScalar(g.mulScalar(x, 0), 1);
    g.output(
      g.op1('CumSum', [ones, g.constant('int64', [], BigInt64Array.of(1n))], { reverse: { kind: 'int', value: 1 } }),
      'fromEnd',
    );
    const dims = (name: string) =>
      name === 'x' ? ['B', 'S', 4] : name === 'back' ? ['B', 'S', 2, 2] : name === 'flat' ? ['B', 'F'] : ['B', 'S', 4];
    const s = await ort.InferenceSession.create(serializeModel(g, { dims }));
    const data = Float32Array.from({ length: 5 * 7 * 4 }, (_, i) => i);
    const out = await s.run({ x: new ort.Tensor('float32', data, [5, 7, 4]) });
    expect(out.back.dims).toEqual([5, 7, 2, 2]);
    expect(Array.from(out.back.data as Float32Array)).toEqual(Array.from(data));
    expect(out.flat.dims).toEqual([5, 28]);
    const fromEnd = out.fromEnd.data as Float32Array;
    expect([fromEnd[0], fromEnd[4], fromEnd[6 * 4]]).toEqual([7, 6, 1]); // S - s along axis 1
    await s.release();
  });

  it('checks a run-time shape with its built value, so a wrong size fails where the graph is built', () => {
    const g = new Graph('shapes');
    const x = g.input('x', 'float32', [2, 3, 4]);
    expect(() => g.reshape(x, g.runtimeShape([[x, 0], 5, 4]))).toThrow(GraphError);
  });
});
