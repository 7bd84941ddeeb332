// GPT-2 as transformers.js loads it: onnx/model.onnx with past key values, in the layout of Hugging Face's Optimum
// export (inputs input_ids, attention_mask, position_ids, past_key_values.N.key/value; outputs logits,
// present.N.key/value), shapes dynamic in batch and length. The graph is small; the weights go to
// onnx/model.onnx_data as ONNX external data (views on the tensors, no copy), which transformers.js reads when
// config.json's "transformers.js_config" says use_external_data_format.
//
// The training graphs have static shapes and go through the shape-checked builder; this one needs symbolic
// dimensions, so it has its own small emitter on the same protobuf writer.
import { gpt2Params, type GPT2Config } from '../models/gpt2.js';
import type { Weights } from '../models/init.js';
import { DTYPE_CODE, float, int, ints, type Attr, type ConstData, type DType } from '../onnx/graph.js';
import { Writer, writeAttr, writeTensor, IR_VERSION, OPSET } from '../onnx/proto.js';
import type { OutFile } from '../util/files.js';

type Dim = number | string;

interface RawNode {
  op: string;
  inputs: string[];
  outputs: string[];
  attrs: Record<string, Attr>;
}

interface Initializer {
  name: string;
  dtype: DType;
  dims: readonly number[];
  data: ConstData;
  external: boolean;
}

interface IO {
  name: string;
  dtype: DType;
  dims: readonly Dim[];
}

/** A graph of named values without shape inference (the names are the ONNX value names). */
class RawGraph {
  readonly nodes: RawNode[] = [];
  readonly inits: Initializer[] = [];
  readonly inputs: IO[] = [];
  readonly outputs: IO[] = [];
  private n = 0;

  node(op: string, inputs: string[], attrs: Record<string, Attr> = {}, nOut = 1, names?: string[]): string[] {
    const outputs = names ?? Array.from({ length: nOut }, () => `/${op.toLowerCase()}_${this.n++}`);
    this.nodes.push({ op, inputs, outputs, attrs });
    return outputs;
  }
  op(op: string, inputs: string[], attrs: Record<string, Attr> = {}): string {
    return this.node(op, inputs, attrs)[0];
  }
  const(dtype: DType, dims: readonly number[], data: ConstData, external = false, name = `/const_${this.n++}`): string {
    this.inits.push({ name, dtype, dims, data, external });
    return name;
  }
  i64(xs: readonly number[]): string {
    return this.const('int64', [xs.length], BigInt64Array.from(xs, BigInt));
  }
  f32(x: number): string {
    return this.const('float32', [], Float32Array.of(x));
  }
}

/**
 * Serializes with every `external` initializer's bytes in a separate data file (`dataFile`, as named from the
 * model's folder). Returns the model bytes and the data file's parts (tensor views in order).
 */
function serialize(g: RawGraph, dataFile: string): { model: Uint8Array; data: Uint8Array[] } {
  const data: Uint8Array[] = [];
  let offset = 0;
  const w = new Writer();
  w.int(1, IR_VERSION);
  w.string(2, 'fine-tune-studio');
  w.message(7, (gw) => {
    for (const n of g.nodes) {
      gw.message(1, (nw) => {
        for (const i of n.inputs) nw.string(1, i);
        for (const o of n.outputs) nw.string(2, o);
        nw.string(4, n.op);
        for (const [k, a] of Object.entries(n.attrs)) nw.message(5, (aw) => writeAttr(aw, k, a));
      });
    }
    gw.string(2, 'gpt2');
    for (const t of g.inits) {
      if (!t.external) {
        gw.message(5, (tw) => writeTensor(tw, t.name, t.dtype, t.dims, t.data));
        continue;
      }
      const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
      gw.message(5, (tw) => {
        for (const d of t.dims) tw.int(1, d);
        tw.int(2, DTYPE_CODE[t.dtype]);
        tw.string(8, t.name);
        for (const [k, v] of [
          ['location', dataFile],
          ['offset', String(offset)],
          ['length', String(bytes.byteLength)],
        ]) {
          tw.message(13, (e) => {
            e.string(1, k);
            e.string(2, v);
          });
        }
        tw.int(14, 1); // data_location: EXTERNAL
      });
      data.push(bytes);
      offset += bytes.byteLength;
    }
    const io = (field: number, v: IO) =>
      gw.message(field, (vw) => {
        vw.string(1, v.name);
        vw.message(2, (t) =>
          t.message(1, (tt) => {
            tt.int(1, DTYPE_CODE[v.dtype]);
            tt.message(2, (s) => {
              for (const d of v.dims) s.message(1, (dim) => (typeof d === 'number' ? dim.int(1, d) : dim.string(2, d)));
            });
          }),
        );
      });
    for (const v of g.inputs) io(11, v);
    for (const v of g.outputs) io(12, v);
  });
  w.message(8, (ow) => {
    ow.string(1, '');
    ow.int(2, OPSET);
  });
  return { model: w.finish(), data };
}

