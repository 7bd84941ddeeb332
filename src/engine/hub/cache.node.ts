// The Hub cache on disk (Node: CLI and tests): one folder per file key; `file` when complete, `part-<i>` chunks
// and `meta.json` while partial. Default root: $FTS_CACHE or ~/.cache/fine-tune-studio/hub.
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { CachedFile, HubCache, PartialInfo } from './cache.js';

interface Meta extends PartialInfo {
  size: number;
  complete: boolean;
}

export class FsHubCache implements HubCache {
  constructor(readonly root = process.env.FTS_CACHE ?? join(homedir(), '.cache', 'fine-tune-studio', 'hub')) {}
  private dir(key: string) {
    return join(this.root, encodeURIComponent(key));
  }
  private async meta(key: string): Promise<Meta | undefined> {
    try {
      return JSON.parse(await readFile(join(this.dir(key), 'meta.json'), 'utf8'));
    } catch {
      return undefined;
    }
  }
  async get(key: string) {
    const m = await this.meta(key);
    return m?.complete ? new Uint8Array(await readFile(join(this.dir(key), 'file'))) : undefined;
  }
  async put(key: string, bytes: Uint8Array, meta: { etag: string; size: number }) {
    await mkdir(this.dir(key), { recursive: true });
    await writeFile(join(this.dir(key), 'file'), bytes);
    await writeFile(join(this.dir(key), 'meta.json'), JSON.stringify({ ...meta, complete: true, chunks: 0, bytes: meta.size, total: meta.size }));
  }
  async getPartial(key: string) {
    const m = await this.meta(key);
    return m && !m.complete ? m : undefined;
  }
  async readPartial(key: string) {
    const m = (await this.getPartial(key))!;
    const parts = await Promise.all(Array.from({ length: m.chunks }, (_, i) => readFile(join(this.dir(key), `part-${i}`))));
    return new Uint8Array(Buffer.concat(parts));
  }
  async putPartialChunk(key: string, index: number, chunk: Uint8Array, etag: string, total: number) {
    await mkdir(this.dir(key), { recursive: true });
    await writeFile(join(this.dir(key), `part-${index}`), chunk);
    const m = await this.meta(key);
    const bytes = (m && !m.complete ? m.bytes : 0) + chunk.length;
    await writeFile(join(this.dir(key), 'meta.json'), JSON.stringify({ etag, total, bytes, chunks: index + 1, size: 0, complete: false }));
  }
  async deletePartial(key: string) {
    const m = await this.meta(key);
    if (m && !m.complete) await rm(this.dir(key), { recursive: true, force: true });
  }
  async list(): Promise<CachedFile[]> {
    let names: string[] = [];
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
    for (const f of await this.list()) if (f.key.startsWith(prefix)) await rm(this.dir(f.key), { recursive: true, force: true });
  }
}
