// Forward-only ops for graphs whose batch and lengths are symbolic in the file (the transformers.js export,
// models/optimum.ts): Shape, whose output the builder knows only by the representative shapes it is built with
// (Graph.runtimeShape), CumSum over a mask, and Cos / Sin for rotary tables computed from the positions fed.
import { attrInt, constInts, normAxis, req, same, type OpDef } from './op-helpers.js';

const forwardUnary: OpDef = { shape: (i) => same(req(i[0], 'X')) };

export const RUNTIME_OPS: Record<string, OpDef> = {
  Shape: {
    shape: ([x]) => [{ dtype: 'int64', shape: [req(x, 'data').shape.length] }],
  },
  CumSum: {
    // running sums along one axis (attribute reverse: from the end), the axis a constant scalar input
    shape: ([x, axis], a, g) => {
      const X = req(x, 'x');
      const [ax] = constInts(g, axis, 'CumSum axis');
      if (normAxis(ax, X.shape.length) >= X.shape.length) throw new Error(`axis ${ax} is past rank ${X.shape.length}`);
      if (attrInt(a, 'exclusive', 0)) throw new Error('exclusive sums are not emitted');
      return same(X);
    },
  },
  Cos: forwardUnary,
  Sin: forwardUnary,
};
