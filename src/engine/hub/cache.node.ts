// The Hub cache on disk (Node: CLI and tests), by the same rules as the browser's: one folder per file key holding
// the `part-<i>` chunks the download wrote and `meta.json`, which says complete only after the last chunk and the
// integrity check (written to a temporary name and renamed, so it is never half-written). Files are read back
// chunk by chunk. Default root: $FTS_CACHE or ~/.cache/fine-tune-studio/hub.
import { createReadStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, statfs, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import * as v from 'valibot';
import { StorageError } from '../storage/chunks.js';
import type { CachedFile, FileReader, HubCache, Meta } from './cache.js';

const count = v.pipe(v.number(), v.integer(), v.minValue(0));
/** meta.json as writeMeta writes it. */
const META = v.object({
  bytes: count,
  chunks: count,
  etag: v.string(),
  total: count,
  size: count,
  complete: v.boolean(),
});

export class FsHubCache implements HubCache {
  constructor(readonly root = process.env.FTS_CACHE ?? join(homedir(), '.cache', 'fine-tune-studio', 'hub')) {}
  private dir(key: string) {
    return join(this.root, encodeURIComponent(key));
  }
  private async meta(key: string): Promise<Meta | undefined> {
    try {
      const r = v.safeParse(META, JSON.parse(await readFile(join(this.dir(key), 'meta.json'), 'utf8')));
      return r.success ? r.output : undefined; // unreadable: as if absent, so the file downloads again
    } catch {
      return undefined;
    }
  }
  private async writeMeta(key: string, m: Meta) {
    const tmp = join(this.dir(key), 'meta.json.tmp');
    await writeFile(tmp, JSON.stringify(m));
    await rename(tmp, join(this.dir(key), 'meta.json'));
  }
  private async *parts(key: string, m: Meta, what: string): AsyncGenerator<Uint8Array> {
    if (m.complete && m.chunks === 0) {
      // an earlier version's single file
      for await (const c of createReadStream(join(this.dir(key), 'file'), { highWaterMark: 8 * 2 ** 20 }))
        yield new Uint8Array(c as Buffer);
      return;
    }
    let seen = 0;
    for (let i = 0; i < m.chunks; i++) {
      let c: Buffer;
      try {
        c = await readFile(join(this.dir(key), `part-${i}`));
      } catch {
        throw new StorageError(
          'CORRUPT',
          `${what} is damaged in the cache ${this.root} (part ${i + 1} of ${m.chunks} is missing); delete it and download again`,
        );
      }
      seen += c.length;
      yield new Uint8Array(c.buffer, c.byteOffset, c.length);
    }
    if (seen !== m.bytes)
      throw new StorageError(
        'CORRUPT',
        `${what} is damaged in the cache ${this.root} (${seen} bytes where ${m.bytes} were written); delete it and download again`,
      );
  }
  async open(key: string): Promise<FileReader | undefined> {
    const m = await this.meta(key);
    if (!m?.complete) return undefined;
    return { size: m.size, chunks: () => this.parts(key, m, `the cached ${key}`) };
  }
  async getPartial(key: string) {
    const m = await this.meta(key);
    return m && !m.complete ? m : undefined;
  }
  async *readPartial(key: string) {
    const m = await this.getPartial(key);
    if (m) yield* this.parts(key, m, `the partial download of ${key}`);
  }
  async putPartialChunk(key: string, index: number, chunk: Uint8Array, etag: string, total: number) {
    await mkdir(this.dir(key), { recursive: true });
    await writeFile(join(this.dir(key), `part-${index}`), chunk);
    const m = await this.meta(key);
    const bytes = (m && !m.complete ? m.bytes : 0) + chunk.length;
    await this.writeMeta(key, { etag, total, bytes, chunks: index + 1, size: 0, complete: false });
  }
  async complete(key: string, meta: { etag: string; size: number }) {
    const m = await this.getPartial(key);
    if (!m || m.bytes !== meta.size)
      throw new StorageError('CORRUPT', `${key}: the stored chunks hold ${m?.bytes ?? 0} bytes, not ${meta.size}`);
    await this.writeMeta(key, { ...meta, complete: true, chunks: m.chunks, bytes: meta.size, total: meta.size });
  }
  async deletePartial(key: string) {
    const m = await this.meta(key);
    if (m && !m.complete) await rm(this.dir(key), { recursive: true, force: true });
  }
  async list(): Promise<CachedFile[]> {
    let names: string[];
    try {
      names = await readdir(this.root);
    } catch {
      return [];
    }
    const out: CachedFile[] = [];
    for (const n of names) {
      const key = decodeURIComponent(n);
      const m = await this.meta(key);
      if (m) out.push({ key, size: m.complete ? m.size : m.bytes, complete: m.complete });
    }
    return out;
  }
  async delete(prefix: string) {
    for (const f of await this.list())
      if (f.key.startsWith(prefix)) await rm(this.dir(f.key), { recursive: true, force: true });
  }
  async free() {
    await mkdir(this.root, { recursive: true });
    const s = await statfs(this.root);
    return s.bavail * s.bsize;
  }
}
