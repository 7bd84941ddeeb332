// A training checkpoint: the trainable weights, AdamW's moments and the step, enough for a new Trainer to continue
// the same run exactly (batches are a function of the seed and the step). Base weights under LoRA are not copied:
// they come from the model the run started from.
import type { ModelSpec } from '../artifacts/model.js';
import type { Weights } from '../models/init.js';
import type { TrainConfig } from './trainer.js';

export const CHECKPOINT_FORMAT = 'fine-tune-studio/checkpoint@1';

export interface Checkpoint {
  readonly format: typeof CHECKPOINT_FORMAT;
  /** Optimizer steps taken. */
  readonly step: number;
  readonly model: ModelSpec;
  readonly config: TrainConfig;
  readonly trainable: Weights;
  readonly expAvg: Weights;
  readonly expAvgSq: Weights;
}
