// Files the exports ship as they are: the programs (the recipe's train.py, the chat page's index.html and chat.js,
// with their READMEs and configs), kept as real files in this repo so the linters read them, and the chat page's
// runtime from its npm packages. One table, so the studio and the CLI cannot ship different files: the CLI reads
// them from disk (shipped.node.ts); the studio serves them (vite.config.ts) and its worker fetches them.
//
// Why served and fetched rather than imported with Vite's `?raw`: tsx (the CLI) does not understand `?raw`, and
// `new URL(file, import.meta.url)` would let Vite's dev server transform the .html and .js it serves (its client
// script injected, imports rewritten) and inline small files; the vendor files already travel this way.
import type { OutFile } from '../util/files.js';

/** A file an export ships unchanged: `name` is its name in the export (and URL under its set's `url`), `from` its path from the project root. */
export interface ShippedFile {
  readonly name: string;
  readonly from: string;
}

/** Files that travel together, and where under the studio's base URL it serves them (unhashed, as in `from`). */
export interface ShippedSet {
  readonly url: string;
  readonly files: readonly ShippedFile[];
}

/** The bytes of every file of a set, by name. */
export type ShippedBytes<S extends ShippedSet> = Record<S['files'][number]['name'], Uint8Array>;

/** Reads (CLI, tests) or fetches (worker) a set's files. */
export type LoadShipped = <S extends ShippedSet>(set: S) => Promise<ShippedBytes<S>>;

const HERE = 'src/engine/export';

/** The hand-off recipe's program: train.py reads run.json, which the export writes beside it (recipe.ts). */
export const RECIPE_PROGRAM = {
  url: 'programs/recipe/',
  files: [
    { name: 'train.py', from: `${HERE}/recipe/train.py` },
    { name: 'accelerate_config.yaml', from: `${HERE}/recipe/accelerate_config.yaml` },
    { name: 'requirements.txt', from: `${HERE}/recipe/requirements.txt` },
    { name: 'README.md', from: `${HERE}/recipe/README.md` }, // the one file filled in: its {{slots}} (recipe.ts)
  ],
} as const satisfies ShippedSet;

/** The chat page: index.html loads chat.js, which reads chat-config.json, written beside it (chat-page.ts). */
export const CHAT_PAGE_PROGRAM = {
  url: 'programs/chat-page/',
  files: [
    { name: 'index.html', from: `${HERE}/chat-page/index.html` },
    { name: 'chat.js', from: `${HERE}/chat-page/chat.js` },
    { name: 'README.md', from: `${HERE}/chat-page/README.md` },
  ],
} as const satisfies ShippedSet;

/** What the chat page needs besides the model, as the npm packages ship it; it lies in the page's vendor/. */
export const CHAT_VENDOR = {
  url: 'chat-vendor/',
  files: [
    { name: 'transformers.min.js', from: 'node_modules/@huggingface/transformers/dist/transformers.min.js' },
    {
      name: 'ort-wasm-simd-threaded.asyncify.mjs',
      from: 'node_modules/@huggingface/transformers/node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.asyncify.mjs',
    },
    {
      name: 'ort-wasm-simd-threaded.asyncify.wasm',
      from: 'node_modules/@huggingface/transformers/node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.asyncify.wasm',
    },
  ],
} as const satisfies ShippedSet;

/** Every set, for the build to serve and copy. */
export const SHIPPED: readonly ShippedSet[] = [RECIPE_PROGRAM, CHAT_PAGE_PROGRAM, CHAT_VENDOR];

/** A set's files as export files, under `prefix/` when given; `skip` leaves out the ones the caller writes itself. */
export function shippedFiles<S extends ShippedSet>(
  set: S,
  bytes: ShippedBytes<S>,
  o: { prefix?: string; skip?: readonly S['files'][number]['name'][] } = {},
): OutFile[] {
  return set.files
    .filter((f) => !o.skip?.includes(f.name))
    .map((f) => ({
      path: o.prefix ? `${o.prefix}/${f.name}` : f.name,
      parts: [bytes[f.name as S['files'][number]['name']]],
    }));
}
