// npm run export -- --run <DIR | DIR/run> --out OUT [--dtype f32|bf16|f16] [--adapter] [--onnx] [--chat-page] [--recipe] [--gguf f16,q8_0]
// Makes the exports of a run saved by `npm run finetune -- --out DIR` again (its base model from the same source,
// the trained tensors from DIR/run or DIR/model.safetensors), as finetune would have written them.
import { isLlama } from '../src/engine/models/config.js';
import { parseDtype } from './exports.js';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { gpt2TokenizerFromPackage } from '../src/engine/data/tokenizer.node.js';
import type { ExportSource } from '../src/engine/export/source.js';
import { abortOnSigint, ggufOption, writeExports } from './exports.js';
import { loadSavedRun } from './models.js';

const USAGE = `usage: npm run export -- --run <dir> --out <dir> [--dtype f32|bf16|f16] [--adapter] [--onnx] [--chat-page] [--recipe]
  --run dir       a folder written by npm run finetune -- --out dir (or its run/ folder)
  --out dir       where to write the Hugging Face folder (and the saved run)
  --adapter       the PEFT LoRA adapter in out/adapter (LoRA runs)
  --dtype D       model.safetensors as f32 (the trained float32, default), bf16 or f16 (half the size)
  --onnx          onnx/model.onnx(+_data) for transformers.js in out
  --chat-page     a standalone chat page in out-chat
  --recipe        the TRL + accelerate hand-off in out-recipe
  --gguf TYPES    GGUF files for llama.cpp / Ollama / LM Studio in out-gguf, with an Ollama Modelfile:
                  f16, f32, q8_0, q4_k_m, or a comma list (f16,q4_k_m)`;

class UsageError extends Error {}

async function main(): Promise<void> {
  const { values: a } = parseArgs({
    options: {
      run: { type: 'string' },
      out: { type: 'string' },
      adapter: { type: 'boolean', default: false },
      onnx: { type: 'boolean', default: false },
      dtype: { type: 'string', default: 'f32' },
      'chat-page': { type: 'boolean', default: false },
      recipe: { type: 'boolean', default: false },
      gguf: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (a.help) return void console.log(USAGE);
  if (!a.run) throw new UsageError('--run is required');
  if (!a.out) throw new UsageError('--out is required');
  const gguf = ggufOption(a.gguf, (m) => new UsageError(m));
  const dtype = parseDtype(a.dtype);
  if (!dtype) throw new UsageError(`--dtype must be one of f32, bf16, f16, got "${a.dtype}"`);
  const { saved, runDir, config, base, trained, tok: baseTok } = await loadSavedRun(a.run);
  if (a.adapter && !saved.run.lora) throw new UsageError('--adapter needs a LoRA run; this run fine-tuned all weights');
  const lines = async (n: string) => (await readFile(join(runDir, 'data', n), 'utf8')).split('\n').filter(Boolean);
  const data = { train: await lines('train.jsonl'), validation: await lines('validation.jsonl') };
  // GPT-2 runs tokenize with the package's GPT-2 tokenizer; the Llama family with its repo's own
  const tok = isLlama(config) ? baseTok : gpt2TokenizerFromPackage(saved.run.data.template);
  const src: ExportSource = {
    config,
    weights: { ...base, ...trained },
    tokenizer: tok.files,
    eosId: tok.eosId,
    endIds: tok.endIds,
    sampling: saved.sampling,
    run: saved.run,
  };
  const written = await writeExports(
    a.out,
    src,
    data,
    saved.run.lora ? trained : {},
    saved.source,
    { adapter: a.adapter, onnx: a.onnx, chatPage: a['chat-page'], recipe: a.recipe, dtype, gguf },
    abortOnSigint(),
  );
  console.log(`wrote ${written.join(', ')}`);
}

main().catch((e: Error) => {
  console.error(e instanceof UsageError ? `${e.message}\n\n${USAGE}` : `error: ${e.message}`);
  process.exit(e instanceof UsageError ? 2 : 1);
});
