// The GGUF v3 container llama.cpp, Ollama and LM Studio read (ggml's docs/gguf.md): a header, typed metadata, one
// info record per tensor (its dims innermost first, its ggml type, its offset in the data), then the tensor data,
// each aligned to general.alignment (32). The file is a list of byte parts (util/files.ts): the header in one part,
// then each tensor's bytes, so nothing is copied into one buffer.
import type { OutFile } from '../util/files.js';

/** GGUF's metadata value types. */
const T = {
  u8: 0,
  i8: 1,
  u16: 2,
  i16: 3,
  u32: 4,
  i32: 5,
  f32: 6,
  bool: 7,
  string: 8,
  array: 9,
  u64: 10,
  i64: 11,
  f64: 12,
};

export type GgufValue =
  | { type: 'u32' | 'i32' | 'f32' | 'u64'; value: number }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'array'; of: 'string'; value: readonly string[] }
  | { type: 'array'; of: 'i32' | 'f32'; value: readonly number[] };

export const u32 = (value: number): GgufValue => ({ type: 'u32', value });
export const f32 = (value: number): GgufValue => ({ type: 'f32', value });
export const str = (value: string): GgufValue => ({ type: 'string', value });
export const bool = (value: boolean): GgufValue => ({ type: 'bool', value });

/** ggml's tensor types this project writes: their ids and block geometry. */
export const GGML_TYPES = {
  F32: { id: 0, block: 1, bytes: 4 },
  F16: { id: 1, block: 1, bytes: 2 },
  Q5_0: { id: 6, block: 32, bytes: 22 },
  Q8_0: { id: 8, block: 32, bytes: 34 },
  Q4_K: { id: 12, block: 256, bytes: 144 },
  Q6_K: { id: 14, block: 256, bytes: 210 },
} as const;
export type GgmlType = keyof typeof GGML_TYPES;

export interface GgufTensor {
  readonly name: string;
  /** PyTorch's order, outermost first (GGUF stores the reverse). */
  readonly shape: readonly number[];
  readonly type: GgmlType;
  /** The encoded bytes, already in the type's layout. */
  readonly data: Uint8Array;
}

export const ALIGNMENT = 32;

