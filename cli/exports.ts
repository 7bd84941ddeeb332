// What `npm run finetune -- --out DIR` and `npm run export` write, shared: DIR the Hugging Face folder (with
// onnx/ for transformers.js when asked), DIR/run the saved run, DIR/adapter the PEFT adapter, DIR-chat the
// standalone chat page, DIR-recipe the TRL hand-off. Each folder appears whole or not at all.
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
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
import { FsHubCache } from '../src/engine/hub/cache.node.js';
import { HubClient } from '../src/engine/hub/client.js';
import { loadHubGpt2 } from '../src/engine/hub/model.js';
import { readSafetensorsStream } from '../src/engine/hub/safetensors.js';
import { gpt2WeightsFromTensors, parseGpt2Config } from '../src/engine/models/hf.js';
import { initGpt2, TINY_GPT2, type Weights } from '../src/engine/models/init.js';
import type { GPT2Config } from '../src/engine/models/gpt2.js';
import type { Progress } from '../src/engine/hub/client.js';
import { parseJsonFile } from '../src/engine/util/json.js';

export interface ExportFlags {
  adapter: boolean;
  onnx: boolean;
  chatPage: boolean;
  recipe: boolean;
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
    ...hfFolderFiles(src, { onnx: f.onnx }),
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
  if (f.recipe) {
    await writeFolder(`${out}-recipe`, recipeFiles(src, data, await readShipped(RECIPE_PROGRAM)), { signal });
    written.push(`${out}-recipe`);
  }
  return written;
}

/** A safetensors file read tensor by tensor (never one buffer of the whole file). */
export async function readSafetensorsFile(file: string, keep?: (name: string) => boolean) {
  const chunks = (async function* () {
    for await (const c of createReadStream(file, { highWaterMark: 8 * 2 ** 20 })) yield new Uint8Array(c as Buffer);
  })();
  return readSafetensorsStream(chunks, (await stat(file)).size, file, keep);
}

/** The base model of a run: the tiny one from its seed, a local Hugging Face folder, or a Hub repo (cached). */
export async function loadBase(
  source: ModelSource,
  onProgress?: (p: Progress) => void,
): Promise<{ config: GPT2Config; weights: Weights }> {
  if (source.kind === 'tiny') return { config: TINY_GPT2, weights: initGpt2(TINY_GPT2, source.seed) };
  if (source.kind === 'folder') {
    const config = parseGpt2Config(
      parseJsonFile(await readFile(join(source.path, 'config.json'), 'utf8'), join(source.path, 'config.json')),
      join(source.path, 'config.json'),
    );
    const file = join(source.path, 'model.safetensors');
    return {
      config,
      weights: gpt2WeightsFromTensors(
        config,
        await readSafetensorsFile(file, (n) => !/\.attn\.(masked_)?bias$/.test(n)),
        file,
      ),
    };
  }
  const hub = new HubClient(new FsHubCache(), {
    endpoint: source.endpoint ?? process.env.HF_ENDPOINT,
    token: process.env.HF_TOKEN,
  });
  const m = await loadHubGpt2(hub, source.repo, source.revision, { onProgress });
  return { config: m.config, weights: m.weights };
}

/** Ctrl-C during a write removes what was half written (writeFolder sees the abort) and exits 130. */
export function abortOnSigint(): AbortSignal {
  const ac = new AbortController();
  process.once('SIGINT', () => ac.abort());
  return ac.signal;
}
