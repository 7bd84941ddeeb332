// The safetensors reader on good and malformed files: each defect gives its own clear message.
import { describe, expect, it } from 'vitest';
import { readSafetensors, readSafetensorsStream, writeSafetensors } from './safetensors.js';

function file(header: object, dataBytes: number, declaredLen?: number): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(declaredLen ?? json.length), true);
  out.set(json, 8);
  return out;
}

describe('safetensors', () => {
  it('round-trips f32 tensors', () => {
    const a = { shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, -6.5]) };
    const m = readSafetensors(writeSafetensors({ a, b: { shape: [1], data: Float32Array.of(7) } }));
    expect(m.get('a')).toEqual(a);
    expect(m.get('b')!.data[0]).toBe(7);
  });
  it('reads F16 and BF16 into f32', () => {
    const buf = file(
      { h: { dtype: 'F16', shape: [2], data_offsets: [0, 4] }, b: { dtype: 'BF16', shape: [1], data_offsets: [4, 6] } },
      6,
    );
    const dv = new DataView(buf.buffer);
    const base = buf.length - 6;
    dv.setUint16(base, 0x3c00, true); // 1.0
    dv.setUint16(base + 2, 0xc000, true); // -2.0
    dv.setUint16(base + 4, 0x4049, true); // bf16 3.140625
    const m = readSafetensors(buf);
    expect(Array.from(m.get('h')!.data)).toEqual([1, -2]);
    expect(m.get('b')!.data[0]).toBeCloseTo(3.140625, 6);
  });
  const t = (o: object) => ({ x: { dtype: 'F32', shape: [2], data_offsets: [0, 8], ...o } });
  it.each([
    ['a file shorter than 8 bytes', new Uint8Array(3), /truncated/],
    ['a header length past the end', file(t({}), 8, 10_000), /declares a 10000-byte header.*truncated/],
    ['a header too large to be honest', file(t({}), 8, 2 ** 40), /more than .* a real checkpoint needs/],
    [
      'a header that is not JSON',
      (() => {
        const f = file(t({}), 8);
        f[8] = 0x7b;
        f[9] = 0x7b;
        return f;
      })(),
      /not valid JSON/,
    ],
    ['offsets out of range', file(t({ data_offsets: [0, 64] }), 8), /ends at byte 64 of a 8-byte data section/],
    ['overlapping tensors', file({ ...t({}), y: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, 8), /overlap/],
    ['an unknown dtype', file(t({ dtype: 'Q4' }), 8), /unknown dtype "Q4"/],
    ['a shape not matching its bytes', file(t({ shape: [3] }), 8), /shape \[3\].*spans 8 bytes/],
    ['an integer tensor', file(t({ dtype: 'I32' }), 8), /must be F32, F16 or BF16/],
  ])('rejects %s', (_name, buf, msg) => {
    expect(() => readSafetensors(buf, 'model.safetensors')).toThrow(msg);
  });
});

describe('safetensors as a stream', () => {
  const tensors = {
    'h.0.attn.bias': { shape: [1, 1, 2, 2], data: new Float32Array(4) },
    a: { shape: [3, 5], data: Float32Array.from({ length: 15 }, (_, i) => i * 0.5 - 3) },
    b: { shape: [7], data: Float32Array.from({ length: 7 }, (_, i) => -i) },
  };
  const buf = writeSafetensors(tensors);
  // the parser reads an async stream of chunks, as a download delivers them
  // eslint-disable-next-line @typescript-eslint/require-await
  async function* cut(b: Uint8Array, sizes: number[]) {
    let off = 0;
    for (let i = 0; off < b.length; i++) {
      const n = sizes[i % sizes.length];
      yield b.subarray(off, off + n);
      off += n;
    }
  }
  it.each([[[1]], [[3, 7]], [[9]], [[64]], [[100_000]]])(
    'gives the same tensors in chunks of %j bytes',
    async (sizes) => {
      const m = await readSafetensorsStream(cut(buf, sizes), buf.length);
      expect(m.get('a')).toEqual(tensors.a);
      expect(m.get('b')).toEqual(tensors.b);
    },
  );
  it('skips the tensors it is told to, without keeping their bytes', async () => {
    const m = await readSafetensorsStream(cut(buf, [5]), buf.length, 'x', (n) => !n.endsWith('attn.bias'));
    expect([...m.keys()].sort()).toEqual(['a', 'b']);
  });
  it('names a stream that ends early', async () => {
    await expect(
      readSafetensorsStream(cut(buf.subarray(0, buf.length - 3), [16]), buf.length, 'gpt2/model.safetensors'),
    ).rejects.toThrow(/gpt2\/model.safetensors: ended after \d+ of \d+ bytes: the file is truncated/);
  });
});

describe('writing halved dtypes (export --dtype)', () => {
  const values = Float32Array.of(1, -2.5, 0.1, 3.14159, 65504, 70000, 1e-8, 6e-5, -0, Infinity, 1 / 3, 1e-3);
  const round = (dtype: 'BF16' | 'F16') =>
    readSafetensors(writeSafetensors({ x: { shape: [values.length], data: values } }, undefined, dtype)).get('x')!;

  it('BF16 as torch rounds it (to nearest even), the header saying BF16, half the bytes', () => {
    const bytes = writeSafetensors({ x: { shape: [values.length], data: values } }, undefined, 'BF16');
    expect(bytes.length).toBeLessThan(8 + 200 + 2 * values.length);
    expect(new TextDecoder().decode(bytes.subarray(8, 80))).toContain('"dtype":"BF16"');
    const got = round('BF16').data;
    // torch.tensor([...]).to(torch.bfloat16).float()
    expect(Array.from(got.subarray(0, 4))).toEqual([1, -2.5, 0.10009765625, 3.140625]);
    expect(got[4]).toBe(65536);
    for (let i = 0; i < values.length; i++)
      if (Number.isFinite(values[i]))
        expect(Math.abs(got[i] - values[i])).toBeLessThanOrEqual(Math.abs(values[i]) / 256);
  });

  it('F16 as torch rounds it: 65504 kept, past it infinity, subnormals, tiny values to zero', () => {
    const got = round('F16').data;
    expect(Array.from(got.subarray(0, 5))).toEqual([1, -2.5, 0.0999755859375, 3.140625, 65504]);
    expect(got[5]).toBe(Infinity);
    expect(got[6]).toBe(0); // below half of the smallest subnormal (2^-25)
    expect(got[7]).toBe(1007 * 2 ** -24); // a subnormal: 6e-5 / 2^-24 = 1006.6, rounded
    expect(Object.is(got[8], -0)).toBe(true);
    expect(got[9]).toBe(Infinity);
    expect(got[10]).toBe(0.333251953125);
  });
});
