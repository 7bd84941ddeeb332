// The Llama family's graph pieces, each with its gradient: RMSNorm and SiLU-gating as composites with closed-form
// backwards, rotary embeddings (rotate-half as a constant signed permutation), and grouped-query attention whose
// KV heads serve their query group without being repeated. Plain-op forms for the CPU and WASM EPs, Einsum forms
// where g.options.einsum (WebGPU: fewer nodes). Only ops the op table already has.
import { GraphError, type Graph, type Value } from '../onnx/graph.js';

const ROWS = 'abcdefgh';

/**
 * RMSNorm as LlamaRMSNorm computes it in float32: x * rsqrt(mean(x^2, -1) + eps) * w, w over the last axis.
 * Backward with xhat = x r, r = rsqrt(mean(x^2) + eps): dx = r (dxhat - xhat mean(dxhat xhat)), dxhat = dy w;
 * dw = sum over rows of dy xhat. Plain ops: 6 forward nodes, 8 backward; Einsum: 6 and 5.
 */
export function rmsNorm(g: Graph, x: Value, w: Value, eps: number): Value {
  const r = x.shape.length;
  const C = x.shape[r - 1];
  if (w.shape.length !== 1 || w.shape[0] !== C)
    throw new GraphError(`rmsNorm: weight of shape [${w.shape}] for input [${x.shape}]; expected [${C}]`);
  const last = [r - 1];
  const rows = [...Array(r - 1).keys()];
  const meanSq = () => g.addScalar(g.reduceMean(g.mul(x, x), last), eps); // (..., 1)
  if (g.options.einsum) {
    const [X, St] = [`${ROWS.slice(0, r - 1)}z`, `${ROWS.slice(0, r - 1)}y`]; // a (..., C) term and a (..., 1) one
    let inv!: Value; // (..., 1)
    return g.composite(
      [x, w],
      () => {
        inv = g.op1('Reciprocal', [g.sqrt(meanSq())]);
        return g.einsum(`${X},${St},z->${X}`, x, inv, w);
      },
      (dy, needs) => {
        let dx: Value | null = null;
        if (needs[0]) {
          const m = g.einsum(`${X},z,${X},${St},->${St}`, dy, w, x, inv, 1 / C); // mean(dxhat xhat)
          const a = g.einsum(`${X},z,${St}->${X}`, dy, w, inv); // r dxhat
          dx = g.sub(a, g.einsum(`${X},${St},${St},${St}->${X}`, x, inv, inv, m)); // - r xhat mean(dxhat xhat)
        }
        return [dx, needs[1] ? g.einsum(`${X},${X},${St}->z`, dy, x, inv) : null];
      },
    );
  }
  let s!: Value; // sqrt(mean(x^2) + eps), (..., 1)
  let xhat!: Value;
  return g.composite(
    [x, w],
    () => {
      s = g.sqrt(meanSq());
      xhat = g.div(x, s);
      return g.mul(xhat, w);
    },
    (dy, needs) => {
      let dx: Value | null = null;
      if (needs[0]) {
        const dxhat = g.mul(dy, w);
        const m = g.reduceMean(g.mul(dxhat, xhat), last); // (..., 1)
        dx = g.div(g.sub(dxhat, g.mul(xhat, m)), s);
      }
      return [dx, needs[1] ? g.reduceSum(g.mul(dy, xhat), rows, false) : null];
    },
  );
}

/** The same RMSNorm spelled op by op as transformers writes it, left to autodiff: the check on rmsNorm's backward. */
export function rmsNormPlain(g: Graph, x: Value, w: Value, eps: number): Value {
  const ms = g.reduceMean(g.mul(x, x), [x.shape.length - 1]); // x.pow(2).mean(-1, keepdim=True)
  return g.mul(g.mul(x, g.op1('Reciprocal', [g.sqrt(g.addScalar(ms, eps))])), w);
}

/** R (D, D) with x @ R = rotate_half(x) = cat(-x2, x1): column j < D/2 takes -x[j + D/2], column j >= D/2 takes x[j - D/2]. */
export function rotateHalfMatrix(D: number): Float32Array {
  const R = new Float32Array(D * D);
  const h = D / 2;
  for (let j = 0; j < h; j++) {
    R[(j + h) * D + j] = -1;
    R[j * D + j + h] = 1;
  }
  return R;
}

/** Where a (B, ., ., D) tensor keeps its positions: (B, T, H, D) as the projections reshape to, or (B, H, T, D). */
export type HeadLayout = 'bthd' | 'bhtd';

