// A local Hugging Face model folder (what save_pretrained writes, or a Hub snapshot) read as a model file source
// (Node: CLI and tests), so a folder of any family loads as a Hub repo does: shards included, each file streamed in
// 8 MiB chunks, never read whole unless it is a small JSON file.
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { ModelFormatError } from '../models/hf.js';
import { loadModelFiles, type ModelFileSource, type ModelFiles } from './model.js';

const CHUNK_BYTES = 8 * 2 ** 20;

const absent = (e: unknown) => (e as NodeJS.ErrnoException).code === 'ENOENT';

/** The files of the folder `dir` as a source; a missing required file is an error naming its path. */
export function folderSource(dir: string): ModelFileSource {
  const missing = (file: string) =>
    new ModelFormatError(`${join(dir, file)} does not exist; the folder ${dir} is not a complete model`);
  return {
    async get(file, optional = false) {
      try {
        const b = await readFile(join(dir, file));
        return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
      } catch (e) {
        if (!absent(e)) throw e;
        if (optional) return null;
        throw missing(file);
      }
    },
    async open(file, optional = false) {
      const path = join(dir, file);
      let size: number;
      try {
        const s = await stat(path);
        if (!s.isFile()) throw new ModelFormatError(`${path} is not a file`);
        size = s.size;
      } catch (e) {
        if (!absent(e)) throw e;
        if (optional) return null;
        throw missing(file);
      }
      return {
        size,
        async *chunks() {
          for await (const c of createReadStream(path, { highWaterMark: CHUNK_BYTES }))
            yield new Uint8Array((c as Buffer).buffer, (c as Buffer).byteOffset, (c as Buffer).byteLength);
        },
      };
    },
  };
}

/**
 * A model of any supported family from a local folder. Messages name the files by their path in the folder; the
 * result's repo is the folder's name unless given, its revision "local".
 */
export function loadFolderModel(dir: string, o: { repo?: string; revision?: string } = {}): Promise<ModelFiles> {
  return loadModelFiles(folderSource(dir), o.repo ?? dir, o.revision ?? 'local').then((m) => ({
    ...m,
    repo: o.repo ?? basename(resolve(dir)),
  }));
}
