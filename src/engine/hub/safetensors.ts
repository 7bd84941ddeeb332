// safetensors, read and written: an 8-byte little-endian header length, a JSON header of
// {name: {dtype, shape, data_offsets: [begin, end]}} (offsets relative to the data section), then the bytes.
// Reading validates everything a truncated or hostile file could get wrong and converts F16 and BF16 to f32.
import type { F32Tensor } from '../util/tensor.js';

export class SafetensorsError extends Error {
  readonly code = 'SAFETENSORS_INVALID';
  constructor(file: string, message: string) {
    super(`${file}: ${message}`);
  }
}

const BYTES: Record<string, number> = {
  F32: 4,
  F16: 2,
  BF16: 2,
  F64: 8,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};
/** Larger headers are not honest for a checkpoint (GPT-2 or a small Llama: a few hundred tensors); refuse before parsing. */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

interface Entry {
  name: string;
  dtype: 'F32' | 'F16' | 'BF16';
  shape: number[];
  begin: number;
  end: number;
}

/**
 * A push parser: bytes go in as they arrive (a download, chunks read from storage) and each tensor is converted
 * into its own Float32Array as its bytes pass, so a 548 MB checkpoint never needs to be one buffer. The header is
 * validated as soon as it is complete; `size` (the whole file's length) lets truncation be named up front.
 */
export class SafetensorsParser {
  private head = new Uint8Array(0);
  private entries: Entry[] | null = null;
  private dataStart = 0;
  /** Bytes consumed so far (file offset of the next byte). */
  private pos = 0;
  private next = 0;
  private raw: Uint8Array | null = null;
  private readonly out = new Map<string, F32Tensor>();

  constructor(
    private readonly file: string,
    private readonly size: number,
    private readonly keep: (name: string) => boolean = () => true,
  ) {
    if (size < 8)
      throw new SafetensorsError(
        file,
        `is ${size} bytes, shorter than the 8-byte header length: the download is truncated`,
      );
  }

  push(chunk: Uint8Array): void {
    let c = chunk;
    while (!this.entries && c.length) {
      const need = this.head.length < 8 ? 8 : this.dataStart;
      const take = Math.min(need - this.head.length, c.length);
      const h = new Uint8Array(this.head.length + take);
      h.set(this.head);
      h.set(c.subarray(0, take), this.head.length);
      this.head = h;
      this.pos += take;
      c = c.subarray(take);
      if (this.head.length === 8) this.readLength();
      if (this.dataStart && this.head.length === this.dataStart) this.readHeader();
    }
    while (c.length) c = this.consume(c);
  }

  private readLength(): void {
    const n = Number(new DataView(this.head.buffer).getBigUint64(0, true));
    if (n > MAX_HEADER_BYTES)
      throw new SafetensorsError(
        this.file,
        `declares a ${n}-byte header, more than the ${MAX_HEADER_BYTES} a real checkpoint needs: the file is corrupt`,
      );
    if (8 + n > this.size)
      throw new SafetensorsError(
        this.file,
        `declares a ${n}-byte header but has only ${this.size - 8} bytes after the length: the download is truncated`,
      );
    this.dataStart = 8 + n;
  }

