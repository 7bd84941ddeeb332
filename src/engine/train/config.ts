// A training run's configuration (with its frozen defaults) and the events the trainer streams: what the worker,
// the CLI and the tests hand the trainer and read back from it.
import { DEFAULT_ADAMW, type AdamWConfig } from '../artifacts/build.js';
import type { CheckpointSnapshot } from './checkpoint.js';
import type { ScheduleKind } from './schedule.js';
import type { DeviceMemory } from '../runtime/memory.js';

export interface TrainConfig {
  readonly steps: number;
  readonly batch: number;
  readonly seq: number;
  /** Micro-batches per optimizer step. */
  readonly accumulation: number;
  readonly lr: number;
  readonly warmupSteps: number;
  readonly schedule: ScheduleKind;
  readonly minLrRatio: number;
  readonly adamw: AdamWConfig;
  readonly seed: number;
  /** 0 turns evaluation off. */
  readonly evalEvery: number;
  readonly evalBatches: number;
  /** 0 turns samples off. */
  readonly sampleEvery: number;
  readonly sampleMaxTokens: number;
  /** 0 turns periodic checkpoints off (the final one is always made). */
  readonly checkpointEvery: number;
}

export const DEFAULT_TRAIN: TrainConfig = Object.freeze({
  steps: 200,
  batch: 4,
  seq: 128,
  accumulation: 1,
  lr: 5e-5, // HF Trainer's default, right for full fine-tunes; LoRA wants ~1e-4..1e-3
  warmupSteps: 10,
  schedule: 'cosine',
  minLrRatio: 0.1,
  adamw: DEFAULT_ADAMW,
  seed: 42,
  evalEvery: 50,
  evalBatches: 8,
  sampleEvery: 50,
  sampleMaxTokens: 48,
  checkpointEvery: 50,
});

export type TrainErrorCode = 'NON_FINITE_LOSS' | 'NON_FINITE_GRADIENT' | 'DEVICE_LOST' | 'RUN_FAILED';

export type TrainEvent =
  | { type: 'start'; step: number; totalSteps: number; backend: string; trainableParams: number; tokensPerStep: number }
  | {
      type: 'step';
      step: number;
      loss: number;
      lr: number;
      gradNorm: number;
      tokensPerSecond: number;
      elapsedMs: number;
      etaMs: number;
      /** Device-resident backends: bytes read back to the CPU during the step, and weight tensors living on the device. */
      readBackBytes?: number;
      weightsOnDevice?: { onDevice: number; total: number };
      /** Measured device memory (backend.memory): held after the step, and the most held during it. */
      deviceMemory?: DeviceMemory;
    }
  | { type: 'eval'; step: number; loss: number }
  | { type: 'sample'; step: number; prompt: number; text: string }
  /** The snapshot reads from the live device tensors: use it before asking for the next event. */
  | { type: 'checkpoint'; step: number; checkpoint: CheckpointSnapshot }
  | { type: 'paused'; step: number }
  | { type: 'resumed'; step: number }
  | { type: 'done'; step: number; reason: 'completed' | 'stopped' }
  | { type: 'error'; step: number; code: TrainErrorCode; message: string };
