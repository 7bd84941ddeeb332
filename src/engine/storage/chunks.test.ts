// The chunked IndexedDB store (fake-indexeddb in Node): streams of any size come back byte for byte, no stored
// value is over the bound, a missing chunk is named, a full quota mid-write removes the half-written stream, and
// a write that cannot fit is refused with sizes before anything is written.
import 'fake-indexeddb/auto';
import { createStore, entries } from 'idb-keyval';
import { describe, expect, it } from 'vitest';
import { ChunkStore, ensureSpace, MAX_CHUNK_BYTES, rechunk, StorageError } from './chunks.js';
import { failPutsAfter } from '../testing/idb-faults.js';
import { caught } from '../testing/caught.js';

const bytes = (n: number, seed = 1) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 255);
let db = 0;
const store = () => new ChunkStore(createStore(`chunks-test-${db++}`, 's'));

describe('ChunkStore', () => {
  it('re-cuts any stream into bounded chunks and reads it back byte for byte', async () => {
    const s = store();
    const src = [bytes(5), bytes(1000, 2), bytes(3, 3), bytes(4096, 4)];
    const info = await s.write('k', src, 'a test stream', 1024);
    expect(info).toEqual({ bytes: 5104, chunks: 5 });
    const back = await s.readAll('k', info, 'a test stream');
    const want = new Uint8Array(5104);
    let o = 0;
    for (const p of src) {
      want.set(p, o);
      o += p.length;
    }
    expect(Buffer.from(back).equals(Buffer.from(want))).toBe(true);
    const stored = await entries<string, Uint8Array>(s.store);
    expect(Math.max(...stored.map(([, v]) => v.length))).toBeLessThanOrEqual(1024);
  });

  it('never stores a value over the bound, whatever chunk size is asked', async () => {
    const chunks = [];
    for await (const c of rechunk([new Uint8Array(MAX_CHUNK_BYTES + 10)], MAX_CHUNK_BYTES)) chunks.push(c.length);
    expect(chunks).toEqual([MAX_CHUNK_BYTES, 10]);
  });

  it('names a missing chunk', async () => {
    const s = store();
    const info = await s.write('k', [bytes(3000)], 'the checkpoint of run-1', 1024);
    await s.remove('k', 2); // parts 1 and 2 gone
    await expect(s.readAll('k', info, 'the checkpoint of run-1')).rejects.toThrow(
      /the checkpoint of run-1 is damaged .*part 1 of 3 is missing/,
    );
  });

  it('removes what it wrote when the quota fills mid-write', async () => {
    const s = store();
    await s.write('old', [bytes(100)], 'x');
    const restore = failPutsAfter(2);
    try {
      const err = await caught(s.write('new', [bytes(5000)], 'the checkpoint at step 40', 1024));
      expect(err).toBeInstanceOf(StorageError);
      expect(err.code).toBe('QUOTA_EXCEEDED');
      expect(err.message).toMatch(/quota is full, so the checkpoint at step 40 was not saved/);
    } finally {
      restore();
    }
    expect(await s.keysUnder('new')).toEqual([]);
    expect((await s.readAll('old', { bytes: 100, chunks: 1 }, 'x')).length).toBe(100);
  });

  it('refuses up front, with sizes, a write that cannot fit', async () => {
    const err = await caught(
      ensureSpace(1.4 * 2 ** 30, 'the checkpoint at step 40', () => Promise.resolve(0.6 * 2 ** 30)),
    );
    expect(err.code).toBe('INSUFFICIENT_SPACE');
    expect(err.message).toBe(
      'the checkpoint at step 40 needs 1.4 GiB of storage, but only 0.6 GiB is free in this browser; nothing was written. Delete cached models or old runs to free space.',
    );
    await expect(ensureSpace(10, 'x', () => Promise.resolve(null))).resolves.toBeUndefined(); // unknown: try
  });
});
