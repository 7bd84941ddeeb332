// The shipped files (shipped.ts) read from disk in Node, for the CLI and the tests: paths are taken from the
// project root found from this file, so the CLI works from any working directory.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { LoadShipped, ShippedBytes, ShippedSet } from './shipped.js';

/** The project root: this file is src/engine/export/shipped.node.ts. */
export const PROJECT_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export const readShipped: LoadShipped = async <S extends ShippedSet>(set: S): Promise<ShippedBytes<S>> => {
  const out: Record<string, Uint8Array> = {};
  for (const f of set.files) out[f.name] = new Uint8Array(await readFile(`${PROJECT_ROOT}${f.from}`));
  return out as ShippedBytes<S>;
};
