// Where downloaded model files live: one interface, an IndexedDB implementation for the browser (idb-keyval, named
// stores) and a file implementation for Node (cache.node.ts). Partial downloads are kept as numbered chunks with
// their ETag and expected size, so a reload or a dropped connection resumes instead of starting over, and a partial
// file is never taken for a complete one (complete files live under their own key, written last).
//   fts-hub-files  key: file key (endpoint/repo@revision/name) -> Uint8Array;  key#i -> partial chunk i
//   fts-hub-meta   key: file key -> { etag, size, complete, chunks, bytes, total }
import { createStore, del, entries, get, set, type UseStore } from 'idb-keyval';
import { StorageError } from '../storage/runs.js';

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

export interface HubCache {
  get(key: string): Promise<Uint8Array | undefined>;
  put(key: string, bytes: Uint8Array, meta: { etag: string; size: number }): Promise<void>;
  getPartial(key: string): Promise<PartialInfo | undefined>;
  readPartial(key: string): Promise<Uint8Array>;
  putPartialChunk(key: string, index: number, chunk: Uint8Array, etag: string, total: number): Promise<void>;
  deletePartial(key: string): Promise<void>;
  list(): Promise<CachedFile[]>;
  /** Removes every file whose key starts with `prefix` (a whole model: endpoint/repo@revision/). */
  delete(prefix: string): Promise<void>;
}

interface Meta extends PartialInfo {
  size: number;
  complete: boolean;
}

async function guard<T>(what: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if ((e as DOMException)?.name === 'QuotaExceededError') {
      throw new StorageError('QUOTA_EXCEEDED', `the browser's storage quota is full, so ${what} could not be cached (nothing cached before was lost). Delete cached models or old runs to free space.`);
    }
    throw e;
  }
}

export class IdbHubCache implements HubCache {
  private readonly files: UseStore;
  private readonly meta: UseStore;
  constructor(prefix = 'fts') {
    this.files = createStore(`${prefix}-hub-files`, 'files');
    this.meta = createStore(`${prefix}-hub-meta`, 'meta');
  }
  async get(key: string) {
    const m = await get<Meta>(key, this.meta);
    return m?.complete ? get<Uint8Array>(key, this.files) : undefined;
  }
  async put(key: string, bytes: Uint8Array, meta: { etag: string; size: number }) {
    await guard(key, () => set(key, bytes, this.files));
    await set(key, { ...meta, complete: true, chunks: 0, bytes: meta.size, total: meta.size } satisfies Meta, this.meta);
  }
  async getPartial(key: string) {
    const m = await get<Meta>(key, this.meta);
    return m && !m.complete ? m : undefined;
  }
  async readPartial(key: string) {
    const m = (await this.getPartial(key))!;
    const parts: Uint8Array[] = [];
    for (let i = 0; i < m.chunks; i++) parts.push((await get<Uint8Array>(`${key}#${i}`, this.files))!);
    const out = new Uint8Array(m.bytes);
    let off = 0;
    for (const p of parts) {
      out.set(p, off);
      off += p.length;
    }
    return out;
  }
  async putPartialChunk(key: string, index: number, chunk: Uint8Array, etag: string, total: number) {
    await guard(key, () => set(`${key}#${index}`, chunk, this.files));
    const m = await get<Meta>(key, this.meta);
    const bytes = (m && !m.complete ? m.bytes : 0) + chunk.length;
    await set(key, { etag, total, bytes, chunks: index + 1, size: 0, complete: false } satisfies Meta, this.meta);
  }
  async deletePartial(key: string) {
    const m = await get<Meta>(key, this.meta);
    if (!m || m.complete) return;
    for (let i = 0; i < m.chunks; i++) await del(`${key}#${i}`, this.files);
    await del(key, this.meta);
  }
  async list() {
    return (await entries<string, Meta>(this.meta)).map(([key, m]) => ({ key, size: m.complete ? m.size : m.bytes, complete: m.complete }));
  }
  async delete(prefix: string) {
    for (const f of await this.list()) {
      if (!f.key.startsWith(prefix)) continue;
      await this.deletePartial(f.key);
      await del(f.key, this.files);
      await del(f.key, this.meta);
    }
  }
}
