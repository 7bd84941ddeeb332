// npm run finetune -- --data <file> --model <tiny | HF folder> --steps N [options]
// Fine-tunes GPT-2 on a plain-text file or a chat JSONL in Node, on the same engine as the studio, prints progress
// and a sample reply, and writes a Hugging Face folder. --json prints one JSON object per event line.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { ModelSpec } from '../src/engine/artifacts/model.js';
import { DataError, decodeText, FORMATS, type FormatName } from '../src/engine/data/formats.js';
import type { OverflowPolicy } from '../src/engine/data/rows.js';
import { DatasetRejectedError, prepareDataset } from '../src/engine/data/prepare.js';
import { CHAT_VARS, ChatTemplate, type LossOn } from '../src/engine/data/template.js';
import type { Tokenizer } from '../src/engine/data/tokenizer.js';
import { trainFacts, type ExportSource, type RunFacts } from '../src/engine/export/source.js';
import type { ModelSource } from '../src/engine/export/saved-run.js';
import { abortOnSigint, ggufOption, parseDtype, writeExports } from './exports.js';
import { loadBase } from './models.js';
import { Generator } from '../src/engine/generate/generator.js';
import { DEFAULT_SAMPLING } from '../src/engine/generate/sampling.js';
import { initLora, type Weights } from '../src/engine/models/init.js';
import { defaultLora, loraOfRank, type LoraConfig } from '../src/engine/models/lora.js';
import { maxPositions } from '../src/engine/models/family.js';
import type { Backend } from '../src/engine/runtime/backend.js';
import { parseBackend } from '../src/engine/runtime/backend.js';
import { createNodeBackend } from '../src/engine/runtime/node.js';
import { materialize } from '../src/engine/train/checkpoint.js';
import { DEFAULT_TRAIN, Trainer, type TrainConfig } from '../src/engine/train/trainer.js';

const USAGE = `usage: npm run finetune -- --data <file.txt|file.jsonl> [options]
  --model <tiny|folder|repo>  tiny (offline, from --seed), a Hugging Face GPT-2 folder, or a Hub repo id
                          (downloaded once from $HF_ENDPOINT or huggingface.co into $FTS_CACHE)  [tiny]
  --revision rev          Hub revision                                                       [main]
  --steps N               optimizer steps                                                    [${DEFAULT_TRAIN.steps}]
  --lr X                  peak learning rate                                 [5e-5; 1e-3 with LoRA; 3e-3 for tiny]
  --batch B --seq T       batch size and sequence length                           [${DEFAULT_TRAIN.batch}, ${DEFAULT_TRAIN.seq}]
  --accumulation A        micro-batches per step                                             [1]
  --lora-rank R           train LoRA adapters of rank R instead of all weights
  --lora-alpha A          LoRA alpha                                                         [2 x rank]
  --lora-targets list     comma-separated module names: GPT-2 attn.c_attn,attn.c_proj,mlp.c_fc,mlp.c_proj;
                          Llama/Qwen q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj
                                                         [attn.c_attn; Llama/Qwen q_proj,v_proj]
  --warmup N              warmup steps                                                       [${DEFAULT_TRAIN.warmupSteps}]
  --seed S                seed for init, shuffling and the split                             [${DEFAULT_TRAIN.seed}]
  --backend name          node-cpu or node-webgpu                                            [node-cpu]
  --out dir               where to write the Hugging Face folder (and the saved run, dir/run) [out/finetuned]
  --adapter               also write the PEFT LoRA adapter to dir/adapter (LoRA runs)
  --dtype D               model.safetensors as f32 (the trained float32), bf16 or f16 (half the size)  [f32]
  --onnx                  also write onnx/model.onnx(+_data) for transformers.js into dir
  --chat-page             also write a standalone chat page (transformers.js, WebGPU/WASM) to dir-chat
  --recipe                also write a TRL + accelerate hand-off for bigger runs to dir-recipe
  --gguf TYPES            also write GGUF files for llama.cpp / Ollama / LM Studio and a Modelfile to dir-gguf:
                          f16, f32, q8_0, q4_k_m, or a comma list (f16,q4_k_m)
  --skip-bad              train on the good records of a file with bad ones (they are counted)
  --format name           auto, chat, sharegpt, alpaca, text or csv                          [auto]
  --prompt-column C --response-column C   CSV/TSV columns                                    [guessed by name]
  --loss-on what          assistant, last-assistant or all                                   [assistant]
  --overflow policy       drop-oldest (keeps the system prompt) or truncate                  [drop-oldest]
  --pack                  pack several short conversations into each row
  --json                  one JSON object per event line`;

