// GGUF's Q6_K and Q5_0 encodings, byte for byte as ggml-quants.c's quantize_row_q6_K_ref and quantize_row_q5_0_ref
// write them (every float step rounded to float32 as C computes it), and their decoders (dequantize_row_*): Q6_K
// for the tensors llama.cpp's Q4_K_M gives more bits, Q5_0 for rows too short for Q4_K's 256-blocks.
import { f16Bits, f16ToF32 } from '../hub/safetensors.js';

const fr = Math.fround;
const GROUP_MAX_EPS = fr(1e-15);
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const i32 = new Int32Array(f32.buffer);
const halfBits = (x: number) => {
  f32[0] = x;
  return f16Bits(u32[0]);
};
/** ggml's nearest_int, bit for bit: (bits(f + 12582912.f) & 0x7fffff) - 0x400000 (halves to even). */
const nearestInt = (x: number) => {
  f32[0] = x + 12582912;
  return (i32[0] & 0x007fffff) - 0x00400000;
};

/** make_qx_quants(n, nmax, x + o, L + Lo, rmse_type = 1, qw = NULL): L holds l + nmax. */
function makeQx(n: number, nmax: number, x: Float32Array, o: number, L: Uint8Array, Lo: number): number {
  let max = 0;
  let amax = 0;
  for (let i = 0; i < n; i++) {
    const ax = Math.abs(x[o + i]);
    if (ax > amax) {
      amax = ax;
      max = x[o + i];
    }
  }
  if (amax < GROUP_MAX_EPS) {
    L.fill(0, Lo, Lo + n);
    return 0;
  }
  const lv = (iscale: number, i: number) => Math.max(-nmax, Math.min(nmax - 1, nearestInt(fr(iscale * x[o + i]))));
  let iscale = fr(-nmax / max);
  let sumlx = 0;
  let suml2 = 0;
  for (let i = 0; i < n; i++) {
    const l = lv(iscale, i);
    L[Lo + i] = l + nmax;
    const xi = x[o + i];
    const w = fr(xi * xi);
    sumlx = fr(sumlx + fr(fr(w * xi) * l));
    suml2 = fr(suml2 + fr(fr(w * l) * l));
  }
  let scale = suml2 ? fr(sumlx / suml2) : 0;
  let best = fr(scale * sumlx);
  for (let is = -9; is <= 9; is++) {
    if (is === 0) continue;
    iscale = fr(-fr(nmax + fr(fr(0.1) * is)) / max);
    sumlx = 0;
    suml2 = 0;
    for (let i = 0; i < n; i++) {
      const l = lv(iscale, i);
      const xi = x[o + i];
      const w = fr(xi * xi);
      sumlx = fr(sumlx + fr(fr(w * xi) * l));
      suml2 = fr(suml2 + fr(fr(w * l) * l));
    }
    if (suml2 > 0 && fr(sumlx * sumlx) > fr(best * suml2)) {
      for (let i = 0; i < n; i++) L[Lo + i] = nmax + lv(iscale, i);
      scale = fr(sumlx / suml2);
      best = fr(scale * sumlx);
    }
  }
  return scale;
}

/** quantize_row_q6_K_ref: 210-byte blocks {u8 ql[128], u8 qh[64], i8 scales[16], f16 d}. */
export function q6K(x: Float32Array): Uint8Array {
  if (x.length % 256) throw new RangeError('q6K: length % 256');
  const nb = x.length / 256;
  const out = new Uint8Array(nb * 210);
  const v = new DataView(out.buffer);
  const L = new Uint8Array(256);
  const scales = new Float32Array(16);
  for (let i = 0; i < nb; i++) {
    const xo = i * 256;
    const bo = i * 210;
    let maxScale = 0;
    let maxAbsScale = 0;
    for (let ib = 0; ib < 16; ib++) {
      const s = makeQx(16, 32, x, xo + 16 * ib, L, 16 * ib);
      scales[ib] = s;
      const as = Math.abs(s);
      if (as > maxAbsScale) {
        maxAbsScale = as;
        maxScale = s;
      }
    }
    if (maxAbsScale < GROUP_MAX_EPS) continue; // all zero bytes, d = +0
    const iscale = fr(-128 / maxScale);
    const dH = halfBits(fr(1 / iscale));
    v.setUint16(bo + 208, dH, true);
    for (let ib = 0; ib < 16; ib++) v.setInt8(bo + 192 + ib, Math.min(127, nearestInt(fr(iscale * scales[ib]))));
    const dF = f16ToF32(dH);
    for (let j = 0; j < 16; j++) {
      const d = fr(dF * v.getInt8(bo + 192 + j));
      if (!d) continue;
      for (let ii = 0; ii < 16; ii++) {
        const l = Math.max(-32, Math.min(31, nearestInt(fr(x[xo + 16 * j + ii] / d))));
        L[16 * j + ii] = l + 32;
      }
    }
    let ql = bo;
    let qh = bo + 128;
    for (let j = 0; j < 256; j += 128) {
      for (let l = 0; l < 32; l++) {
        const a = L[j + l];
        const b = L[j + l + 32];
        const c = L[j + l + 64];
        const e = L[j + l + 96];
        out[ql + l] = (a & 0xf) | ((c & 0xf) << 4);
        out[ql + l + 32] = (b & 0xf) | ((e & 0xf) << 4);
        out[qh + l] = (a >> 4) | ((b >> 4) << 2) | ((c >> 4) << 4) | ((e >> 4) << 6);
      }
      ql += 64;
      qh += 32;
    }
  }
  return out;
}

