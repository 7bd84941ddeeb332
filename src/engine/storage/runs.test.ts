// Run storage in IndexedDB (fake-indexeddb): checkpoints stream in as generations behind a pointer, no value is
// over the bound even for GPT-2's 154 MB token embedding, a full quota mid-write leaves the previous checkpoint
// whole, a checkpoint that cannot fit is refused with sizes, and tokenized datasets come back row for row.
import 'fake-indexeddb/auto';
import { entries, keys } from 'idb-keyval';
import { describe, expect, it } from 'vitest';
import { CHECKPOINT_FORMAT, type CheckpointSnapshot, type CheckpointTensor } from '../train/checkpoint.js';
import { DEFAULT_TRAIN } from '../train/trainer.js';
import { TINY_GPT2 } from '../models/init.js';
import { failPutsAfter } from '../testing/idb-faults.js';
import { MAX_CHUNK_BYTES } from './chunks.js';
import { RunStorage } from './runs.js';
import { caught } from '../testing/caught.js';

let n = 0;
const storage = (free?: () => Promise<number | null>) => {
  const prefix = `runs-test-${n++}`;
  return { prefix, s: new RunStorage({ prefix, free }) };
};

/** A snapshot whose values are a function of (step, tensor, index), with the shapes given. */
function snapshot(step: number, shapes: Record<string, number[]>): CheckpointSnapshot {
  const tensors: CheckpointTensor[] = (['trainable', 'expAvg', 'expAvgSq'] as const).flatMap((group) =>
    Object.entries(shapes).map(([name, shape]) => ({ group, name, shape })),
  );
  return {
    format: CHECKPOINT_FORMAT,
    step,
    model: { config: TINY_GPT2 },
    config: DEFAULT_TRAIN,
    tensors,
    bytes: 4 * tensors.reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1), 0),
    read: (t) =>
      Promise.resolve(
        Float32Array.from(
          { length: t.shape.reduce((x, y) => x * y, 1) },
          (_, i) => step * 1000 + (i % 997) + (t.group === 'expAvg' ? 0.25 : t.group === 'expAvgSq' ? 0.5 : 0),
        ),
      ),
  };
}
const SMALL = { 'transformer.h.0.attn.c_attn.weight': [64, 192], 'transformer.ln_f.bias': [64] };

describe('RunStorage checkpoints', () => {
  it('round-trips a checkpoint and replaces the previous generation', async () => {
    const { s } = storage();
    await s.saveCheckpoint('run-a', snapshot(2, SMALL));
    await s.saveCheckpoint('run-a', snapshot(4, SMALL));
    const ck = (await s.loadCheckpoint('run-a'))!;
    expect(ck.step).toBe(4);
    expect(ck.trainable['transformer.ln_f.bias'][3]).toBe(4003);
    expect(ck.expAvgSq['transformer.h.0.attn.c_attn.weight'][1000]).toBe(4000 + 3 + 0.5);
    const stored = (await keys<string>((s as unknown as { checkpoints: { store: never } }).checkpoints.store)).filter(
      (k) => k !== 'run-a',
    );
    expect(stored.every((k) => k.startsWith('run-a/g2/'))).toBe(true); // generation 1 is gone
    expect(stored.length).toBe(6);
  });

  it("splits GPT-2's 154 MB token embedding into values under the bound", async () => {
    const { s } = storage();
    await s.saveCheckpoint('run-big', {
      ...snapshot(1, { 'transformer.wte.weight': [50257, 768] }),
      tensors: [{ group: 'trainable', name: 'transformer.wte.weight', shape: [50257, 768] }],
      bytes: 50257 * 768 * 4,
    });
    const sizes = (
      await entries<string, Uint8Array>((s as unknown as { checkpoints: { store: never } }).checkpoints.store)
    )
      .filter(([k]) => k !== 'run-big')
      .map(([, v]) => v.byteLength);
    expect(sizes.reduce((a, b) => a + b)).toBe(50257 * 768 * 4);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(MAX_CHUNK_BYTES);
    const ck = (await s.loadCheckpoint('run-big'))!;
    expect(ck.trainable['transformer.wte.weight'].length).toBe(50257 * 768);
    expect(ck.trainable['transformer.wte.weight'][50257 * 768 - 1]).toBe(1000 + ((50257 * 768 - 1) % 997));
  });

  it('keeps the previous checkpoint whole when the quota fills mid-write', async () => {
    const { s } = storage();
    await s.saveCheckpoint('run-q', snapshot(2, SMALL));
    const restore = failPutsAfter(3);
    let err;
    try {
      err = await caught(s.saveCheckpoint('run-q', snapshot(4, SMALL)));
    } finally {
      restore();
    }
    expect(err).toMatchObject({
      code: 'QUOTA_EXCEEDED',
      message: expect.stringContaining('the checkpoint at step 4 was not saved'),
    });
    const ck = (await s.loadCheckpoint('run-q'))!;
    expect(ck.step).toBe(2);
    expect(ck.trainable['transformer.ln_f.bias'][3]).toBe(2003);
    const stored = await keys<string>((s as unknown as { checkpoints: { store: never } }).checkpoints.store);
    expect(stored.some((k) => k.startsWith('run-q/g2/'))).toBe(false); // the half-written generation is cleared
  });

  it('refuses a checkpoint that cannot fit before writing anything', async () => {
    const { s } = storage(() => Promise.resolve(0));
    await expect(s.saveCheckpoint('run-f', snapshot(1, SMALL))).rejects.toMatchObject({
      code: 'INSUFFICIENT_SPACE',
      message: expect.stringMatching(/^the checkpoint at step 1 needs 1 MiB of storage, but only 0 MiB is free/),
    });
    expect(await s.loadCheckpoint('run-f')).toBeUndefined();
  });

  it('round-trips a tokenized dataset and deletes a run whole', async () => {
    const { s } = storage();
    const row = (k: number) => ({
      tokens: Int32Array.from({ length: 9 }, (_, i) => k * 100 + i),
      mask: Uint8Array.from({ length: 9 }, (_, i) => (i + k) % 2),
    });
    const summary = { file: 'chats.jsonl' } as never;
    await s.saveDataset('run-d', {
      summary,
      train: [row(1), row(2), row(3)],
      validation: [row(9)],
      samplePrompts: [{ text: 'hi', ids: [1, 2] }],
    });
    const d = (await s.loadDataset('run-d'))!;
    expect(d.train.map((r) => Array.from(r.tokens))).toEqual([1, 2, 3].map((k) => Array.from(row(k).tokens)));
    expect(Array.from(d.validation[0].mask)).toEqual(Array.from(row(9).mask));
    expect(d.samplePrompts).toEqual([{ text: 'hi', ids: [1, 2] }]);
    await s.saveCheckpoint('run-d', snapshot(1, SMALL));
    await s.deleteRun('run-d');
    expect(await s.loadDataset('run-d')).toBeUndefined();
    expect(await keys((s as unknown as { checkpoints: { store: never } }).checkpoints.store)).toEqual([]);
  });
});
