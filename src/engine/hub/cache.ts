// Where downloaded model files live: one interface, an IndexedDB implementation for the browser (idb-keyval, named
// stores) and a file implementation for Node (cache.node.ts). A file is kept as the numbered chunks it arrived in
// (each at most 8 MiB, far under Chromium's ~127 MiB limit on one IndexedDB value), so a 548 MB model is never one
// value and never one buffer: it is read back chunk by chunk. A download cut short keeps its chunks, its ETag and
// its size, so a reload or a dropped connection resumes instead of starting over. A file counts as complete only
// when its meta record says so, and that record is written after the last chunk and the integrity check.
//   fts-hub-files  key: file key (endpoint/repo@revision/name) + '#i' -> chunk i (Uint8Array)
//   fts-hub-meta   key: file key -> { etag, size, complete, chunks, bytes, total }
import { createStore, del, entries, get, set, type UseStore } from 'idb-keyval';
import { ChunkStore, freeBytes, guardWrite, StorageError } from '../storage/chunks.js';

export interface PartialInfo {
  bytes: number;
  chunks: number;
  etag: string;
  total: number;
}

export interface CachedFile {
  key: string;
  size: number;
  complete: boolean;
}

/** A complete cached file, read as a stream of chunks. */
export interface FileReader {
  readonly size: number;
  chunks(): AsyncIterable<Uint8Array>;
}

export interface HubCache {
  /** The complete file, or undefined when it is not (yet) complete in the cache. */
  open(key: string): Promise<FileReader | undefined>;
  getPartial(key: string): Promise<PartialInfo | undefined>;
  /** The chunks a partial download kept so far, in order. */
  readPartial(key: string): AsyncIterable<Uint8Array>;
  putPartialChunk(key: string, index: number, chunk: Uint8Array, etag: string, total: number): Promise<void>;
  /** Marks a partial file complete, in place (its chunks are the file). */
  complete(key: string, meta: { etag: string; size: number }): Promise<void>;
  deletePartial(key: string): Promise<void>;
  list(): Promise<CachedFile[]>;
  /** Removes every file whose key starts with `prefix` (a whole model: endpoint/repo@revision/). */
  delete(prefix: string): Promise<void>;
  /** Bytes that can still be stored, or null when unknown. */
  free(): Promise<number | null>;
}

export interface Meta extends PartialInfo {
  size: number;
  complete: boolean;
}

/** Reads every chunk of a file into one array (for the small JSON files). */
export async function readWhole(r: FileReader): Promise<Uint8Array> {
  const out = new Uint8Array(r.size);
  let off = 0;
  for await (const c of r.chunks()) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

export class IdbHubCache implements HubCache {
  private readonly files: ChunkStore;
  private readonly meta: UseStore;
  constructor(prefix = 'fts') {
    this.files = new ChunkStore(createStore(`${prefix}-hub-files`, 'files'));
    this.meta = createStore(`${prefix}-hub-meta`, 'meta');
  }
  async open(key: string): Promise<FileReader | undefined> {
    const m = await get<Meta>(key, this.meta);
    if (!m?.complete) return undefined;
    const what = `the cached ${key}`;
    if (m.chunks === 0 && m.size > 0) {
      const store = this.files.store; // written by an earlier version as one value
      return {
        size: m.size,
        async *chunks() {
          const v = await get<Uint8Array>(key, store);
          if (!v)
            throw new StorageError(
              'CORRUPT',
              `${what} is missing from this browser's storage; delete it and download again`,
            );
          yield v;
        },
      };
    }
    return { size: m.size, chunks: () => this.files.read(key, { bytes: m.size, chunks: m.chunks }, what) };
  }
  async getPartial(key: string) {
    const m = await get<Meta>(key, this.meta);
    return m && !m.complete ? m : undefined;
  }
  async *readPartial(key: string) {
    const m = await this.getPartial(key);
    if (m) yield* this.files.read(key, m, `the partial download of ${key}`);
  }
  async putPartialChunk(key: string, index: number, chunk: Uint8Array, etag: string, total: number) {
    await this.files.put(key, index, chunk, key);
    const m = await get<Meta>(key, this.meta);
    const bytes = (m && !m.complete ? m.bytes : 0) + chunk.length;
    await guardWrite(key, () =>
      set(key, { etag, total, bytes, chunks: index + 1, size: 0, complete: false } satisfies Meta, this.meta),
    );
  }
  async complete(key: string, meta: { etag: string; size: number }) {
    const m = await this.getPartial(key);
    if (!m || m.bytes !== meta.size)
      throw new StorageError('CORRUPT', `${key}: the stored chunks hold ${m?.bytes ?? 0} bytes, not ${meta.size}`);
    await guardWrite(key, () =>
      set(
        key,
        { ...meta, complete: true, chunks: m.chunks, bytes: meta.size, total: meta.size } satisfies Meta,
        this.meta,
      ),
    );
  }
  async deletePartial(key: string) {
    const m = await get<Meta>(key, this.meta);
    if (!m || m.complete) return;
    await this.files.remove(key, m.chunks);
    await del(key, this.meta);
  }
  async list() {
    return (await entries<string, Meta>(this.meta)).map(([key, m]) => ({
      key,
      size: m.complete ? m.size : m.bytes,
      complete: m.complete,
    }));
  }
  async delete(prefix: string) {
    for (const [key, m] of await entries<string, Meta>(this.meta)) {
      if (!key.startsWith(prefix)) continue;
      await this.files.remove(key, m.chunks);
      await del(key, this.files.store); // an earlier version's single value
      await del(key, this.meta);
    }
  }
  free() {
    return freeBytes();
  }
}
