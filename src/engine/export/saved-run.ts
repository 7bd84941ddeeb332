// A run saved next to its Hugging Face folder (DIR/run/), so that every export can be made again later from it
// (`npm run export -- --run DIR`): the run's facts and sampling defaults, where its base model came from, the
// trained tensors (LoRA runs: the adapters; full fine-tunes: DIR/model.safetensors is the checkpoint) and the
// dataset as trained.
import type { ModelConfig } from '../models/config.js';
import type { Weights } from '../models/init.js';
import { safetensorsParts } from '../hub/safetensors.js';
import { jsonFile, textFile, type OutFile } from '../util/files.js';
import type { ExportSource, RunFacts } from './source.js';
import type { RecipeData } from './recipe.js';

export type ModelSource =
  | { kind: 'tiny'; seed: number }
  | { kind: 'folder'; path: string }
  | { kind: 'hub'; repo: string; revision: string; endpoint?: string };

export interface SavedRun {
  version: 1;
  source: ModelSource;
  config: ModelConfig;
  run: RunFacts;
  sampling: ExportSource['sampling'];
}

export const SAVED_RUN_DIR = 'run';

export function savedRunFiles(saved: SavedRun, trained: Weights, data: RecipeData): OutFile[] {
  const lora = saved.run.lora
    ? [
        {
          path: 'lora.safetensors',
          parts: safetensorsParts(
            Object.fromEntries(Object.entries(trained).map(([k, v]) => [k, { shape: [v.length], data: v }])),
          ),
        },
      ]
    : [];
  const lines = (xs: readonly string[]) => (xs.length ? `${xs.join('\n')}\n` : '');
  return [
    jsonFile('run.json', saved),
    ...lora,
    textFile('data/train.jsonl', lines(data.train)),
    textFile('data/validation.jsonl', lines(data.validation)),
  ];
}

export function parseSavedRun(json: unknown, file: string): SavedRun {
  const r = json as Partial<SavedRun>;
  if (!r || typeof r !== 'object' || r.version !== 1)
    throw new Error(`${file}: not a Fine-Tune Studio run (expected "version": 1)`);
  for (const k of ['source', 'config', 'run', 'sampling'] as const)
    if (!r[k] || typeof r[k] !== 'object') throw new Error(`${file}: field "${k}" is missing`);
  return r as SavedRun;
}
