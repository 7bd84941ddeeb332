// The run the export tests share: 25 short conversations prepared as the studio prepares them (seq 48), a tiny
// GPT-2 with 64 positions, its LoRA config and training settings, the ExportSource an export of such a run is
// made from, and lookups of one file in an export.
import { prepareDataset } from '../data/prepare.js';
import { ChatTemplate, DEFAULT_CHAT_TEMPLATE } from '../data/template.js';
import { gpt2TokenizerFromPackage } from '../data/tokenizer.node.js';
import { joined, type OutFile } from '../util/files.js';
import { trainFacts, type ExportSource } from '../export/source.js';
import { DEFAULT_SAMPLING } from '../generate/sampling.js';
import { TINY_GPT2, type Weights } from '../models/init.js';
import type { LoraConfig } from '../models/lora.js';
import { DEFAULT_TRAIN, type TrainConfig } from '../train/trainer.js';

export const tok = gpt2TokenizerFromPackage(DEFAULT_CHAT_TEMPLATE);
const pairs = [
  ['Hi there', 'Hello! How can I help?'],
  ['Bye', 'Goodbye, have a nice day.'],
  ['Thanks', 'You are welcome.'],
  ['Who are you?', 'A small model.'],
  [
    'Tell me a story',
    'Once upon a time a small robot lived in a quiet town by the sea, and every morning it walked along the beach to collect shells for its friends.',
  ],
];
const text = Array.from({ length: 25 }, (_, i) =>
  JSON.stringify({
    messages: [
      { role: 'user', content: pairs[i % 5][0] },
      { role: 'assistant', content: pairs[i % 5][1] },
    ],
  }),
).join('\n');
export const data = prepareDataset(text, 'chat.jsonl', tok, new ChatTemplate(), {
  seq: 48,
  seed: 3,
  skipBad: false,
  samplePrompts: 1,
});
export const config = { ...TINY_GPT2, n_positions: 64 };
export const LORA: LoraConfig = { rank: 4, alpha: 8, targets: ['attn.c_attn', 'mlp.c_fc'] };
export const trainCfg = (steps: number): TrainConfig => ({
  ...DEFAULT_TRAIN,
  steps,
  batch: 4,
  seq: 48,
  lr: 3e-3,
  warmupSteps: 2,
  evalEvery: 0,
  sampleEvery: 0,
  checkpointEvery: 0,
});

/** The facts of a run of `losses.length` steps of trainCfg on data, with these weights. */
export function source(
  lora: LoraConfig | undefined,
  W: Weights,
  losses: { step: number; loss: number }[],
): ExportSource {
  const t = trainCfg(losses.length);
  return {
    config,
    weights: W,
    tokenizer: tok.files,
    eosId: tok.eosId,
    sampling: { ...DEFAULT_SAMPLING, maxNewTokens: 64 },
    run: {
      base: { name: 'acme/gpt2@v1', repo: 'acme/gpt2', revision: 'v1' },
      dataset: {
        file: 'chat.jsonl',
        format: data.format,
        kind: data.kind,
        records: data.records,
        trainRows: data.train.length,
        validationRows: data.validation.length,
        trainedTokens: data.trainedTokens,
        totalTokens: data.totalTokens,
        truncated: data.truncated,
        skipped: 0,
      },
      data: { lossOn: 'assistant', overflow: 'drop-oldest', pack: false, template: DEFAULT_CHAT_TEMPLATE },
      train: trainFacts(t),
      lora,
      step: losses.length,
      losses,
      evals: [{ step: losses.length, loss: 2.5 }],
    },
  };
}

/** One file of an export, joined. */
export const file = (files: OutFile[], path: string) => {
  const f = files.find((x) => x.path === path);
  if (!f) throw new Error(`no ${path} in the export`);
  return joined(f);
};
export const json = (files: OutFile[], path: string) =>
  JSON.parse(new TextDecoder().decode(file(files, path))) as Record<string, unknown>;
