// What every export is made from: the run's facts (base model, data, settings, losses) and its weights, tokenizer
// and sampling defaults; and the weights as a plain model, LoRA merged in.
import type { AdamWConfig } from '../artifacts/build.js';
import type { OverflowPolicy } from '../data/rows.js';
import type { LossOn } from '../data/template.js';
import { Tokenizer, type TokenizerFiles } from '../data/tokenizer.js';
import type { SpecialIds } from '../models/family.js';
import type { SampleOptions } from '../generate/sampling.js';
import type { ModelConfig } from '../models/config.js';
import type { Weights } from '../models/init.js';
import { mergeLora, type LoraConfig } from '../models/lora.js';
import type { TrainConfig } from '../train/config.js';
import type { ScheduleKind } from '../train/schedule.js';

/** Everything about a run that an export states: the model card, the recipe and the configs. */
export interface RunFacts {
  /** The base model: a Hub repo (with its revision) or the offline tiny model. */
  base: { name: string; repo?: string; revision?: string; endpoint?: string };
  dataset: {
    file: string;
    format: string;
    kind: 'chat' | 'text';
    records: number;
    trainRows: number;
    validationRows: number;
    trainedTokens: number;
    totalTokens: number;
    truncated: number;
    skipped: number;
  };
  data: { lossOn: LossOn; overflow: OverflowPolicy; pack: boolean; template: string };
  train: {
    steps: number;
    lr: number;
    batch: number;
    seq: number;
    accumulation: number;
    warmupSteps: number;
    schedule: ScheduleKind;
    minLrRatio: number;
    seed: number;
    adamw: AdamWConfig;
  };
  lora?: LoraConfig;
  /** Steps trained (the step of the checkpoint exported). */
  step: number;
  losses: { step: number; loss: number }[];
  evals: { step: number; loss: number }[];
}

/** What every export is made from. */
export interface ExportSource {
  config: ModelConfig;
  /** Base weights plus, for LoRA runs, the adapters (lora_A/lora_B under their HF-style names). */
  weights: Weights;
  tokenizer: TokenizerFiles;
  eosId: number;
  /** Every id that ends a reply (generation_config.json's eos_token_id), eosId first; [eosId] when absent. */
  endIds?: readonly number[];
  /** The chat's sampling defaults, written to generation_config.json and used by the chat page. */
  sampling: SampleOptions & { maxNewTokens: number };
  run: RunFacts;
}

/** The special ids config.json and generation_config.json state: the tokenizer's bos and pad, every end id. */
export function specialIds(src: ExportSource): SpecialIds {
  const ids = new Tokenizer(src.tokenizer).specialIds();
  return { ...ids, eos: [...new Set([src.eosId, ...(src.endIds ?? [])])] };
}

/** The model's weights as a plain model of its family (LoRA merged in). */
export function mergedWeights(src: ExportSource): Weights {
  return src.run.lora ? mergeLora(src.config, src.run.lora, src.weights) : src.weights;
}

/** The training settings an export states, from the trainer's config. */
export function trainFacts(t: TrainConfig): RunFacts['train'] {
  const { steps, lr, batch, seq, accumulation, warmupSteps, schedule, minLrRatio, seed, adamw } = t;
  return { steps, lr, batch, seq, accumulation, warmupSteps, schedule, minLrRatio, seed, adamw };
}
