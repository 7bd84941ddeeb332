// The decoder graph transformers.js runs, in the layout of Hugging Face Optimum's export: inputs input_ids,
// attention_mask, position_ids (int64) and past_key_values.N.key/value (batch, KV heads, past, D); outputs logits
// (batch, sequence, V) and present.N.key/value, the past with the new keys and values appended. Each family's
// decoder (gpt2.ts, llama.ts: the layers training runs) plugs in through its export body; what is here is
// what they share: the inputs, the attention bias, attention over the past and the new tokens, the outputs and the
// file. The graph is built in the shape-checked IR at representative sizes; batch and lengths are symbolic in the
// file, and no shape in it depends on them: Reshapes copy (0) or infer (-1) them, or read them when the graph
// runs (Graph.runtimeShape), and the bias comes from running sums over the mask, not from constants.
import { Graph, type Value } from '../onnx/graph.js';
import { serializeModel } from '../onnx/proto.js';
import type { OutFile } from '../util/files.js';
import type { Weights } from './init.js';
import type { ParamSpec } from './gpt2.js';

export const ONNX_MODEL = 'onnx/model.onnx';
export const ONNX_DATA = 'onnx/model.onnx_data';

/** What config.json needs for transformers.js to pick these files on every device (not the q8 default of WASM). */
export const TRANSFORMERS_JS_CONFIG = { dtype: 'fp32', use_external_data_format: { 'model.onnx': 1 } };

/** The sizes the graph is built with: distinct, so that a mixed-up dimension fails the builder's shape checks. */
const BUILT = { batch: 2, sequence: 3, past: 4 };

export interface OptimumGraph {
  readonly g: Graph;
  /** The weights as named initializers (external data in the file). */
  readonly P: Record<string, Value>;
  /** (B, S) int32 token ids and (B, S) int32 positions, as fed. */
  readonly ids: Value;
  readonly positions: Value;
  /** (B*S, n*D) rows, row-major (b, s), to heads (B, n, S, D). */
  heads(x: Value, n: number): Value;
  /** Heads (B, n, S, D) back to rows (B*S, n*D). */
  rows(x: Value): Value;
  /**
   * Layer i's attention of q (B, H, S, D) over its past and the new k, v (B, Hkv, S, D), causal and masked by
   * attention_mask; query head h reads KV head floor(h / (H / Hkv)). Outputs present.i.*; returns (B, H, S, D).
   */
  attend(i: number, q: Value, k: Value, v: Value, scale: number): Value;
  /** Logits (B*S, V) rows: the logits output (B, S, V), then the files. */
  finish(logits: Value): OutFile[];
}

/**
 * A transformers.js decoder graph (named `name`: the model_type) for `layers` layers of `kvHeads` heads of
 * `headDim`, with the weights `W` of `params` as initializers. transformers.js makes the empty first past from the inputs' dims (numbers as they are,
 * batch_size as the batch, any other symbol 0), so heads and head size are numbers there.
 */
