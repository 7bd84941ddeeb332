// Zips an export as it streams (stored, not deflated: weights do not compress, and storing keeps it fast), with
// ZIP64 where sizes need it (client-zip). In the browser the zip is collected into a Blob, which the browser may
// keep on disk; nothing is written to the person's disk until the download is saved.
import { makeZip } from 'client-zip';
import { fileSize, totalSize, type OutFile } from '../util/files.js';

export class ExportCancelled extends Error {
  readonly code = 'EXPORT_CANCELLED';
  constructor() {
    super('the export was cancelled; nothing was written');
  }
}

// an async generator with no await: client-zip takes each file as an async stream of parts
// eslint-disable-next-line @typescript-eslint/require-await
async function* partsOf(f: OutFile, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
  for (const p of f.parts) {
    if (signal?.aborted) throw new ExportCancelled();
    yield p;
  }
}

/** A zip of `files` under a top folder `root`, as a stream. */
export function zipStream(files: readonly OutFile[], root: string, signal?: AbortSignal): ReadableStream<Uint8Array> {
  const lastModified = new Date();
  return makeZip(
    files.map((f) => ({ name: `${root}/${f.path}`, input: partsOf(f, signal), size: fileSize(f), lastModified })),
    { buffersAreUTF8: true },
  );
}

/** The whole zip as a Blob, reporting bytes done; throws ExportCancelled (and keeps nothing) when `signal` aborts. */
export async function zipBlob(
  files: readonly OutFile[],
  root: string,
  o: { signal?: AbortSignal; onProgress?: (done: number, total: number) => void } = {},
): Promise<Blob> {
  const total = totalSize(files);
  const reader = zipStream(files, root, o.signal).getReader();
  const chunks: BlobPart[] = [];
  let done = 0;
  for (;;) {
    if (o.signal?.aborted) {
      await reader.cancel().catch(() => undefined);
      throw new ExportCancelled();
    }
    const r = await reader.read();
    if (r.done) break;
    chunks.push(r.value as Uint8Array<ArrayBuffer>);
    done += r.value.byteLength;
    o.onProgress?.(Math.min(done, total), total);
  }
  return new Blob(chunks, { type: 'application/zip' });
}
