// The transformers.js decoder graph (optimum.ts) built from the families' own decoders, fed directly: a GPT-2's
// file declares Optimum's symbolic dims, and at sizes it was not built with (a left-padded batch of 3, a 7-token
// prompt, then one cached step) gives each row the independent reference's logits. The Llama family's are in
// llama-onnx.test.ts, with transformers.js itself.
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { gpt2OnnxFiles } from './gpt2.js';
import { referenceLogits } from './gpt2.reference.js';
import { initGpt2, TINY_GPT2 } from './init.js';
import { ONNX_DATA, ONNX_MODEL } from './optimum.js';
import { joined } from '../util/files.js';

const c = TINY_GPT2;
const W = initGpt2(c, 3);
const H = c.n_head;
const D = c.n_embd / H;

/** The model file and its data in memory, as onnxruntime takes external data. */
async function session() {
  const files = gpt2OnnxFiles(c, W);
  const bytes = (p: string) => joined(files.find((f) => f.path === p)!);
  return {
    model: bytes(ONNX_MODEL),
    s: await ort.InferenceSession.create(bytes(ONNX_MODEL), {
      externalData: [{ path: 'model.onnx_data', data: bytes(ONNX_DATA) }],
    }),
  };
}

describe('the transformers.js graph, from the family decoder', () => {
  it("declares Optimum's inputs and outputs with batch and lengths symbolic, and keeps the weights outside", async () => {
    const { model, s } = await session();
    expect(s.inputNames.slice(0, 3)).toEqual(['input_ids', 'attention_mask', 'position_ids']);
    expect(s.inputNames[3]).toBe('past_key_values.0.key');
    expect(s.outputNames[0]).toBe('logits');
    expect(s.outputNames.at(-1)).toBe(`present.${c.n_layer - 1}.value`);
    const text = new TextDecoder('latin1').decode(model);
    for (const d of ['batch_size', 'sequence_length', 'past_sequence_length', 'total_sequence_length'])
      expect(text).toContain(d);
    expect(model.byteLength).toBeLessThan(200_000); // the 3.3M weights are in model.onnx_data
    await s.release();
  });

  it('at sizes it was not built with (a left-padded batch of 3, then a cached step) gives each row its logits', async () => {
    const { s } = await session();
    const rows = [[17, 200, 345], [9, 64, 311, 8, 100, 77, 5], [1000]]; // left-padded to 7
    const T = 7;
    const ids: number[] = [];
    const mask: number[] = [];
    const pos: number[] = [];
    for (const r of rows) {
      const pad = T - r.length;
      ids.push(...Array<number>(pad).fill(0), ...r);
      mask.push(...Array<number>(pad).fill(0), ...r.map(() => 1));
      pos.push(...Array<number>(pad).fill(1), ...r.map((_, t) => t)); // transformers.js: cumsum - 1, masked places 1
    }
    const i64 = (xs: number[], dims: number[]) => new ort.Tensor('int64', BigInt64Array.from(xs, BigInt), dims);
    const B = rows.length;
    const feeds: Record<string, ort.Tensor> = {
      input_ids: i64(ids, [B, T]),
      attention_mask: i64(mask, [B, T]),
      position_ids: i64(pos, [B, T]),
    };
    for (let i = 0; i < c.n_layer; i++)
      for (const kv of ['key', 'value'])
        feeds[`past_key_values.${i}.${kv}`] = new ort.Tensor('float32', new Float32Array(0), [B, H, 0, D]);
    const first = await s.run(feeds);
    expect(first.logits.dims).toEqual([B, T, c.vocab_size]);
    expect(first['present.0.key'].dims).toEqual([B, H, T, D]);
    let worst = 0;
    const compare = (got: Float32Array, at: number, want: Float64Array) => {
      for (let j = 0; j < c.vocab_size; j++) worst = Math.max(worst, Math.abs(got[at * c.vocab_size + j] - want[j]));
    };
    rows.forEach((r, b) =>
      referenceLogits(c, W, r).forEach((want, t) =>
        compare(first.logits.data as Float32Array, b * T + T - r.length + t, want),
      ),
    );

    const next = [4242, 5, 77];
    const step: Record<string, ort.Tensor> = {
      input_ids: i64(next, [B, 1]),
      attention_mask: i64(
        rows.flatMap((_, b) => [...mask.slice(b * T, (b + 1) * T), 1]),
        [B, T + 1],
      ),
      position_ids: i64(
        rows.map((r) => r.length),
        [B, 1],
      ),
    };
    for (let i = 0; i < c.n_layer; i++)
      for (const kv of ['key', 'value']) step[`past_key_values.${i}.${kv}`] = first[`present.${i}.${kv}`];
    const second = await s.run(step);
    expect(second['present.1.value'].dims).toEqual([B, H, T + 1, D]);
    rows.forEach((r, b) =>
      compare(second.logits.data as Float32Array, b, referenceLogits(c, W, [...r, next[b]]).at(-1)!),
    );
    await s.release();
    console.log(`GPT-2, padded batch of 3: max diff ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(1e-4);
  });
});
