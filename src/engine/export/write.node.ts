// Writes an export to a folder in Node so that a failure, a full disk or Ctrl-C leaves nothing half-written: the
// files go to DIR.partial-<pid> next to DIR, which replaces DIR only once complete; free space is checked first.
import { mkdir, open, rename, rm, statfs } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fmtSize } from '../util/size.js';
import { totalSize, type OutFile } from '../util/files.js';
import { ExportCancelled } from './zip.js';

export class ExportSpaceError extends Error {
  readonly code = 'INSUFFICIENT_SPACE';
}

export async function writeFolder(
  dir: string,
  files: readonly OutFile[],
  o: { signal?: AbortSignal; free?: () => Promise<number> } = {},
): Promise<void> {
  const parent = dirname(dir);
  await mkdir(parent, { recursive: true });
  const need = totalSize(files);
  const free = o.free ? await o.free() : await statfs(parent).then((s) => s.bavail * s.bsize);
  if (free < need)
    throw new ExportSpaceError(
      `${dir} needs ${fmtSize(need)}, but only ${fmtSize(free)} is free there; nothing was written`,
    );
  const tmp = `${dir}.partial-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  try {
    for (const f of files) {
      const path = join(tmp, ...f.path.split('/'));
      await mkdir(dirname(path), { recursive: true });
      const h = await open(path, 'w');
      try {
        for (const p of f.parts) {
          if (o.signal?.aborted) throw new ExportCancelled();
          await h.write(p);
        }
      } finally {
        await h.close();
      }
    }
    const old = `${dir}.old-${process.pid}`;
    await rename(dir, old).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
    });
    await rename(tmp, dir);
    await rm(old, { recursive: true, force: true });
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
}
