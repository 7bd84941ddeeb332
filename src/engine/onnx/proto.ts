// Serializes the graph IR to ONNX ModelProto bytes (protobuf wire format, the subset of onnx.proto we emit).
// Field numbers are onnx.proto's. Parameters are graph inputs, so initializers are only small constants and
// a whole training graph serializes in milliseconds.
import { DTYPE_CODE, type Graph, type Value, type Attr, type ConstData, type DType } from './graph.js';
import { OPS } from './ops.js';

export class Writer {
  private chunks: Uint8Array[] = [];
  private buf = new Uint8Array(256);
  private pos = 0;

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    this.flush();
    if (n > this.buf.length) this.buf = new Uint8Array(Math.max(n, this.buf.length * 2));
  }
  private flush(): void {
    if (this.pos > 0) this.chunks.push(this.buf.slice(0, this.pos));
    this.pos = 0;
  }
  varint(v: number | bigint): void {
    this.ensure(10);
    let x = BigInt.asUintN(64, BigInt(v));
    if (x < 0x80n && typeof v === 'number' && v >= 0) {
      this.buf[this.pos++] = Number(x);
      return;
    }
    while (x >= 0x80n) {
      this.buf[this.pos++] = Number(x & 0x7fn) | 0x80;
      x >>= 7n;
    }
    this.buf[this.pos++] = Number(x);
  }
  tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }
  bytes(field: number, data: Uint8Array): void {
    this.tag(field, 2);
    this.varint(data.length);
    this.ensure(data.length);
    this.buf.set(data, this.pos);
    this.pos += data.length;
  }
  string(field: number, s: string): void {
    this.bytes(field, new TextEncoder().encode(s));
  }
  int(field: number, v: number | bigint): void {
    this.tag(field, 0);
    this.varint(v);
  }
  float(field: number, v: number): void {
    this.tag(field, 5);
    this.ensure(4);
    new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 4).setFloat32(0, v, true);
    this.pos += 4;
  }
  message(field: number, build: (w: Writer) => void): void {
    const inner = new Writer();
    build(inner);
    this.bytes(field, inner.finish());
  }
  finish(): Uint8Array {
    this.flush();
    const total = this.chunks.reduce((n, c) => n + c.length, 0);
    const out = new Uint8Array(total);
    let off = 0;
    for (const c of this.chunks) {
      out.set(c, off);
      off += c.length;
    }
    return out;
  }
}

export function writeTensor(w: Writer, name: string, dtype: DType, shape: readonly number[], data: ConstData): void {
  for (const d of shape) w.int(1, d);
  w.int(2, DTYPE_CODE[dtype]);
  w.string(8, name);
  const raw = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  w.bytes(9, raw);
}

function writeValueInfo(w: Writer, v: Value, name: string, dims: readonly (number | string)[] = v.shape): void {
  w.string(1, name);
  w.message(2, (t) =>
    t.message(1, (tt) => {
      tt.int(1, DTYPE_CODE[v.dtype]);
      tt.message(2, (s) => {
        for (const d of dims) s.message(1, (dim) => (typeof d === 'string' ? dim.string(2, d) : dim.int(1, d)));
      });
    }),
  );
}

export function writeAttr(w: Writer, name: string, a: Attr): void {
  w.string(1, name);
  switch (a.kind) {
    case 'int':
      w.int(3, BigInt(a.value));
      w.int(20, 2);
      break;
    case 'float':
      w.float(2, a.value);
      w.int(20, 1);
      break;
    case 'ints':
      for (const v of a.value) w.int(8, BigInt(v));
      w.int(20, 7);
      break;
    case 'floats':
      for (const v of a.value) w.float(7, v);
      w.int(20, 6);
      break;
    case 'string':
      w.string(4, a.value);
      w.int(20, 3);
      break;
    case 'tensor':
      w.message(5, (t) => writeTensor(t, '', a.dtype, a.shape, a.data));
      w.int(20, 4);
      break;
  }
}

