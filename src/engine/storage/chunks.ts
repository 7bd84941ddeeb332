// Large byte streams in IndexedDB as bounded chunks: Chromium refuses one value over ~127 MiB, and a 548 MB model
// or a 1.5 GB checkpoint must never be one JavaScript value anyway. A stream is written as `key#0`, `key#1`, ...
// (each at most MAX_CHUNK_BYTES) and read back chunk by chunk; what says a stream is complete is a small record
// the caller writes after the last chunk (a manifest or a pointer), so a crash or a full quota mid-write never
// leaves a half-written stream that looks whole.
import { delMany, get, keys, set, type UseStore } from 'idb-keyval';
import { fmtSize } from '../util/size.js';

/** The largest IndexedDB value this project writes. */
export const MAX_CHUNK_BYTES = 32 * 2 ** 20;
/** Streams are cut into chunks of this size (a smaller working set while reading and writing). */
export const CHUNK_BYTES = 8 * 2 ** 20;

export type StorageErrorCode = 'QUOTA_EXCEEDED' | 'STORAGE_FAILED' | 'INSUFFICIENT_SPACE' | 'CORRUPT';

export class StorageError extends Error {
  constructor(
    readonly code: StorageErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Runs an IndexedDB write, turning the browser's errors into StorageErrors that say what was being saved. */
export async function guardWrite<T>(what: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof StorageError) throw e;
    const err = e as DOMException;
    if (err?.name === 'QuotaExceededError') {
      throw new StorageError(
        'QUOTA_EXCEEDED',
        `the browser's storage quota is full, so ${what} was not saved (what was saved before is intact). Delete old runs or cached models to free space.`,
      );
    }
    throw new StorageError('STORAGE_FAILED', `could not save ${what}: ${err?.message ?? String(e)}`);
  }
}

/** Re-cuts a stream of byte arrays of any sizes into chunks of exactly `size` bytes (the last may be shorter). */
export async function* rechunk(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  size = CHUNK_BYTES,
): AsyncGenerator<Uint8Array> {
  let buf = new Uint8Array(size);
  let fill = 0;
  for await (const part of source) {
    let off = 0;
    while (off < part.length) {
      const n = Math.min(size - fill, part.length - off);
      if (fill === 0 && n === size) {
        yield part.slice(off, off + n); // a whole chunk: one copy, owned by the consumer
      } else {
        buf.set(part.subarray(off, off + n), fill);
        fill += n;
        if (fill === size) {
          yield buf;
          buf = new Uint8Array(size);
          fill = 0;
        }
      }
      off += n;
    }
  }
  if (fill) yield buf.slice(0, fill);
}

/** The bytes of a typed array, as one view (no copy). */
export const bytesOf = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

export interface ChunkedInfo {
  bytes: number;
  chunks: number;
}

/** Byte streams under string keys in one idb-keyval store. */
export class ChunkStore {
  constructor(readonly store: UseStore) {}

  /** Writes `source` as chunks `key#0..`; returns how many bytes and chunks. On failure removes what it wrote. */
  async write(
    key: string,
    source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    what: string,
    size = CHUNK_BYTES,
  ): Promise<ChunkedInfo> {
    let chunks = 0;
    let bytes = 0;
    try {
      for await (const c of rechunk(source, Math.min(size, MAX_CHUNK_BYTES))) {
        await guardWrite(what, () => set(`${key}#${chunks}`, c, this.store));
        chunks++;
        bytes += c.length;
      }
    } catch (e) {
      await this.remove(key, chunks + 1).catch(() => undefined);
      throw e;
    }
    return { bytes, chunks };
  }

  /** Writes one chunk (for callers that cut the stream themselves, like a resumable download). */
  async put(key: string, index: number, chunk: Uint8Array, what: string): Promise<void> {
    if (chunk.length > MAX_CHUNK_BYTES)
      throw new RangeError(`chunk of ${chunk.length} bytes is over the ${MAX_CHUNK_BYTES}-byte bound`);
    await guardWrite(what, () => set(`${key}#${index}`, chunk, this.store));
  }

  /** Reads chunks `key#0..chunks-1` in order; a missing or short stream is a CORRUPT StorageError naming `what`. */
  async *read(key: string, info: ChunkedInfo, what: string): AsyncGenerator<Uint8Array> {
    let seen = 0;
    for (let i = 0; i < info.chunks; i++) {
      const c = await get<Uint8Array>(`${key}#${i}`, this.store);
      if (!(c instanceof Uint8Array))
        throw new StorageError(
          'CORRUPT',
          `${what} is damaged in this browser's storage (part ${i + 1} of ${info.chunks} is missing); delete it and save or download it again`,
        );
      seen += c.length;
      yield c;
    }
    if (seen !== info.bytes)
      throw new StorageError(
        'CORRUPT',
        `${what} is damaged in this browser's storage (${seen} bytes where ${info.bytes} were written); delete it and save or download it again`,
      );
  }

  async readAll(key: string, info: ChunkedInfo, what: string): Promise<Uint8Array> {
    const out = new Uint8Array(info.bytes);
    let off = 0;
    for await (const c of this.read(key, info, what)) {
      if (off + c.length > out.length)
        throw new StorageError(
          'CORRUPT',
          `${what} is damaged in this browser's storage (more bytes than were written)`,
        );
      out.set(c, off);
      off += c.length;
    }
    return out;
  }

  async remove(key: string, chunks: number): Promise<void> {
    await delMany(
      Array.from({ length: chunks }, (_, i) => `${key}#${i}`),
      this.store,
    );
  }

  /** Every key of the store that starts with `prefix` (to clear what a crash left half-written). */
  async keysUnder(prefix: string): Promise<string[]> {
    return (await keys<string>(this.store)).filter((k) => typeof k === 'string' && k.startsWith(prefix));
  }
}

/** What the browser says of this origin's storage (zeros where it says nothing: Node, old browsers). */
export async function storageEstimate(): Promise<{ usage: number; quota: number; persisted: boolean }> {
  const s = globalThis.navigator?.storage;
  if (!s?.estimate) return { usage: 0, quota: 0, persisted: false };
  const e = await s.estimate();
  const persisted = s.persisted ? await s.persisted() : false;
  return { usage: e.usage ?? 0, quota: e.quota ?? 0, persisted };
}

/** Free bytes the browser would still give this origin, or null when it does not say (Node, old browsers). */
export async function freeBytes(): Promise<number | null> {
  const { usage, quota } = await storageEstimate();
  return quota ? Math.max(0, quota - usage) : null;
}

/** Refuses a write of `needed` bytes up front when the browser says there is less room ("needs 1.4 GiB, 0.6 GiB free"). */
export async function ensureSpace(
  needed: number,
  what: string,
  free: () => Promise<number | null> = freeBytes,
): Promise<void> {
  const f = await free();
  if (f !== null && needed > f) {
    throw new StorageError(
      'INSUFFICIENT_SPACE',
      `${what} needs ${fmtSize(needed)} of storage, but only ${fmtSize(f)} is free in this browser; nothing was written. Delete cached models or old runs to free space.`,
    );
  }
}