export function optimumGraph(
  o: { name: string; layers: number; kvHeads: number; headDim: number },
  params: readonly ParamSpec[],
  W: Weights,
): OptimumGraph {
  const g = new Graph(o.name);
  const { batch: B, sequence: S, past: Pn } = BUILT;
  const [Hkv, D] = [o.kvHeads, o.headDim];
  const P: Record<string, Value> = {};
  for (const p of params) {
    if (!W[p.name]) throw new Error(`transformers.js export: no weight ${p.name}`);
    P[p.name] = g.constant('float32', p.shape, W[p.name], p.name);
  }
  const inputIds = g.input('input_ids', 'int64', [B, S]);
  const mask = g.input('attention_mask', 'int64', [B, Pn + S]);
  const positionIds = g.input('position_ids', 'int64', [B, S]);
  const past = Array.from({ length: o.layers }, (_, i) => ({
    key: g.input(`past_key_values.${i}.key`, 'float32', [B, Hkv, Pn, D]),
    value: g.input(`past_key_values.${i}.value`, 'float32', [B, Hkv, Pn, D]),
  }));
  const ids = g.cast(inputIds, 'int32');
  const bias = attentionBias(g, inputIds, mask); // (B, 1, S, T)
  const bias5 = g.unsqueeze(bias, [2]); // (B, 1, 1, S, T): per KV head's group of queries
  const present: { key: Value; value: Value }[] = [];
  const headShapes = new Map<number, Value>(); // (B, S, n, D) read at run time, one per head count
  const headShape = (n: number) => {
    if (!headShapes.has(n)) headShapes.set(n, g.runtimeShape([[ids, 0], [ids, 1], n, D]));
    return headShapes.get(n)!;
  };

  return {
    g,
    P,
    ids,
    positions: g.cast(positionIds, 'int32'),
    heads: (x, n) => g.transpose(g.reshape(x, headShape(n)), [0, 2, 1, 3]),
    rows: (x) => g.reshape(g.transpose(x, [0, 2, 1, 3]), [-1, x.shape[1] * x.shape[3]]),
    attend(i, q, k, v, scale) {
      const key = g.concat([past[i].key, k], 2); // (B, Hkv, T, D): the cache holds keys after RoPE, as transformers'
      const value = g.concat([past[i].value, v], 2);
      present[i] = { key, value };
      const H = q.shape[1];
      const qs = g.mulScalar(q, scale);
      if (H === Hkv) {
        const p = g.softmax(g.add(g.matmul(qs, g.transpose(key, [0, 1, 3, 2])), bias)); // (B, H, S, T)
        return g.matmul(p, value);
      }
      // grouped-query attention without repeating the cache: queries (B, Hkv, G, S, D) against (B, Hkv, 1, T, D)
      const qg = g.reshape(qs, [0, Hkv, H / Hkv, -1, D]);
      const kT = g.transpose(g.unsqueeze(key, [2]), [0, 1, 2, 4, 3]); // (B, Hkv, 1, D, T)
      const p = g.softmax(g.add(g.matmul(qg, kT), bias5)); // (B, Hkv, G, S, T)
      return g.reshape(g.matmul(p, g.unsqueeze(value, [2])), [0, H, -1, D]); // (B, Hkv, G, S, D) -> (B, H, S, D)
    },
    finish(logits) {
      g.output(g.reshape(logits, g.runtimeShape([[ids, 0], [ids, 1], logits.shape[1]])), 'logits'); // (B, S, V)
      present.forEach((kv, i) => {
        g.output(kv.key, `present.${i}.key`);
        g.output(kv.value, `present.${i}.value`);
      });
      const symbolic: Record<string, readonly (number | string)[]> = {
        input_ids: ['batch_size', 'sequence_length'],
        attention_mask: ['batch_size', 'total_sequence_length'],
        position_ids: ['batch_size', 'sequence_length'],
        logits: ['batch_size', 'sequence_length', logits.shape[1]],
      };
      const parts: Uint8Array[] = [];
      const model = serializeModel(g, {
        dims: (name, shape) =>
          symbolic[name] ??
          (name.startsWith('past_key_values.')
            ? ['batch_size', shape[1], 'past_sequence_length', shape[3]]
            : name.startsWith('present.')
              ? ['batch_size', shape[1], 'total_sequence_length', shape[3]]
              : shape),
        externalData: { location: 'model.onnx_data', parts },
      });
      return [
        { path: ONNX_MODEL, parts: [model] },
        { path: ONNX_DATA, parts },
      ];
    },
  };
}

/**
 * The additive bias (B, 1, S, T) of S new tokens after T - S past ones: new token s sees the keys t <= T - S + s
 * that attention_mask keeps. With r_q = S - s and r_k = T - t (running sums from the end, over ones shaped like the
 * ids and the mask), t <= T - S + s is r_q <= r_k: no size of the graph is needed. -1e9, not -inf: a padding query
 * that sees no key gets a uniform softmax, not NaN.
 */
function attentionBias(g: Graph, inputIds: Value, mask: Value): Value {
  const fromEnd = (x: Value) => {
    const ones = g.addScalar(g.mulScalar(g.cast(x, 'float32'), 0), 1);
    return g.op1('CumSum', [ones, g.constant('int64', [], BigInt64Array.of(1n))], {
      reverse: { kind: 'int', value: 1 },
    });
  };
  const rq = g.unsqueeze(fromEnd(inputIds), [2]); // (B, S, 1)
  const rk = g.unsqueeze(fromEnd(mask), [1]); // (B, 1, T)
  const keep = g.unsqueeze(g.cast(mask, 'float32'), [1]); // (B, 1, T): 1 where the mask keeps the key
  const allowed = g.mul(g.cast(g.op1('LessOrEqual', [rq, rk]), 'float32'), keep); // (B, S, T)
  return g.unsqueeze(g.mulScalar(g.addScalar(allowed, -1), 1e9), [1]); // 0 where allowed, -1e9 elsewhere
}