class Writer {
  private buf = new Uint8Array(1 << 16);
  private view = new DataView(this.buf.buffer);
  length = 0;
  private ensure(n: number) {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  u32(x: number) {
    this.ensure(4);
    this.view.setUint32(this.length, x, true);
    this.length += 4;
  }
  i32(x: number) {
    this.ensure(4);
    this.view.setInt32(this.length, x, true);
    this.length += 4;
  }
  u64(x: number) {
    this.ensure(8);
    this.view.setBigUint64(this.length, BigInt(x), true);
    this.length += 8;
  }
  f32(x: number) {
    this.ensure(4);
    this.view.setFloat32(this.length, x, true);
    this.length += 4;
  }
  u8(x: number) {
    this.ensure(1);
    this.buf[this.length++] = x;
  }
  string(s: string) {
    const b = new TextEncoder().encode(s);
    this.u64(b.length);
    this.ensure(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }
  pad(to: number) {
    while (this.length % to) this.u8(0);
  }
  bytes(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

function writeValue(w: Writer, v: GgufValue) {
  switch (v.type) {
    case 'u32':
      return w.u32(v.value);
    case 'i32':
      return w.i32(v.value);
    case 'f32':
      return w.f32(v.value);
    case 'u64':
      return w.u64(v.value);
    case 'bool':
      return w.u8(v.value ? 1 : 0);
    case 'string':
      return w.string(v.value);
    case 'array':
      w.u32(T[v.of]);
      w.u64(v.value.length);
      for (const x of v.value) {
        if (v.of === 'string') w.string(x as string);
        else if (v.of === 'i32') w.i32(x as number);
        else w.f32(x as number);
      }
  }
}

/** A GGUF v3 file: the metadata in order, then the tensors' infos and data, each aligned. */
export function ggufFile(
  path: string,
  metadata: ReadonlyMap<string, GgufValue>,
  tensors: readonly GgufTensor[],
): OutFile {
  const w = new Writer();
  w.u32(0x46554747); // "GGUF"
  w.u32(3);
  w.u64(tensors.length);
  w.u64(metadata.size);
  for (const [k, v] of metadata) {
    w.string(k);
    w.u32(T[v.type]);
    writeValue(w, v);
  }
  let offset = 0;
  for (const t of tensors) {
    const g = GGML_TYPES[t.type];
    const n = t.shape.reduce((a, b) => a * b, 1);
    const inner = t.shape[t.shape.length - 1];
    if (inner % g.block)
      throw new RangeError(`GGUF: ${t.name}'s rows (${inner}) are not whole ${t.type} blocks of ${g.block}`);
    if (t.data.byteLength !== (n / g.block) * g.bytes)
      throw new RangeError(
        `GGUF: ${t.name} holds ${t.data.byteLength} bytes; [${t.shape}] in ${t.type} needs ${(n / g.block) * g.bytes}`,
      );
    w.string(t.name);
    w.u32(t.shape.length);
    for (const d of [...t.shape].reverse()) w.u64(d);
    w.u32(g.id);
    w.u64(offset);
    offset += t.data.byteLength;
    offset += (ALIGNMENT - (offset % ALIGNMENT)) % ALIGNMENT;
  }
  w.pad(ALIGNMENT);
  const parts: Uint8Array[] = [w.bytes()];
  for (const t of tensors) {
    parts.push(t.data);
    const pad = (ALIGNMENT - (t.data.byteLength % ALIGNMENT)) % ALIGNMENT;
    if (pad) parts.push(new Uint8Array(pad));
  }
  return { path, parts };
}

/** What a GGUF file holds: metadata and tensor infos, read back (tests, and the checks of an export). */
export function readGguf(bytes: Uint8Array) {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let o = 0;
  const u32r = () => ((o += 4), v.getUint32(o - 4, true));
  const u64r = () => ((o += 8), Number(v.getBigUint64(o - 8, true)));
  const strr = () => {
    const n = u64r();
    o += n;
    return new TextDecoder().decode(bytes.subarray(o - n, o));
  };
  const names = Object.fromEntries(Object.entries(T).map(([k, id]) => [id, k]));
  const value = (t: number): unknown => {
    switch (names[t]) {
      case 'u8':
      case 'bool':
        return ((o += 1), bytes[o - 1]);
      case 'i8':
        return ((o += 1), v.getInt8(o - 1));
      case 'u16':
        return ((o += 2), v.getUint16(o - 2, true));
      case 'i16':
        return ((o += 2), v.getInt16(o - 2, true));
      case 'u32':
        return u32r();
      case 'i32':
        return ((o += 4), v.getInt32(o - 4, true));
      case 'f32':
        return ((o += 4), v.getFloat32(o - 4, true));
      case 'u64':
      case 'i64':
        return u64r();
      case 'f64':
        return ((o += 8), v.getFloat64(o - 8, true));
      case 'string':
        return strr();
      case 'array': {
        const et = u32r();
        const n = u64r();
        return Array.from({ length: n }, () => value(et));
      }
    }
    throw new Error(`GGUF: unknown value type ${t} at byte ${o}`);
  };
  if (u32r() !== 0x46554747) throw new Error('not a GGUF file');
  const version = u32r();
  const nt = u64r();
  const nk = u64r();
  const metadata = new Map<string, unknown>();
  for (let i = 0; i < nk; i++) {
    const k = strr();
    metadata.set(k, value(u32r()));
  }
  const types = Object.fromEntries(Object.entries(GGML_TYPES).map(([k, g]) => [g.id, k]));
  const tensors = Array.from({ length: nt }, () => {
    const name = strr();
    const dims = Array.from({ length: u32r() }, u64r);
    return { name, shape: dims.reverse(), type: types[u32r()] as GgmlType, offset: u64r() };
  });
  o += (ALIGNMENT - (o % ALIGNMENT)) % ALIGNMENT;
  return { version, metadata, tensors, dataStart: o };
}