export interface SerializeOptions {
  producer?: string;
  /** The dims a graph input or output declares, a name for each symbolic one; default: its built shape. */
  dims?: (name: string, shape: readonly number[]) => readonly (number | string)[];
  /**
   * Constants of 1 KiB or more go to a separate data file (ONNX external data, as onnx's converters split them):
   * `location` is its path from the model's folder; the bytes are appended to `parts` (views, no copy), in order.
   * A graph whose weights pass protobuf's 2 GB limit needs it.
   */
  externalData?: { readonly location: string; readonly parts: Uint8Array[] };
}

function writeExternal(w: Writer, name: string, v: Value, location: string, offset: number, length: number): void {
  for (const d of v.shape) w.int(1, d);
  w.int(2, DTYPE_CODE[v.dtype]);
  w.string(8, name);
  for (const [k, val] of [
    ['location', location],
    ['offset', String(offset)],
    ['length', String(length)],
  ]) {
    w.message(13, (e) => {
      e.string(1, k);
      e.string(2, val);
    });
  }
  w.int(14, 1); // data_location: EXTERNAL
}

/** ONNX IR version 8 with opset 17: LayerNormalization exists, Split takes sizes as an input, ReduceMean takes axes as an attribute. */
export const IR_VERSION = 8;
export const OPSET = 17;

export function serializeModel(g: Graph, opts: SerializeOptions = {}): Uint8Array {
  const nameOf = (v: Value) => g.nameOf(v);
  // Nodes whose outputs nothing reads are left out; outputs of ops whose extra outputs are optional, that nothing
  // reads, go unnamed (so they are not computed).
  const read = new Set<Value>(g.outputs);
  const live: typeof g.nodes = [];
  for (let k = g.nodes.length - 1; k >= 0; k--) {
    const n = g.nodes[k];
    if (!n.outputs.some((o) => read.has(o))) continue;
    live.push(n);
    for (const i of n.inputs) if (i) read.add(i);
  }
  live.reverse();
  const domains = new Set<string>();
  const w = new Writer();
  w.int(1, IR_VERSION);
  w.string(2, opts.producer ?? 'fine-tune-studio');
  w.message(7, (gw) => {
    for (const n of live) {
      const def = OPS[n.op];
      if (def.domain) domains.add(def.domain);
      gw.message(1, (nw) => {
        for (const i of n.inputs) nw.string(1, i ? nameOf(i) : '');
        const outs = n.outputs.map((o, k) => (k > 0 && def.optionalOutputs && !read.has(o) ? '' : nameOf(o)));
        while (outs.length > 1 && outs[outs.length - 1] === '') outs.pop();
        for (const o of outs) nw.string(2, o);
        nw.string(4, n.op);
        for (const [k, a] of Object.entries(n.attrs)) nw.message(5, (aw) => writeAttr(aw, k, a));
        if (def.domain) nw.string(7, def.domain);
      });
    }
    gw.string(2, g.name);
    const ext = opts.externalData;
    let offset = 0;
    for (const [v, data] of g.constants) {
      if (!ext || data.byteLength < 1024) {
        gw.message(5, (tw) => writeTensor(tw, nameOf(v), v.dtype, v.shape, data));
        continue;
      }
      gw.message(5, (tw) => writeExternal(tw, nameOf(v), v, ext.location, offset, data.byteLength));
      ext.parts.push(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      offset += data.byteLength;
    }
    const dims = (v: Value) => opts.dims?.(nameOf(v), v.shape) ?? v.shape;
    for (const v of g.inputs) gw.message(11, (vw) => writeValueInfo(vw, v, nameOf(v), dims(v)));
    for (const v of g.outputs) gw.message(12, (vw) => writeValueInfo(vw, v, nameOf(v), dims(v)));
  });
  w.message(8, (ow) => {
    ow.string(1, '');
    ow.int(2, OPSET);
  });
  for (const d of domains) {
    w.message(8, (ow) => {
      ow.string(1, d);
      ow.int(2, 1);
    });
  }
  return w.finish();
}