/** A graph's cos/sin tables (T, D) and rotate-half matrices, made once and shared by every layer. */
export interface RopeInputs {
  readonly cos: Value;
  readonly sin: Value;
  /** rotate_half as x @ rot, a (D, D) constant; rotT = rot^T = -rot, made by the first backward that needs it. */
  readonly rot: Value;
  rotT?: Value;
  /** cos and sin as (T, 1, D), broadcasting over (B, T, H, D) heads; made on first use. */
  tablesBTHD?: [Value, Value];
}

export function ropeInputs(g: Graph, cos: Value, sin: Value): RopeInputs {
  const D = cos.shape[1];
  if (cos.shape.length !== 2 || sin.shape.join() !== cos.shape.join() || D % 2)
    throw new GraphError(
      `ropeInputs: cos and sin must be one (T, D) shape with D even, got [${cos.shape}], [${sin.shape}]`,
    );
  return { cos, sin, rot: g.constant('float32', [D, D], rotateHalfMatrix(D)) };
}

/**
 * Rotary embedding, rotate-half form: x cos + rotate_half(x) sin, x (B, T, H, D) or (B, H, T, D) by `layout`, the
 * tables (T, D). The tables get no gradient. Plain ops: 4 forward nodes, 4 backward; Einsum: 3 and 3.
 */
export function applyRope(g: Graph, x: Value, r: RopeInputs, layout: HeadLayout): Value {
  const [T, D] = r.cos.shape;
  const tAxis = layout === 'bthd' ? 1 : 2;
  if (x.shape.length !== 4 || x.shape[3] !== D || x.shape[tAxis] !== T)
    throw new GraphError(`applyRope: input [${x.shape}] is not ${layout} with T ${T} and D ${D}`);
  const noTableGrad = (needs: readonly boolean[]) => {
    if (needs[1] || needs[2]) throw new GraphError('applyRope: the cos/sin tables get no gradient');
  };
  if (g.options.einsum) {
    const X = layout === 'bthd' ? 'bthd' : 'bhtd';
    const E = X.replace('d', 'e');
    return g.composite(
      [x, r.cos, r.sin],
      () => g.add(g.einsum(`${X},td->${X}`, x, r.cos), g.einsum(`${X},de,te->${E}`, x, r.rot, r.sin)),
      (dy, needs) => {
        noTableGrad(needs);
        // d/dx of sum_e x_d R_de sin_e is sum_e dy_e sin_e R_de
        return [
          g.add(g.einsum(`${X},td->${X}`, dy, r.cos), g.einsum(`${E},te,de->${X}`, dy, r.sin, r.rot)),
          null,
          null,
        ];
      },
    );
  }
  let cos = r.cos;
  let sin = r.sin;
  if (layout === 'bthd') {
    r.tablesBTHD ??= [g.unsqueeze(r.cos, [1]), g.unsqueeze(r.sin, [1])]; // (T, 1, D): over H
    [cos, sin] = r.tablesBTHD;
  }
  return g.composite(
    [x, r.cos, r.sin],
    () => g.add(g.mul(x, cos), g.mul(g.matmul(x, r.rot), sin)),
    (dy, needs) => {
      noTableGrad(needs);
      const D = x.shape[3];
      r.rotT ??= g.constant(
        'float32',
        [D, D],
        rotateHalfMatrix(D).map((v) => (v ? -v : 0)),
      );
      return [g.add(g.mul(dy, cos), g.matmul(g.mul(dy, sin), r.rotT)), null, null];
    },
  );
}

/**
 * A (T, S) additive mask tiled G times down its rows, (G*T, S): the mask of grouped-query attention over
 * (B, Hkv, G*T, D) queries. A constant mask is tiled where the graph is built; any other by Expand (3 nodes).
 */
export function groupedMask(g: Graph, mask: Value, G: number): Value {
  if (G === 1) return mask;
  const [T, S] = mask.shape;
  const data = g.constData(mask);
  if (data instanceof Float32Array) {
    const out = new Float32Array(G * T * S);
    for (let i = 0; i < G; i++) out.set(data, i * T * S);
    return g.constant('float32', [G * T, S], out);
  }
  return g.reshape(g.expand(g.reshape(mask, [1, T, S]), [G, T, S]), [G * T, S]); // (1, T, S) -> (G, T, S) -> (G*T, S)
}

/** The causal mask of grouped-query attention over (B, Hkv, G*T, D) queries: row g*T + t sees positions 0..t. */
export function groupedCausalMask(g: Graph, T: number, G: number): Value {
  const m = new Float32Array(G * T * T);
  for (let r = 0; r < G * T; r++) for (let s = (r % T) + 1; s < T; s++) m[r * T + s] = -1e9;
  return g.constant('float32', [G * T, T], m);
}

