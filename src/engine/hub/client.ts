// Files from the Hugging Face Hub (or a mirror: the endpoint is configurable; Node reads HF_ENDPOINT as the HF
// libraries do), with per-file progress, cancel, and resume: a partial download is kept in the cache in chunks and
// continued with an HTTP Range request (If-Range on the ETag, so a file that changed restarts). A file is complete
// only when its size matches and, where the Hub gives a sha256 ETag (LFS files), its hash does.
import { bytesToHex } from '@noble/hashes/utils.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { ensureSpace, StorageError } from '../storage/chunks.js';
import { readWhole, type FileReader, type HubCache } from './cache.js';

export type HubErrorCode =
  'OFFLINE' | 'NOT_FOUND' | 'UNAUTHORIZED' | 'HTTP' | 'CONNECTION_LOST' | 'TRUNCATED' | 'CORRUPT' | 'ABORTED';

export class HubError extends Error {
  constructor(
    readonly code: HubErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Progress, keyed by file, as transformers.js reports it. */
export type Progress =
  | { status: 'initiate'; file: string }
  | { status: 'progress'; file: string; loaded: number; total: number; bytesPerSecond: number; etaSeconds: number }
  | { status: 'done'; file: string; size: number; fromCache: boolean };

export interface HubOptions {
  endpoint?: string;
  /** For gated or private repos: kept in memory, sent only to the endpoint. */
  token?: string;
  fetch?: typeof fetch;
  /** Partial downloads are saved every this many bytes. */
  chunkBytes?: number;
}

export interface FileOptions {
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
  /** A 404 gives null instead of an error. */
  optional?: boolean;
}

export const DEFAULT_ENDPOINT = 'https://huggingface.co';
export const CHUNK_BYTES = 8 * 2 ** 20;

export class HubClient {
  readonly endpoint: string;
  private readonly token?: string;
  private readonly fetch: typeof fetch;
  private readonly chunkBytes: number;

  constructor(
    private readonly cache: HubCache,
    o: HubOptions = {},
  ) {
    this.endpoint = (o.endpoint ?? DEFAULT_ENDPOINT).replace(/\/+$/, '');
    this.token = o.token;
    this.fetch = o.fetch ?? globalThis.fetch.bind(globalThis);
    this.chunkBytes = o.chunkBytes ?? CHUNK_BYTES;
  }

  url(repo: string, revision: string, file: string): string {
    return `${this.endpoint}/${repo}/resolve/${encodeURIComponent(revision)}/${file}`;
  }

  /** A file's size from a HEAD request (no body), or null when the Hub does not say. */
  async size(repo: string, revision: string, file: string, signal?: AbortSignal): Promise<number | null> {
    const headers: Record<string, string> = this.token ? { Authorization: `Bearer ${this.token}` } : {};
    let res: Response;
    try {
      res = await this.fetch(this.url(repo, revision, file), { method: 'HEAD', headers, signal });
    } catch (e) {
      throw new HubError('OFFLINE', `could not reach ${this.endpoint} for ${repo}/${file} (${(e as Error).message})`);
    }
    if (res.status === 404)
      throw new HubError('NOT_FOUND', `${repo} has no file ${file} at revision ${revision} (404)`);
    if (res.status === 401 || res.status === 403)
      throw new HubError(
        'UNAUTHORIZED',
        `${repo} is gated or private (${res.status}); accept its terms on the Hub and give an access token`,
      );
    const n = Number(res.headers.get('x-linked-size') ?? res.headers.get('content-length'));
    return Number.isFinite(n) && n > 0 ? n : null;
  }

  /** The cache key of a file: endpoint, repo, revision and name. */
  key(repo: string, revision: string, file: string): string {
    return `${this.endpoint}/${repo}@${revision}/${file}`;
  }

  /** Whether a file is complete in the cache (no request is made). */
  async cached(repo: string, revision: string, file: string): Promise<boolean> {
    return !!(await this.cache.open(this.key(repo, revision, file)));
  }

  /** A small file's bytes (config, tokenizer): from the cache, or downloaded. Null when optional and absent. */
  async file(repo: string, revision: string, file: string, o: FileOptions = {}): Promise<Uint8Array | null> {
    const r = await this.open(repo, revision, file, o);
    return r && readWhole(r);
  }

  /**
   * A file as a stream of chunks: from the cache (no request), or downloaded into the cache first (resuming a
   * partial one). It is never held whole in memory: chunks go to storage as they arrive, the sha256 is computed as
   * they pass, and the caller reads the complete file back chunk by chunk. Null when optional and absent.
   */
  async open(repo: string, revision: string, file: string, o: FileOptions = {}): Promise<FileReader | null> {
    const key = this.key(repo, revision, file);
    const cached = await this.cache.open(key);
    if (cached) {
      o.onProgress?.({ status: 'done', file, size: cached.size, fromCache: true });
      return cached;
    }
    o.onProgress?.({ status: 'initiate', file });
    const partial = await this.cache.getPartial(key);
    const headers: Record<string, string> = {};
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    if (partial && partial.bytes > 0) {
      headers.Range = `bytes=${partial.bytes}-`;
      if (partial.etag) headers['If-Range'] = `"${partial.etag}"`;
    }
    let res: Response;
    try {
      res = await this.fetch(this.url(repo, revision, file), { headers, signal: o.signal });
    } catch (e) {
      if (o.signal?.aborted) throw new HubError('ABORTED', `the download of ${file} was cancelled`);
      throw new HubError(
        'OFFLINE',
        `could not reach ${this.endpoint} for ${repo}/${file} (${(e as Error).message}); check the connection, or use a model already in the cache`,
      );
    }
    if (res.status === 404) {
      if (o.optional) return null;
      throw new HubError(
        'NOT_FOUND',
        `${repo} has no file ${file} at revision ${revision} (404); check the repo id and revision`,
      );
    }
    if (res.status === 401 || res.status === 403) {
      throw new HubError(
        'UNAUTHORIZED',
        `${repo} is gated or private (${res.status}); accept its terms on the Hub and give an access token`,
      );
    }
    if (res.status !== 200 && res.status !== 206)
      throw new HubError('HTTP', `${this.url(repo, revision, file)} answered ${res.status} ${res.statusText}`);
    const etag = (res.headers.get('x-linked-etag') ?? res.headers.get('etag') ?? '')
      .replace(/^W\//, '')
      .replace(/"/g, '');
    const resumed = res.status === 206 && partial ? partial : null;
    if (!resumed && partial) await this.cache.deletePartial(key); // the file changed, or the server ignored the range
    let have = resumed?.bytes ?? 0;
    const range = res.headers.get('content-range')?.match(/\/(\d+)$/);
    const total = range ? Number(range[1]) : Number(res.headers.get('content-length') ?? NaN) + have;
    if (Number.isFinite(total)) {
      try {
        await ensureSpace(total - have, `${file} (${repo})`, () => this.cache.free());
      } catch (e) {
        await res.body?.cancel().catch(() => undefined);
        throw e;
      }
    }
    const hashed = /^[0-9a-f]{64}$/.test(etag); // LFS files: the ETag is the sha256 of the content
    const sha = sha256.create();
    if (resumed && hashed) for await (const c of this.cache.readPartial(key)) sha.update(c); // the bytes kept before the cut
    let pending: Uint8Array[] = [];
    let pendingBytes = 0;
    let chunkIndex = resumed?.chunks ?? 0;
    const flush = async () => {
      if (!pendingBytes) return;
      await this.cache.putPartialChunk(key, chunkIndex++, concat(pending, pendingBytes), etag, total);
      pending = [];
      pendingBytes = 0;
    };
    const started = performance.now();
    const startBytes = have;
    const reader = res.body!.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (hashed) sha.update(value);
        pending.push(value);
        pendingBytes += value.length;
        have += value.length;
        if (pendingBytes >= this.chunkBytes) await flush();
        const sec = (performance.now() - started) / 1000;
        const bps = sec > 0 ? (have - startBytes) / sec : 0;
        o.onProgress?.({
          status: 'progress',
          file,
          loaded: have,
          total,
          bytesPerSecond: bps,
          etaSeconds: bps > 0 ? (total - have) / bps : Infinity,
        });
      }
    } catch (e) {
      await reader.cancel().catch(() => undefined);
      if (e instanceof StorageError) throw e; // a full quota: the chunks stored before stay, and so does the partial file
      await flush().catch(() => undefined); // keep what arrived
      if (o.signal?.aborted)
        throw new HubError(
          'ABORTED',
          `the download of ${file} was cancelled at ${have} of ${total} bytes; it resumes from there`,
        );
      throw new HubError(
        'CONNECTION_LOST',
        `the download of ${file} stopped at ${have} of ${total} bytes (${(e as Error).message}); it resumes from there`,
      );
    }
    await flush();
    if (Number.isFinite(total) && have !== total) {
      throw new HubError('TRUNCATED', `${file}: received ${have} of ${total} bytes; the download resumes from there`);
    }
    if (hashed) {
      const digest = bytesToHex(sha.digest());
      if (digest !== etag) {
        await this.cache.deletePartial(key);
        throw new HubError(
          'CORRUPT',
          `${file}: its sha256 is ${digest}, the Hub says ${etag}; the damaged copy was removed, download again`,
        );
      }
    }
    await this.cache.complete(key, { etag, size: have });
    o.onProgress?.({ status: 'done', file, size: have, fromCache: false });
    return (await this.cache.open(key))!;
  }
}

function concat(parts: Uint8Array[], n: number): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