  private readHeader(): void {
    const file = this.file;
    let parsed: unknown;
    try {
      parsed = JSON.parse(new TextDecoder().decode(this.head.subarray(8)));
    } catch (e) {
      throw new SafetensorsError(file, `header is not valid JSON (${(e as Error).message})`);
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
      throw new SafetensorsError(file, 'header is not a JSON object');
    const header = parsed as Record<string, unknown>;
    const dataLen = this.size - this.dataStart;
    const entries: Entry[] = [];
    for (const [name, raw] of Object.entries(header)) {
      if (name === '__metadata__') continue;
      const t = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
      const where = `tensor "${name}"`;
      if (typeof t.dtype !== 'string' || !(t.dtype in BYTES))
        throw new SafetensorsError(file, `${where} has unknown dtype ${JSON.stringify(t.dtype)}`);
      if (!['F32', 'F16', 'BF16'].includes(t.dtype))
        throw new SafetensorsError(file, `${where} is ${t.dtype}; model weights must be F32, F16 or BF16`);
      if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isInteger(d) && d >= 0))
        throw new SafetensorsError(file, `${where} has an invalid shape ${JSON.stringify(t.shape)}`);
      const off = t.data_offsets;
      if (
        !Array.isArray(off) ||
        off.length !== 2 ||
        !off.every((x) => Number.isInteger(x) && x >= 0) ||
        off[1] < off[0]
      ) {
        throw new SafetensorsError(file, `${where} has invalid data_offsets ${JSON.stringify(off)}`);
      }
      const [b, e] = off as [number, number];
      if (e > dataLen)
        throw new SafetensorsError(
          file,
          `${where} ends at byte ${e} of a ${dataLen}-byte data section: the file is truncated`,
        );
      const numel = (t.shape as number[]).reduce((a, c) => a * c, 1);
      if (e - b !== numel * BYTES[t.dtype])
        throw new SafetensorsError(
          file,
          `${where} has shape [${t.shape}] (${numel * BYTES[t.dtype]} bytes of ${t.dtype}) but spans ${e - b} bytes`,
        );
      entries.push({
        name,
        dtype: t.dtype as Entry['dtype'],
        shape: t.shape as number[],
        begin: this.dataStart + b,
        end: this.dataStart + e,
      });
    }
    entries.sort((x, y) => x.begin - y.begin);
    for (let i = 1; i < entries.length; i++) {
      if (entries[i].begin < entries[i - 1].end)
        throw new SafetensorsError(file, `tensors "${entries[i - 1].name}" and "${entries[i].name}" overlap`);
    }
    this.entries = entries;
    this.head = new Uint8Array(0);
  }

  /** Takes bytes at `pos` for the current tensor (or skips a gap); returns what is left of `c`. */
  private consume(c: Uint8Array): Uint8Array {
    const e = this.entries![this.next];
    if (!e) {
      this.pos += c.length; // bytes after the last tensor
      return c.subarray(c.length);
    }
    if (this.pos < e.begin) {
      const skip = Math.min(e.begin - this.pos, c.length);
      this.pos += skip;
      return c.subarray(skip);
    }
    const n = Math.min(e.end - this.pos, c.length);
    if (this.keep(e.name)) {
      this.raw ??= new Uint8Array(e.end - e.begin);
      this.raw.set(c.subarray(0, n), this.pos - e.begin);
    }
    this.pos += n;
    if (this.pos === e.end) {
      if (this.keep(e.name)) this.out.set(e.name, { shape: e.shape, data: convert(e, this.raw ?? new Uint8Array(0)) });
      this.raw = null;
      this.next++;
    }
    return c.subarray(n);
  }

  /** Every tensor, once all `size` bytes have been pushed. */
  finish(): Map<string, F32Tensor> {
    if (this.pos !== this.size || !this.entries)
      throw new SafetensorsError(this.file, `ended after ${this.pos} of ${this.size} bytes: the file is truncated`);
    return this.out;
  }
}

function convert(e: Entry, raw: Uint8Array): Float32Array {
  const numel = e.shape.reduce((a, c) => a * c, 1);
  if (e.dtype === 'F32') return new Float32Array(raw.buffer, raw.byteOffset, numel); // raw is exactly this tensor's bytes (little-endian hosts)
  const data = new Float32Array(numel);
  const tv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  if (e.dtype === 'F16') for (let i = 0; i < numel; i++) data[i] = f16ToF32(tv.getUint16(2 * i, true));
  else {
    const u = new Uint32Array(data.buffer);
    for (let i = 0; i < numel; i++) u[i] = tv.getUint16(2 * i, true) << 16;
  }
  return data;
}

