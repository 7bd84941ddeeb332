// The small ONNX emitter of the transformers.js exports (GPT-2, the Llama family): a graph of named values with
// symbolic dimensions and no shape inference (the training IR's builder is static-shaped), serialized on the same
// protobuf writer with the weights as external data; and what every decoder graph shares: Optimum's inputs and the
// attention bias.
import { DTYPE_CODE, int, type Attr, type ConstData, type DType } from './graph.js';
import { Writer, writeAttr, writeTensor, IR_VERSION, OPSET } from './proto.js';

export type Dim = number | string;

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

export interface IO {
  name: string;
  dtype: DType;
  dims: readonly Dim[];
}

/** A graph of named values without shape inference (the names are the ONNX value names). */
export class RawGraph {
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
 * model's folder) and the graph named `graphName`. Returns the model bytes and the data file's parts (tensor views in order).
 */
export function serialize(g: RawGraph, dataFile: string, graphName: string): { model: Uint8Array; data: Uint8Array[] } {
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
    gw.string(2, graphName);
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

/** The (1,) size of `x`'s dimension `axis`, at run time. */
export function dim(g: RawGraph, x: string, axis: number): string {
  return g.op('Gather', [g.op('Shape', [x]), g.i64([axis])], { axis: int(0) });
}

/**
 * The additive attention bias (batch, 1, S, T) from the inputs input_ids and attention_mask: a query at position
 * T-S+i sees keys 0..T-S+i that the attention mask keeps. T = past + new length, from the mask; S from the ids.
 * -1e9, not -inf: a padding query that sees no key gets a uniform softmax, not NaN.
 */
export function attentionBias(g: RawGraph): string {
  const S = dim(g, 'input_ids', 1);
  const T = dim(g, 'attention_mask', 1);
  const scalar = (x: string) => g.op('Squeeze', [x, g.i64([0])]);
  const one = g.const('int64', [], BigInt64Array.of(1n));
  const qpos = g.op('Range', [scalar(g.op('Sub', [T, S])), scalar(T), one]); // (S,)
  const kpos = g.op('Range', [g.const('int64', [], BigInt64Array.of(0n)), scalar(T), one]); // (T,)
  const causal = g.op('LessOrEqual', [g.op('Unsqueeze', [kpos, g.i64([0])]), g.op('Unsqueeze', [qpos, g.i64([1])])]); // (S, T)
  const keep = g.op('Cast', [g.op('Unsqueeze', ['attention_mask', g.i64([1, 2])])], { to: int(DTYPE_CODE.bool) }); // (B,1,1,T)
  const allowed = g.op('And', [g.op('Unsqueeze', [causal, g.i64([0, 1])]), keep]); // (B,1,S,T)
  return g.op('Where', [allowed, g.f32(0), g.f32(-1e9)]);
}

/**
 * Optimum's decoder inputs: input_ids, attention_mask and position_ids int64, then past_key_values.N.key/value
 * (batch_size, heads, past_sequence_length, headDim). transformers.js makes the empty first past from these shapes
 * (the numbers as they are, the symbol "batch_size" as the batch, any other symbol 0), so heads and headDim are
 * numbers and the batch is named batch_size.
 */
export function decoderInputs(g: RawGraph, layers: number, heads: number, headDim: number): void {
  g.inputs.push({ name: 'input_ids', dtype: 'int64', dims: ['batch_size', 'sequence_length'] });
  g.inputs.push({ name: 'attention_mask', dtype: 'int64', dims: ['batch_size', 'total_sequence_length'] });
  g.inputs.push({ name: 'position_ids', dtype: 'int64', dims: ['batch_size', 'sequence_length'] });
  for (let i = 0; i < layers; i++)
    for (const kv of ['key', 'value'])
      g.inputs.push({
        name: `past_key_values.${i}.${kv}`,
        dtype: 'float32',
        dims: ['batch_size', heads, 'past_sequence_length', headDim],
      });
}
