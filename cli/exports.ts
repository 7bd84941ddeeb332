// What `npm run finetune -- --out DIR` and `npm run export` write, shared: DIR the Hugging Face folder (with
// onnx/ for transformers.js when asked), DIR/run the saved run, DIR/adapter the PEFT adapter, DIR-chat the
// standalone chat page, DIR-recipe the TRL hand-off, DIR-gguf the GGUF files and Ollama Modelfile. Each folder appears whole or not at all.
import { basename, resolve } from 'node:path';
import { ggufFiles, parseGgufTypes, type GgufType } from '../src/engine/export/gguf-export.js';
import type { StoredDtype } from '../src/engine/hub/safetensors.js';
import { chatPageFiles } from '../src/engine/export/chat-page.js';
import { hfFolderFiles } from '../src/engine/export/hf.js';
import { peftAdapterFiles } from '../src/engine/export/peft.js';
import type { ExportSource } from '../src/engine/export/source.js';
import { recipeFiles, type RecipeData } from '../src/engine/export/recipe.js';
import { savedRunFiles, SAVED_RUN_DIR, type ModelSource } from '../src/engine/export/saved-run.js';
import { under } from '../src/engine/util/files.js';
import { CHAT_PAGE_PROGRAM, CHAT_VENDOR, RECIPE_PROGRAM } from '../src/engine/export/shipped.js';
import { readShipped } from '../src/engine/export/shipped.node.js';
import { writeFolder } from '../src/engine/export/write.node.js';
import type { Weights } from '../src/engine/models/init.js';

export interface ExportFlags {
  adapter: boolean;
  onnx: boolean;
  /** model.safetensors' dtype (default F32, the trained float32). */
  dtype?: StoredDtype;
  chatPage: boolean;
  recipe: boolean;
  /** GGUF files (and an Ollama Modelfile) in DIR-gguf, one per type. */
  gguf?: readonly GgufType[];
}

/** --dtype's values: f32, bf16, f16; undefined for anything else. */
const DTYPES: Readonly<Record<string, StoredDtype>> = { f32: 'F32', bf16: 'BF16', f16: 'F16' };
export const parseDtype = (v: string | undefined): StoredDtype | undefined => DTYPES[v ?? 'f32'];

/** --gguf's comma list as GGUF types (undefined when absent), or `error`'s error naming the bad one. */
export function ggufOption(v: string | undefined, error: (m: string) => Error): GgufType[] | undefined {
  if (v === undefined) return undefined;
  try {
    return parseGgufTypes(v);
  } catch (e) {
    throw error((e as Error).message);
  }
}

/** Writes every export asked for; returns the folders written. */
export async function writeExports(
  out: string,
  src: ExportSource,
  data: RecipeData,
  trained: Weights,
  source: ModelSource,
  f: ExportFlags,
  signal?: AbortSignal,
): Promise<string[]> {
  const main = [
    ...hfFolderFiles(src, { onnx: f.onnx, dtype: f.dtype }),
    ...under(
      SAVED_RUN_DIR,
      savedRunFiles({ version: 1, source, config: src.config, run: src.run, sampling: src.sampling }, trained, data),
    ),
    ...(f.adapter ? under('adapter', peftAdapterFiles(src)) : []),
  ];
  await writeFolder(out, main, { signal });
  const written = [out];
  if (f.chatPage) {
    await writeFolder(
      `${out}-chat`,
      chatPageFiles(src, await readShipped(CHAT_PAGE_PROGRAM), await readShipped(CHAT_VENDOR)),
      { signal },
    );
    written.push(`${out}-chat`);
  }
  if (f.gguf?.length) {
    await writeFolder(`${out}-gguf`, ggufFiles(src, f.gguf, basename(resolve(out))), { signal });
    written.push(`${out}-gguf`);
  }
  if (f.recipe) {
    await writeFolder(`${out}-recipe`, recipeFiles(src, data, await readShipped(RECIPE_PROGRAM)), { signal });
    written.push(`${out}-recipe`);
  }
  return written;
}

/** A safetensors file read tensor by tensor (never one buffer of the whole file). */
/** Ctrl-C during a write removes what was half written (writeFolder sees the abort) and exits 130. */
export function abortOnSigint(): AbortSignal {
  const ac = new AbortController();
  process.once('SIGINT', () => ac.abort());
  return ac.signal;
}