export const ONNX_MODEL = 'onnx/model.onnx';
export const ONNX_DATA = 'onnx/model.onnx_data';

/** What config.json needs for transformers.js to pick these files on every device (not the q8 default of WASM). */
export const TRANSFORMERS_JS_CONFIG = { dtype: 'fp32', use_external_data_format: { 'model.onnx': 1 } };

/** The transformers.js ONNX files for a GPT-2 with (merged) weights `W`. */
export function gpt2OnnxFiles(c: GPT2Config, W: Weights): OutFile[] {
  const g = new RawGraph();
  const C = c.n_embd;
  const H = c.n_head;
  const D = C / H;
  const eps = c.layer_norm_epsilon;
  const P: Record<string, string> = {};
  for (const p of gpt2Params(c)) P[p.name] = g.const('float32', p.shape, W[p.name], true, p.name);

  g.inputs.push({ name: 'input_ids', dtype: 'int64', dims: ['batch_size', 'sequence_length'] });
  g.inputs.push({ name: 'attention_mask', dtype: 'int64', dims: ['batch_size', 'total_sequence_length'] });
  g.inputs.push({ name: 'position_ids', dtype: 'int64', dims: ['batch_size', 'sequence_length'] });
  for (let i = 0; i < c.n_layer; i++) {
    for (const kv of ['key', 'value']) {
      g.inputs.push({
        name: `past_key_values.${i}.${kv}`,
        dtype: 'float32',
        dims: ['batch_size', H, 'past_sequence_length', D],
      });
    }
  }
  g.outputs.push({ name: 'logits', dtype: 'float32', dims: ['batch_size', 'sequence_length', c.vocab_size] });

  const to32 = (x: string) => g.op('Cast', [x], { to: int(DTYPE_CODE.int32) });
  const h0 = g.op('Add', [
    g.op('Gather', [P['transformer.wte.weight'], to32('input_ids')]),
    g.op('Gather', [P['transformer.wpe.weight'], to32('position_ids')]),
  ]);

  // The additive attention bias (batch, 1, S, T): a query at position T-S+i sees keys 0..T-S+i that the
  // attention mask keeps. T = past + new length, from the mask; S from the ids.
  const dim = (x: string, axis: number) => g.op('Gather', [g.op('Shape', [x]), g.i64([axis])], { axis: int(0) }); // (1,)
  const S = dim('input_ids', 1);
  const T = dim('attention_mask', 1);
  const scalar = (x: string) => g.op('Squeeze', [x, g.i64([0])]);
  const one = g.const('int64', [], BigInt64Array.of(1n));
  const qpos = g.op('Range', [scalar(g.op('Sub', [T, S])), scalar(T), one]); // (S,)
  const kpos = g.op('Range', [g.const('int64', [], BigInt64Array.of(0n)), scalar(T), one]); // (T,)
  const causal = g.op('LessOrEqual', [g.op('Unsqueeze', [kpos, g.i64([0])]), g.op('Unsqueeze', [qpos, g.i64([1])])]); // (S, T)
  const keep = g.op('Cast', [g.op('Unsqueeze', ['attention_mask', g.i64([1, 2])])], { to: int(DTYPE_CODE.bool) }); // (B,1,1,T)
  const allowed = g.op('And', [g.op('Unsqueeze', [causal, g.i64([0, 1])]), keep]); // (B,1,S,T)
  const bias = g.op('Where', [allowed, g.f32(0), g.f32(-1e9)]);

  const linear = (x: string, name: string) =>
    g.op('Add', [g.op('MatMul', [x, P[`${name}.weight`]]), P[`${name}.bias`]]);
  const ln = (x: string, name: string) =>
    g.op('LayerNormalization', [x, P[`${name}.weight`], P[`${name}.bias`]], { axis: int(-1), epsilon: float(eps) });
  const heads = g.i64([0, 0, H, D]);
  const split = g.i64([C, C, C]);
  let h = h0; // (B, S, C)
  for (let i = 0; i < c.n_layer; i++) {
    const pre = `transformer.h.${i}`;
    const qkv = linear(ln(h, `${pre}.ln_1`), `${pre}.attn.c_attn`);
    const [q, k, v] = g.node('Split', [qkv, split], { axis: int(2) }, 3);
    const toHeads = (x: string) => g.op('Transpose', [g.op('Reshape', [x, heads])], { perm: ints([0, 2, 1, 3]) }); // (B, H, S, D)
    const key = g.node('Concat', [`past_key_values.${i}.key`, toHeads(k)], { axis: int(2) }, 1, [
      `present.${i}.key`,
    ])[0];
    const value = g.node('Concat', [`past_key_values.${i}.value`, toHeads(v)], { axis: int(2) }, 1, [
      `present.${i}.value`,
    ])[0];
    const qh = toHeads(g.op('Mul', [q, g.f32(1 / Math.sqrt(D))]));
    const att = g.op('Add', [g.op('MatMul', [qh, g.op('Transpose', [key], { perm: ints([0, 1, 3, 2]) })]), bias]); // (B, H, S, T)
    const y = g.op('MatMul', [g.op('Softmax', [att], { axis: int(-1) }), value]); // (B, H, S, D)
    const merged = g.op('Reshape', [g.op('Transpose', [y], { perm: ints([0, 2, 1, 3]) }), g.i64([0, 0, C])]);
    h = g.op('Add', [h, linear(merged, `${pre}.attn.c_proj`)]);
    const m = linear(ln(h, `${pre}.ln_2`), `${pre}.mlp.c_fc`); // (B, S, F)
    const x3 = g.op('Mul', [g.op('Mul', [m, m]), m]);
    const inner = g.op('Mul', [g.op('Add', [m, g.op('Mul', [x3, g.f32(0.044715)])]), g.f32(Math.sqrt(2 / Math.PI))]);
    const gelu = g.op('Mul', [g.op('Mul', [m, g.f32(0.5)]), g.op('Add', [g.op('Tanh', [inner]), g.f32(1)])]);
    h = g.op('Add', [h, linear(gelu, `${pre}.mlp.c_proj`)]);
    for (const kv of ['key', 'value'])
      g.outputs.push({
        name: `present.${i}.${kv}`,
        dtype: 'float32',
        dims: ['batch_size', H, 'total_sequence_length', D],
      });
  }
  // The tied head as a Gemm against wte (no transposed copy of the 154 MB embedding): (B*S, C) x wte^T.
  const flat = g.op('Reshape', [ln(h, 'transformer.ln_f'), g.i64([-1, C])]);
  const logits2 = g.op('Gemm', [flat, P['transformer.wte.weight']], { transB: int(1) });
  g.node(
    'Reshape',
    [logits2, g.op('Concat', [g.op('Shape', ['input_ids']), g.i64([c.vocab_size])], { axis: int(0) })],
    {},
    1,
    ['logits'],
  );
  // present.* outputs come last in the list, after logits, as in Optimum's export
  const { model, data } = serialize(g, 'model.onnx_data');
  return [
    { path: ONNX_MODEL, parts: [model] },
    { path: ONNX_DATA, parts: data },
  ];
}