class UsageError extends Error {}

function parseOptions() {
  const { values: a } = parseArgs({
    options: {
      data: { type: 'string' },
      model: { type: 'string', default: 'tiny' },
      revision: { type: 'string', default: 'main' },
      steps: { type: 'string' },
      lr: { type: 'string' },
      batch: { type: 'string' },
      seq: { type: 'string' },
      accumulation: { type: 'string' },
      'lora-rank': { type: 'string' },
      'lora-alpha': { type: 'string' },
      'lora-targets': { type: 'string' },
      warmup: { type: 'string' },
      seed: { type: 'string' },
      backend: { type: 'string', default: 'node-cpu' },
      out: { type: 'string', default: 'out/finetuned' },
      'skip-bad': { type: 'boolean', default: false },
      format: { type: 'string', default: 'auto' },
      'prompt-column': { type: 'string' },
      'response-column': { type: 'string' },
      'loss-on': { type: 'string', default: 'assistant' },
      overflow: { type: 'string', default: 'drop-oldest' },
      pack: { type: 'boolean', default: false },
      adapter: { type: 'boolean', default: false },
      onnx: { type: 'boolean', default: false },
      dtype: { type: 'string', default: 'f32' },
      'chat-page': { type: 'boolean', default: false },
      recipe: { type: 'boolean', default: false },
      gguf: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  const num = (k: keyof typeof a, dflt: number, int = true) => {
    const v = a[k];
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0 || (int && !Number.isInteger(n)))
      throw new UsageError(`--${k} must be a positive ${int ? 'whole ' : ''}number, got "${v}"`);
    return n;
  };
  const oneOf = <T extends string>(k: keyof typeof a, allowed: readonly T[]): T => {
    if (!allowed.includes(a[k] as T))
      throw new UsageError(`--${k} must be one of ${allowed.join(', ')}, got "${a[k]}"`);
    return a[k] as T;
  };
  const log = (obj: Record<string, unknown>, text: string) => console.log(a.json ? JSON.stringify(obj) : text);
  return { a, num, oneOf, log };
}
type Cli = ReturnType<typeof parseOptions>;
type Tok = Tokenizer;

/** The base model (tiny, a folder or a Hub repo, downloads logged) and, with --lora-rank, its fresh adapters. */
async function loadModel({ a, num, log }: Cli, seed: number) {
  const isHub = a.model !== 'tiny' && !existsSync(a.model) && /^[\w.-]+(\/[\w.-]+)?$/.test(a.model);
  const source: ModelSource =
    a.model === 'tiny'
      ? { kind: 'tiny', seed }
      : isHub
        ? { kind: 'hub', repo: a.model, revision: a.revision, endpoint: process.env.HF_ENDPOINT }
        : { kind: 'folder', path: resolve(a.model) };
  const shown = new Set<string>();
  const {
    config,
    weights: base,
    tok,
    template,
  } = await loadBase(source, (p) => {
    if (p.status === 'done' && !shown.has(p.file)) {
      shown.add(p.file);
      log(
        { type: 'download', ...p },
        `${p.fromCache ? 'cached' : 'downloaded'} ${a.model}/${p.file} (${(p.size / 2 ** 20).toFixed(1)} MiB)`,
      );
    }
  });
  const loraRank = a['lora-rank'] ? num('lora-rank', 8) : 0;
  const lora = loraOfRank(config, loraRank, {
    alpha: num('lora-alpha', 2 * loraRank, false),
    targets: a['lora-targets']?.split(',') ?? defaultLora(config).targets,
  });
  const model: ModelSpec = { config, lora };
  const weights = lora ? { ...base, ...initLora(config, lora, seed) } : base;
  return { source, config, base, lora, model, weights, tok, template };
}

/** The dialogue file through the studio's own preparation: rows, the split, a sample prompt. */
async function loadData(
  { a, oneOf, log }: Cli,
  file: string,
  tok: Tok,
  template: ChatTemplate,
  seq: number,
  seed: number,
) {
  const d = prepareDataset(decodeText(new Uint8Array(await readFile(file)), file), file, tok, template, {
    seq,
    seed,
    skipBad: a['skip-bad'],
    samplePrompts: 1,
    format: oneOf<FormatName | 'auto'>('format', ['auto', ...FORMATS]),
    promptColumn: a['prompt-column'],
    responseColumn: a['response-column'],
    lossOn: oneOf<LossOn>('loss-on', ['assistant', 'last-assistant', 'all']),
    overflow: oneOf<OverflowPolicy>('overflow', ['drop-oldest', 'truncate']),
    pack: a.pack,
  });
  const { train, validation } = d;
  log(
    {
      type: 'data',
      file,
      kind: d.kind,
      records: d.records,
      skipped: d.skipped.length,
      trainRows: train.length,
      validationRows: validation.length,
      truncated: d.truncated,
    },
    `data: ${d.records} ${d.kind === 'chat' ? 'conversations' : 'text records'}${d.skipped.length ? ` (${d.skipped.length} bad skipped)` : ''} -> ${train.length} train / ${validation.length} validation rows of ${seq + 1} tokens${d.truncated ? `, ${d.truncated} truncated` : ''}`,
  );
  return d;
}

/** One sampled reply to the data's first prompt, from the trained weights. */
async function sampleReply(
  backend: Backend,
  model: ModelSpec,
  weights: ConstructorParameters<typeof Generator>[2],
  tok: Tok,
  promptIds: number[],
  seed: number,
): Promise<string> {
  const gen = new Generator(backend, model, weights, tok, { cache: Math.min(256, maxPositions(model.config)) });
  let reply = '';
  for await (const ev of gen.stream(promptIds, {
    ...DEFAULT_SAMPLING,
    temperature: 0.7,
    maxNewTokens: 48,
    seed,
    stopStrings: ['\nUser:'],
  })) {
    if (ev.type === 'done') reply = ev.text;
  }
  await gen.release();
  return reply;
}

/** What the exports state about this run. */
function runFacts(
  { a, oneOf }: Cli,
  source: ModelSource,
  seed: number,
  d: Awaited<ReturnType<typeof loadData>>,
  cfg: TrainConfig,
  lora: LoraConfig | undefined,
  finalStep: number,
  losses: RunFacts['losses'],
  evals: RunFacts['evals'],
  template: string,
): RunFacts {
  const { train, validation } = d;
  return {
    base:
      source.kind === 'hub'
        ? {
            name: `${source.repo}@${source.revision}`,
            repo: source.repo,
            revision: source.revision,
            endpoint: source.endpoint,
          }
        : { name: source.kind === 'tiny' ? `tiny GPT-2 (seed ${seed})` : source.path },
    dataset: {
      file: a.data!,
      format: d.format,
      kind: d.kind,
      records: d.records,
      trainRows: train.length,
      validationRows: validation.length,
      trainedTokens: d.trainedTokens,
      totalTokens: d.totalTokens,
      truncated: d.truncated,
      skipped: d.skipped.length,
    },
    data: {
      lossOn: oneOf<LossOn>('loss-on', ['assistant', 'last-assistant', 'all']),
      overflow: oneOf<OverflowPolicy>('overflow', ['drop-oldest', 'truncate']),
      pack: a.pack,
      template,
    },
    train: trainFacts(cfg),
    lora,
    step: finalStep,
    losses,
    evals,
  };
}

async function main(): Promise<void> {
  const cli = parseOptions();
  const { a, num, log } = cli;
  if (a.help) return void console.log(USAGE);
  if (!a.data) throw new UsageError('--data is required');
  const gguf = ggufOption(a.gguf, (m) => new UsageError(m));
  const dtype = parseDtype(a.dtype);
  if (!dtype) throw new UsageError(`--dtype must be one of f32, bf16, f16, got "${a.dtype}"`);
  if (a.adapter && !a['lora-rank'])
    throw new UsageError('--adapter needs a LoRA run (--lora-rank R); a full fine-tune has no adapter');
  const json = a.json;
  const seed = num('seed', DEFAULT_TRAIN.seed);
  // the model's own tokenizer and chat template (GPT-2: the studio's plain-text one)
  const { source, config, base, lora, model, weights, tok, template } = await loadModel(cli, seed);
  const seq = num('seq', Math.min(DEFAULT_TRAIN.seq, maxPositions(config)));
  const d = await loadData(cli, a.data, tok, ChatTemplate.forTokenizer(tok, template, { vars: CHAT_VARS }), seq, seed);
  const { train, validation } = d;
  const samplePrompt = d.samplePrompts[0]?.text ?? '';
  const promptIds = (d.samplePrompts[0]?.ids ?? [tok.eosId]).slice(
    -Math.floor(Math.min(256, maxPositions(config)) / 2),
  );

  // ---- train
  const defaultLr = a.model === 'tiny' ? 3e-3 : lora ? 1e-3 : 5e-5;
  const cfg: TrainConfig = {
    ...DEFAULT_TRAIN,
    seq,
    seed,
    steps: num('steps', DEFAULT_TRAIN.steps),
    lr: num('lr', defaultLr, false),
    batch: num('batch', DEFAULT_TRAIN.batch),
    accumulation: num('accumulation', 1),
    warmupSteps: a.warmup ? Number(a.warmup) : DEFAULT_TRAIN.warmupSteps,
    evalEvery: validation.length ? Math.max(1, Math.floor(num('steps', DEFAULT_TRAIN.steps) / 4)) : 0,
    sampleEvery: 0,
    checkpointEvery: 0,
  };
  const backend = await createNodeBackend(parseBackend(a.backend) as 'node-cpu' | 'node-webgpu');
  const trainer = new Trainer({ backend, model, weights, train, validation, config: cfg, padId: tok.padId });
  let final: Weights | null = null;
  let finalStep = 0;
  const losses: { step: number; loss: number }[] = [];
  const evals: { step: number; loss: number }[] = [];
  for await (const e of trainer.run()) {
    switch (e.type) {
      case 'start':
        log(
          e,
          `training ${a.model} (${lora ? `LoRA r=${lora.rank} on ${lora.targets.join(',')}` : 'full fine-tune'}, ${e.trainableParams.toLocaleString()} trainable parameters) on ${e.backend}`,
        );
        break;
      case 'step':
        losses.push({ step: e.step, loss: e.loss });
        if (json) log(e, '');
        else if (e.step === 1 || e.step % 10 === 0 || e.step === cfg.steps) {
          console.log(
            `step ${String(e.step).padStart(5)}/${cfg.steps}  loss ${e.loss.toFixed(4)}  lr ${e.lr.toExponential(2)}  grad-norm ${e.gradNorm.toFixed(3)}  ${e.tokensPerSecond.toFixed(0)} tok/s  eta ${(e.etaMs / 1000).toFixed(0)}s`,
          );
        }
        break;
      case 'eval':
        evals.push({ step: e.step, loss: e.loss });
        log(e, `step ${String(e.step).padStart(5)}/${cfg.steps}  validation loss ${e.loss.toFixed(4)}`);
        break;
      case 'checkpoint':
        final = { ...base, ...(await materialize(e.checkpoint)).trainable };
        finalStep = e.step;
        log({ type: 'checkpoint', step: e.step }, `checkpoint at step ${e.step}`);
        break;
      case 'error':
        log(e, `error at step ${e.step}: ${e.message}`);
        process.exitCode = 1;
        break;
      default:
        log(e, `${e.type} at step ${e.step}`);
    }
  }
  if (!final) return;

  // ---- sample reply, then the Hugging Face folder
  const reply = await sampleReply(backend, model, trainer.currentWeights, tok, promptIds, seed);
  log({ type: 'sample', prompt: samplePrompt, text: reply }, `sample:\n${samplePrompt}${reply}`);
  await trainer.release();
  const run = runFacts(cli, source, seed, d, cfg, lora, finalStep, losses, evals, template);
  const src: ExportSource = {
    config,
    weights: final,
    tokenizer: tok.files,
    eosId: tok.eosId,
    endIds: tok.endIds,
    sampling: { ...DEFAULT_SAMPLING, maxNewTokens: 128 },
    run,
  };
  const trained = lora ? Object.fromEntries(Object.entries(final).filter(([k]) => k.includes('.lora_'))) : {};
  const written = await writeExports(
    a.out,
    src,
    d.trainedRecords,
    trained,
    source,
    { adapter: a.adapter, onnx: a.onnx, chatPage: a['chat-page'], recipe: a.recipe, dtype, gguf },
    abortOnSigint(),
  );
  log(
    { type: 'saved', dir: a.out, folders: written },
    `saved a Hugging Face folder to ${a.out}${lora ? ' (LoRA merged into the weights)' : ''}${written.length > 1 ? `; also ${written.slice(1).join(', ')}` : ''}`,
  );
}

main().catch((e: Error) => {
  console.error(
    e instanceof UsageError
      ? `${e.message}\n\n${USAGE}`
      : e instanceof DatasetRejectedError || e instanceof DataError
        ? e.message
        : `error: ${e.message}`,
  );
  process.exit(e instanceof UsageError ? 2 : 1);
});
