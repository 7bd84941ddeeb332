// safetensors, read and written: an 8-byte little-endian header length, a JSON header of
// {name: {dtype, shape, data_offsets: [begin, end]}} (offsets relative to the data section), then the bytes.
// Reading validates everything a truncated or hostile file could get wrong and converts F16 and BF16 to f32.
export class SafetensorsError extends Error {
  readonly code = 'SAFETENSORS_INVALID';
  constructor(file: string, message: string) {
    super(`${file}: ${message}`);
  }
}

export interface F32Tensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

const BYTES: Record<string, number> = { F32: 4, F16: 2, BF16: 2, F64: 8, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };
/** Larger headers are not honest for a GPT-2 checkpoint (a few hundred tensors); refuse before parsing. */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

/** Parses a whole safetensors file into f32 tensors. Float dtypes only (F32, F16, BF16). */
export function readSafetensors(buf: Uint8Array, file = 'model.safetensors'): Map<string, F32Tensor> {
  if (buf.byteLength < 8) throw new SafetensorsError(file, `is ${buf.byteLength} bytes, shorter than the 8-byte header length: the download is truncated`);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = Number(dv.getBigUint64(0, true));
  if (n > MAX_HEADER_BYTES) throw new SafetensorsError(file, `declares a ${n}-byte header, more than the ${MAX_HEADER_BYTES} a real checkpoint needs: the file is corrupt`);
  if (8 + n > buf.byteLength) throw new SafetensorsError(file, `declares a ${n}-byte header but has only ${buf.byteLength - 8} bytes after the length: the download is truncated`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(buf.subarray(8, 8 + n)));
  } catch (e) {
    throw new SafetensorsError(file, `header is not valid JSON (${(e as Error).message})`);
  }
  if (!header || typeof header !== 'object' || Array.isArray(header)) throw new SafetensorsError(file, 'header is not a JSON object');
  const dataStart = 8 + n;
  const dataLen = buf.byteLength - dataStart;
  const spans: [number, number, string][] = [];
  const out = new Map<string, F32Tensor>();
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const t = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const where = `tensor "${name}"`;
    if (typeof t.dtype !== 'string' || !(t.dtype in BYTES)) throw new SafetensorsError(file, `${where} has unknown dtype ${JSON.stringify(t.dtype)}`);
    if (!['F32', 'F16', 'BF16'].includes(t.dtype)) throw new SafetensorsError(file, `${where} is ${t.dtype}; GPT-2 weights must be F32, F16 or BF16`);
    if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isInteger(d) && d >= 0)) throw new SafetensorsError(file, `${where} has an invalid shape ${JSON.stringify(t.shape)}`);
    const off = t.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((x) => Number.isInteger(x) && x >= 0) || off[1] < off[0]) {
      throw new SafetensorsError(file, `${where} has invalid data_offsets ${JSON.stringify(off)}`);
    }
    const [b, e] = off as [number, number];
    if (e > dataLen) throw new SafetensorsError(file, `${where} ends at byte ${e} of a ${dataLen}-byte data section: the file is truncated`);
    const numel = (t.shape as number[]).reduce((a, c) => a * c, 1);
    if (e - b !== numel * BYTES[t.dtype]) throw new SafetensorsError(file, `${where} has shape [${t.shape}] (${numel * BYTES[t.dtype]} bytes of ${t.dtype}) but spans ${e - b} bytes`);
    spans.push([b, e, name]);
    const bytes = buf.subarray(dataStart + b, dataStart + e);
    const data = new Float32Array(numel);
    const tv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (t.dtype === 'F32') for (let i = 0; i < numel; i++) data[i] = tv.getFloat32(4 * i, true);
    else if (t.dtype === 'F16') for (let i = 0; i < numel; i++) data[i] = f16ToF32(tv.getUint16(2 * i, true));
    else {
      const u = new Uint32Array(data.buffer);
      for (let i = 0; i < numel; i++) u[i] = tv.getUint16(2 * i, true) << 16;
    }
    out.set(name, { shape: t.shape as number[], data });
  }
  spans.sort((x, y) => x[0] - y[0]);
  for (let i = 1; i < spans.length; i++) {
    if (spans[i][0] < spans[i - 1][1]) throw new SafetensorsError(file, `tensors "${spans[i - 1][2]}" and "${spans[i][2]}" overlap`);
  }
  return out;
}

/** Writes f32 tensors; the header is padded with spaces to a multiple of 8 bytes, as the reference writer does. */
export function writeSafetensors(tensors: Record<string, F32Tensor>, metadata: Record<string, string> = { format: 'pt' }): Uint8Array {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = { __metadata__: metadata };
  let off = 0;
  for (const k of names) {
    const t = tensors[k];
    const size = t.data.length * 4;
    if (t.data.length !== t.shape.reduce((a, b) => a * b, 1)) throw new Error(`tensor ${k}: ${t.data.length} values for shape [${t.shape}]`);
    header[k] = { dtype: 'F32', shape: t.shape, data_offsets: [off, off + size] };
    off += size;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const pad = (8 - (json.length % 8)) % 8;
  if (pad) json = new TextEncoder().encode(JSON.stringify(header) + ' '.repeat(pad));
  const out = new Uint8Array(8 + json.length + off);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let p = 8 + json.length;
  for (const k of names) {
    const d = tensors[k].data;
    out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), p); // little-endian hosts (every browser and Node target)
    p += d.byteLength;
  }
  return out;
}