/**
 * Grouped-query attention over (B, H, T, D) queries and (B, Hkv, S, D) keys and values, as transformers' repeat_kv
 * pairs them (query head h reads KV head floor(h / G), G = H / Hkv), without repeating K and V: the G query heads
 * of a KV head fold into its rows, (B, H, T, D) -> (B, Hkv, G*T, D), a free Reshape, and Graph.attention runs with
 * the (G*T, S) mask of groupedMask or groupedCausalMask. Each KV head's gradient then sums over its group inside one MatMul.
 */
export function gqaAttention(g: Graph, q: Value, k: Value, v: Value, mask: Value, scale: number): Value {
  const [B, H, T, D] = q.shape;
  const Hkv = k.shape[1];
  if (H % Hkv || k.shape.join() !== v.shape.join())
    throw new GraphError(`gqaAttention: query [${q.shape}] and key/value [${k.shape}], [${v.shape}] do not group`);
  const G = H / Hkv;
  if (mask.shape[0] !== G * T)
    throw new GraphError(`gqaAttention: mask [${mask.shape}] must have G*T = ${G * T} rows (groupedMask makes one)`);
  const qg = g.reshape(q, [B, Hkv, G * T, D]); // (B, Hkv, G*T, D): head h = kv * G + g, row g*T + t
  return g.reshape(g.attention(qg, k, v, mask, scale), [B, H, T, D]); // (B, Hkv, G*T, D) -> (B, H, T, D)
}

/**
 * The same attention over (B, T, H, D) queries and (B, S, Hkv, D) keys and values, as the projections reshape to,
 * with Einsum (g.options.einsum): queries as (B, T, Hkv, G, D), scores (B, Hkv, G, T, S) plus a (T, S) mask, no
 * Transpose. With G = 1 it is Graph.attentionBTHD.
 */
export function gqaAttentionBTHD(g: Graph, q: Value, k: Value, v: Value, mask: Value, scale: number): Value {
  const [B, T, H, D] = q.shape;
  const Hkv = k.shape[2];
  if (H % Hkv || k.shape.join() !== v.shape.join())
    throw new GraphError(`gqaAttentionBTHD: query [${q.shape}] and key/value [${k.shape}], [${v.shape}] do not group`);
  const G = H / Hkv;
  if (G === 1) return g.attentionBTHD(q, k, v, mask, scale);
  const q5 = g.reshape(q, [B, T, Hkv, G, D]); // (B, T, Hkv, G, D)
  let p!: Value; // (B, Hkv, G, T, S)
  const y = g.composite(
    [q5, k, v],
    () => {
      p = g.softmax(g.add(g.einsum('btkgd,bskd,->bkgts', q5, k, scale), mask));
      return g.einsum('bkgts,bskd->btkgd', p, v); // (B, T, Hkv, G, D)
    },
    (dy, needs) => {
      const dp = g.einsum('btkgd,bskd->bkgts', dy, v); // d softmax output
      const ds = g.mul(p, g.sub(dp, g.reduceSum(g.mul(dp, p), [4]))); // d (scaled) scores
      return [
        needs[0] ? g.einsum('bkgts,bskd,->btkgd', ds, k, scale) : null,
        needs[1] ? g.einsum('bkgts,btkgd,->bskd', ds, q5, scale) : null, // sums over the group g and t
        needs[2] ? g.einsum('bkgts,btkgd->bskd', p, dy) : null,
      ];
    },
  );
  return g.reshape(y, [B, T, H, D]); // (B, T, Hkv, G, D) -> (B, T, H, D)
}

/**
 * silu(a) * b with silu(a) = a sigmoid(a), SwiGLU's gate, and its backward in closed form: with s = sigmoid(a),
 * da = dy b s (1 + a (1 - s)) = dy b (s + silu(a) (1 - s)), db = dy silu(a). 3 forward nodes, 6 backward.
 */
export function siluMul(g: Graph, a: Value, b: Value): Value {
  let s!: Value;
  let act!: Value;
  return g.composite(
    [a, b],
    () => {
      s = g.op1('Sigmoid', [a]);
      act = g.mul(a, s);
      return g.mul(act, b);
    },
    (dy, needs) => [
      needs[0] ? g.mul(g.mul(dy, b), g.add(s, g.mul(act, g.sub(g.scalar(1), s)))) : null,
      needs[1] ? g.mul(dy, act) : null,
    ],
  );
}

/** nn.Linear: x (N, in) times W [out, in] transposed, plus an optional bias [out]. One Gemm. */
export function linear(g: Graph, x: Value, w: Value, b: Value | null = null): Value {
  return g.gemm(x, w, b, { transB: true });
}

/** LlamaMLP: down(silu(gate(x)) * up(x)), x (N, C), weights [F, C], [F, C], [C, F]. */
export function swiglu(g: Graph, x: Value, gate: Value, up: Value, down: Value): Value {
  return linear(g, siluMul(g, linear(g, x, gate), linear(g, x, up)), down);
}