/** quantize_row_q5_0_ref: 22-byte blocks {f16 d, u8 qh[4], u8 qs[16]}. */
export function q5_0(x: Float32Array): Uint8Array {
  if (x.length % 32) throw new RangeError('q5_0: length % 32');
  const nb = x.length / 32;
  const out = new Uint8Array(nb * 22);
  const v = new DataView(out.buffer);
  for (let i = 0; i < nb; i++) {
    const xo = i * 32;
    const bo = i * 22;
    let amax = 0;
    let max = 0;
    for (let j = 0; j < 32; j++) {
      const a = Math.abs(x[xo + j]);
      if (amax < a) {
        amax = a;
        max = x[xo + j];
      }
    }
    const d = fr(max / -16);
    const id = d ? fr(1 / d) : 0;
    v.setUint16(bo, halfBits(d), true);
    let qh = 0;
    for (let j = 0; j < 16; j++) {
      const x0 = fr(x[xo + j] * id);
      const x1 = fr(x[xo + 16 + j] * id);
      // (int8_t)(x0 + 16.5f): truncation toward zero, then MIN(31, ...) into a uint8_t
      const xi0 = Math.min(31, (Math.trunc(fr(x0 + 16.5)) << 24) >> 24) & 0xff;
      const xi1 = Math.min(31, (Math.trunc(fr(x1 + 16.5)) << 24) >> 24) & 0xff;
      out[bo + 6 + j] = (xi0 & 0x0f) | ((xi1 & 0x0f) << 4);
      qh |= ((xi0 & 0x10) >> 4) << j;
      qh |= ((xi1 & 0x10) >> 4) << (j + 16);
    }
    v.setUint32(bo + 2, qh >>> 0, true);
  }
  return out;
}

/** dequantize_row_q6_K. */
export function decodeQ6K(b: Uint8Array, n: number): Float32Array {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const y = new Float32Array(n);
  for (let i = 0; i < n / 256; i++) {
    const bo = i * 210;
    const d = f16ToF32(v.getUint16(bo + 208, true));
    let ql = bo;
    let qh = bo + 128;
    let sc = bo + 192;
    let yo = i * 256;
    for (let k = 0; k < 256; k += 128) {
      for (let l = 0; l < 32; l++) {
        const is = l >> 4;
        const q1 = ((b[ql + l] & 0xf) | (((b[qh + l] >> 0) & 3) << 4)) - 32;
        const q2 = ((b[ql + l + 32] & 0xf) | (((b[qh + l] >> 2) & 3) << 4)) - 32;
        const q3 = ((b[ql + l] >> 4) | (((b[qh + l] >> 4) & 3) << 4)) - 32;
        const q4 = ((b[ql + l + 32] >> 4) | (((b[qh + l] >> 6) & 3) << 4)) - 32;
        y[yo + l] = fr(fr(d * v.getInt8(sc + is)) * q1);
        y[yo + l + 32] = fr(fr(d * v.getInt8(sc + is + 2)) * q2);
        y[yo + l + 64] = fr(fr(d * v.getInt8(sc + is + 4)) * q3);
        y[yo + l + 96] = fr(fr(d * v.getInt8(sc + is + 6)) * q4);
      }
      yo += 128;
      ql += 64;
      qh += 32;
      sc += 8;
    }
  }
  return y;
}

/** dequantize_row_q5_0. */
export function decodeQ5_0(b: Uint8Array, n: number): Float32Array {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const y = new Float32Array(n);
  for (let i = 0; i < n / 32; i++) {
    const bo = i * 22;
    const d = f16ToF32(v.getUint16(bo, true));
    const qh = v.getUint32(bo + 2, true);
    for (let j = 0; j < 16; j++) {
      const xh0 = ((qh >>> j) << 4) & 0x10;
      const xh1 = (qh >>> (j + 12)) & 0x10;
      const x0 = ((b[bo + 6 + j] & 0x0f) | xh0) - 16;
      const x1 = ((b[bo + 6 + j] >> 4) | xh1) - 16;
      y[i * 32 + j] = fr(x0 * d);
      y[i * 32 + j + 16] = fr(x1 * d);
    }
  }
  return y;
}