/** Parses a whole safetensors file held in memory into f32 tensors. Float dtypes only (F32, F16, BF16). */
export function readSafetensors(buf: Uint8Array, file = 'model.safetensors'): Map<string, F32Tensor> {
  const p = new SafetensorsParser(file, buf.byteLength);
  p.push(buf);
  return p.finish();
}

/** Parses a safetensors file arriving as chunks (from storage or the network), tensor by tensor. */
export async function readSafetensorsStream(
  chunks: AsyncIterable<Uint8Array>,
  size: number,
  file = 'model.safetensors',
  keep?: (name: string) => boolean,
): Promise<Map<string, F32Tensor>> {
  const p = new SafetensorsParser(file, size, keep);
  for await (const c of chunks) p.push(c);
  return p.finish();
}

/** The dtypes written: float32 as is, or halved (bfloat16, float16) for a smaller file. */
export type StoredDtype = 'F32' | 'BF16' | 'F16';

/** f32 bits (as a uint32) to bfloat16 bits, rounded to nearest even as torch's .to(torch.bfloat16) rounds. */
export const bf16Bits = (f32: number) => ((f32 + 0x7fff + ((f32 >>> 16) & 1)) >>> 16) & 0xffff;

/** f32 bits to IEEE half bits, rounded to nearest even; past 65504 is infinity, below 2^-24 zero (as torch). */
export function f16Bits(f32: number): number {
  const sign = (f32 >>> 16) & 0x8000;
  const exp = (f32 >>> 23) & 0xff;
  let mant = f32 & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // inf, nan
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000; // the implicit bit, then shifted into a subnormal
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let m = mant >>> shift;
    if (rest > half || (rest === half && m & 1)) m++;
    return sign | m;
  }
  let h = sign | (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h++; // may carry into the exponent: still right
  return h;
}

/** A tensor's bytes in `dtype`: a view for F32, a halved copy otherwise. */
function storedBytes(data: Float32Array, dtype: StoredDtype): Uint8Array {
  if (dtype === 'F32') return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const bits = new Uint32Array(data.buffer, data.byteOffset, data.length);
  const out = new Uint16Array(data.length);
  const conv = dtype === 'BF16' ? bf16Bits : f16Bits;
  for (let i = 0; i < data.length; i++) out[i] = conv(bits[i]);
  return new Uint8Array(out.buffer);
}

/**
 * A safetensors file as parts: the header (padded with spaces to a multiple of 8 bytes, as the reference writer
 * does), then each tensor's bytes: a view on the weights for F32 (no copy), converted for BF16 and F16.
 */
export function safetensorsParts(
  tensors: Record<string, F32Tensor>,
  metadata: Record<string, string> = { format: 'pt' },
  dtype: StoredDtype = 'F32',
): Uint8Array[] {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = { __metadata__: metadata };
  let off = 0;
  for (const k of names) {
    const t = tensors[k];
    const size = t.data.length * (dtype === 'F32' ? 4 : 2);
    if (t.data.length !== t.shape.reduce((a, b) => a * b, 1))
      throw new Error(`tensor ${k}: ${t.data.length} values for shape [${t.shape}]`);
    header[k] = { dtype, shape: t.shape, data_offsets: [off, off + size] };
    off += size;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const pad = (8 - (json.length % 8)) % 8;
  if (pad) json = new TextEncoder().encode(JSON.stringify(header) + ' '.repeat(pad));
  const head = new Uint8Array(8 + json.length);
  new DataView(head.buffer).setBigUint64(0, BigInt(json.length), true);
  head.set(json, 8);
  // little-endian hosts (every browser and Node target)
  return [head, ...names.map((k) => storedBytes(tensors[k].data, dtype))];
}

export function writeSafetensors(
  tensors: Record<string, F32Tensor>,
  metadata: Record<string, string> = { format: 'pt' },
  dtype: StoredDtype = 'F32',
): Uint8Array {
  const parts = safetensorsParts(tensors, metadata, dtype);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
}
