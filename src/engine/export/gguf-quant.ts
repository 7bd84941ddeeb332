// Tensor encodings of a GGUF file, byte for byte as ggml's reference quantizers write them (ggml-quants.c's
// quantize_row_*_ref, every step rounded to float32 as C computes it): F32 as is, F16 rounded to nearest even, Q8_0
// (blocks of 32: an f16 scale d = max|x| / 127 and 32 int8 round(x / d)), Q4_K (super-blocks of 256: 8 sub-blocks
// of 32 with 6-bit scales and mins fitted by make_qkx2_quants, 4-bit values); Q6_K and Q5_0 in gguf-q6k.ts. The
// decoders give back what llama.cpp
// computes with, for the round-trip checks.
import { f16Bits, f16ToF32 } from '../hub/safetensors.js';
import type { GgmlType } from './gguf.js';
import { decodeQ5_0, decodeQ6K, q5_0, q6K } from './gguf-q6k.js';

const f32Bits = (x: Float32Array) => new Uint32Array(x.buffer, x.byteOffset, x.length);

function f16(x: Float32Array): Uint8Array {
  const bits = f32Bits(x);
  const out = new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = f16Bits(bits[i]);
  return new Uint8Array(out.buffer);
}

const fr = Math.fround;
/** C's roundf: halves away from zero. */
const roundf = (x: number) => (x < 0 ? -Math.floor(-x + 0.5) : Math.floor(x + 0.5));
/** ggml's nearest_int: the float magic 12582912, halves to even. */
const nearestInt = (x: number) => fr(x + 12582912) - 12582912;
const halfBits = (x: number) => f16Bits(new Uint32Array(Float32Array.of(x).buffer)[0]);

function q8_0(x: Float32Array): Uint8Array {
  const blocks = x.length / 32;
  const out = new Uint8Array(blocks * 34);
  const v = new DataView(out.buffer);
  for (let b = 0; b < blocks; b++) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[b * 32 + j]));
    const d = fr(amax / 127);
    const id = d ? fr(1 / d) : 0;
    v.setUint16(b * 34, halfBits(d), true);
    for (let j = 0; j < 32; j++) v.setInt8(b * 34 + 2 + j, roundf(fr(x[b * 32 + j] * id)));
  }
  return out;
}

/**
 * make_qkx2_quants(n, nmax, x, w, L, &min, Laux, rmin, rdelta, nstep, false): a scale and a min (returned as -min,
 * >= 0) for x[o, o + n) with levels 0..nmax in L, the weighted squared error's best over nstep + 1 trial scales, each
 * refitted by least squares.
 */
function makeQkx2(
  n: number,
  nmax: number,
  x: Float32Array,
  o: number,
  w: Float32Array,
  L: Uint8Array,
  Lo: number,
  Laux: Uint8Array,
  rmin: number,
  rdelta: number,
  nstep: number,
): [number, number] {
  let min = x[o];
  let max = x[o];
  let sumW = w[0];
  let sumX = fr(sumW * x[o]);
  for (let i = 1; i < n; i++) {
    if (x[o + i] < min) min = x[o + i];
    if (x[o + i] > max) max = x[o + i];
    sumW = fr(sumW + w[i]);
    sumX = fr(sumX + fr(w[i] * x[o + i]));
  }
  if (min > 0) min = 0;
  if (max === min) {
    L.fill(0, Lo, Lo + n);
    return [0, -min];
  }
  const level = (iscale: number, i: number) => Math.max(0, Math.min(nmax, nearestInt(fr(iscale * fr(x[o + i] - min)))));
  let iscale = fr(nmax / fr(max - min));
  let scale = fr(1 / iscale);
  let best = 0;
  for (let i = 0; i < n; i++) {
    const l = level(iscale, i);
    L[Lo + i] = l;
    const diff = fr(fr(fr(scale * l) + min) - x[o + i]);
    best = fr(best + fr(w[i] * fr(diff * diff)));
  }
  for (let is = 0; is <= nstep; is++) {
    iscale = fr(fr(fr(rmin + fr(rdelta * is)) + nmax) / fr(max - min));
    let sl = 0;
    let sl2 = 0;
    let sxl = 0;
    for (let i = 0; i < n; i++) {
      const l = level(iscale, i);
      Laux[i] = l;
      const wl = fr(w[i] * l);
      sl = fr(sl + wl);
      sl2 = fr(sl2 + fr(wl * l));
      sxl = fr(sxl + fr(wl * x[o + i]));
    }
    const D = fr(fr(sumW * sl2) - fr(sl * sl));
    if (D > 0) {
      let ts = fr(fr(fr(sumW * sxl) - fr(sumX * sl)) / D);
      let tm = fr(fr(fr(sl2 * sumX) - fr(sl * sxl)) / D);
      if (tm > 0) {
        tm = 0;
        ts = fr(sxl / sl2);
      }
      let cur = 0;
      for (let i = 0; i < n; i++) {
        const diff = fr(fr(fr(ts * Laux[i]) + tm) - x[o + i]);
        cur = fr(cur + fr(w[i] * fr(diff * diff)));
      }
      if (cur < best) {
        for (let i = 0; i < n; i++) L[Lo + i] = Laux[i];
        best = cur;
        scale = ts;
        min = tm;
      }
    }
  }
  return [scale, -min];
}

