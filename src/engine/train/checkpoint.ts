// A training checkpoint: the trainable weights, AdamW's moments and the step, enough for a new Trainer to continue
// the same run exactly (batches are a function of the seed and the step). Base weights under LoRA are not copied:
// they come from the model the run started from. The trainer hands out a snapshot that reads one tensor at a time
// from the device, so a 1.5 GB full fine-tune checkpoint is streamed into storage, never copied whole to the CPU.
import type { ModelSpec } from '../artifacts/model.js';
import type { Weights } from '../models/init.js';
import type { TrainConfig } from './trainer.js';

export const CHECKPOINT_FORMAT = 'fine-tune-studio/checkpoint@1';

export type CheckpointGroup = 'trainable' | 'expAvg' | 'expAvgSq';
export const CHECKPOINT_GROUPS: readonly CheckpointGroup[] = ['trainable', 'expAvg', 'expAvgSq'];

export interface CheckpointMeta {
  readonly format: typeof CHECKPOINT_FORMAT;
  /** Optimizer steps taken. */
  readonly step: number;
  readonly model: ModelSpec;
  readonly config: TrainConfig;
}

export interface Checkpoint extends CheckpointMeta {
  readonly trainable: Weights;
  readonly expAvg: Weights;
  readonly expAvgSq: Weights;
}

export interface CheckpointTensor {
  readonly group: CheckpointGroup;
  readonly name: string;
  readonly shape: readonly number[];
}

/**
 * A checkpoint still on the device. `read` copies one tensor to the CPU. Valid while the trainer is suspended on
 * the event that carried it (the weights change with the next step).
 */
export interface CheckpointSnapshot extends CheckpointMeta {
  readonly tensors: readonly CheckpointTensor[];
  /** What the tensors take as float32 bytes. */
  readonly bytes: number;
  read(t: CheckpointTensor): Promise<Float32Array>;
}

/** Every tensor of a snapshot on the CPU (the CLI and tests; the studio streams instead). */
export async function materialize(s: CheckpointSnapshot): Promise<Checkpoint> {
  const g: Record<CheckpointGroup, Weights> = { trainable: {}, expAvg: {}, expAvgSq: {} };
  for (const t of s.tensors) g[t.group][t.name] = await s.read(t);
  return { format: s.format, step: s.step, model: s.model, config: s.config, ...g };
}