/** get_scale_min_k4: sub-block j's 6-bit scale and min from the 12 packed bytes at q[o]. */
function scaleMinK4(j: number, q: Uint8Array, o: number): [number, number] {
  if (j < 4) return [q[o + j] & 63, q[o + j + 4] & 63];
  return [(q[o + j + 4] & 0xf) | ((q[o + j - 4] >> 6) << 4), (q[o + j + 4] >> 4) | ((q[o + j] >> 6) << 4)];
}

/** quantize_row_q4_K_ref: 144-byte blocks {f16 d, f16 dmin, u8 scales[12], u8 qs[128]}. */
function q4K(x: Float32Array): Uint8Array {
  const nb = x.length / 256;
  const out = new Uint8Array(nb * 144);
  const v = new DataView(out.buffer);
  const L = new Uint8Array(256);
  const Laux = new Uint8Array(32);
  const w = new Float32Array(32);
  const scales = new Float32Array(8);
  const mins = new Float32Array(8);
  for (let i = 0; i < nb; i++) {
    const xo = i * 256;
    const bo = i * 144;
    const sc = out.subarray(bo + 4, bo + 16);
    let maxScale = 0;
    let maxMin = 0;
    for (let j = 0; j < 8; j++) {
      let sx2 = 0;
      for (let l = 0; l < 32; l++) sx2 = fr(sx2 + fr(x[xo + 32 * j + l] * x[xo + 32 * j + l]));
      const av = fr(Math.sqrt(fr(sx2 / 32)));
      for (let l = 0; l < 32; l++) w[l] = fr(av + Math.abs(x[xo + 32 * j + l]));
      const [s, m] = makeQkx2(32, 15, x, xo + 32 * j, w, L, 32 * j, Laux, -1, fr(0.1), 20);
      scales[j] = s;
      mins[j] = m;
      if (s > maxScale) maxScale = s;
      if (m > maxMin) maxMin = m;
    }
    const invS = maxScale > 0 ? fr(63 / maxScale) : 0;
    const invM = maxMin > 0 ? fr(63 / maxMin) : 0;
    for (let j = 0; j < 8; j++) {
      const ls = Math.min(63, nearestInt(fr(invS * scales[j])) & 0xff);
      const lm = Math.min(63, nearestInt(fr(invM * mins[j])) & 0xff);
      if (j < 4) {
        sc[j] = ls;
        sc[j + 4] = lm;
      } else {
        sc[j + 4] = (ls & 0xf) | ((lm & 0xf) << 4);
        sc[j - 4] |= (ls >> 4) << 6;
        sc[j] |= (lm >> 4) << 6;
      }
    }
    const dH = halfBits(fr(maxScale / 63));
    const mH = halfBits(fr(maxMin / 63));
    v.setUint16(bo, dH, true);
    v.setUint16(bo + 2, mH, true);
    const dF = f16ToF32(dH);
    const mF = f16ToF32(mH);
    for (let j = 0; j < 8; j++) {
      const [s, m] = scaleMinK4(j, sc, 0);
      const d = fr(dF * s);
      if (!d) continue;
      const dm = fr(mF * m);
      for (let ii = 0; ii < 32; ii++)
        L[32 * j + ii] = Math.max(0, Math.min(15, nearestInt(fr(fr(x[xo + 32 * j + ii] + dm) / d))));
    }
    let q = bo + 16;
    for (let j = 0; j < 256; j += 64) {
      for (let l = 0; l < 32; l++) out[q + l] = L[j + l] | (L[j + l + 32] << 4);
      q += 32;
    }
  }
  return out;
}

/** A float32 tensor in `type`'s layout (its length a whole number of the type's blocks). */
export function encodeTensor(x: Float32Array, type: GgmlType): Uint8Array {
  switch (type) {
    case 'F32':
      return new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
    case 'F16':
      return f16(x);
    case 'Q8_0':
      return q8_0(x);
    case 'Q4_K':
      return q4K(x);
    case 'Q6_K':
      return q6K(x);
    case 'Q5_0':
      return q5_0(x);
  }
}

/** The values llama.cpp reads back from `type`'s bytes. */
export function decodeTensor(bytes: Uint8Array, type: GgmlType, n: number): Float32Array {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(n);
  switch (type) {
    case 'F32':
      for (let i = 0; i < n; i++) out[i] = v.getFloat32(4 * i, true);
      return out;
    case 'F16':
      for (let i = 0; i < n; i++) out[i] = f16ToF32(v.getUint16(2 * i, true));
      return out;
    case 'Q8_0':
      for (let b = 0; b < n / 32; b++) {
        const d = f16ToF32(v.getUint16(b * 34, true));
        for (let j = 0; j < 32; j++) out[b * 32 + j] = d * v.getInt8(b * 34 + 2 + j);
      }
      return out;
    case 'Q4_K': {
      let k = 0;
      for (let i = 0; i < n / 256; i++) {
        const bo = i * 144;
        const d = f16ToF32(v.getUint16(bo, true));
        const mn = f16ToF32(v.getUint16(bo + 2, true));
        let q = bo + 16;
        for (let j = 0, is = 0; j < 256; j += 64, is += 2, q += 32) {
          const [s1, m1] = scaleMinK4(is, bytes, bo + 4);
          const [s2, m2] = scaleMinK4(is + 1, bytes, bo + 4);
          for (let l = 0; l < 32; l++) out[k++] = d * s1 * (bytes[q + l] & 0xf) - mn * m1;
          for (let l = 0; l < 32; l++) out[k++] = d * s2 * (bytes[q + l] >> 4) - mn * m2;
        }
      }
      return out;
    }
    case 'Q6_K':
      return decodeQ6K(bytes, n);
    case 'Q5_0':
      return decodeQ5_0(bytes, n);
  }
}
