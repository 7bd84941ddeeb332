// What a stored run is: its settings, dataset summary, curves, samples and status, as the storage keeps it and the
// protocol carries it to the page (src/protocol.ts re-exports these types; the engine imports nothing above it).
import type { FormatName } from '../data/formats.js';
import type { Segment } from '../data/prepare.js';
import type { OverflowPolicy } from '../data/rows.js';
import type { LossOn } from '../data/template.js';
import type { TrainConfig } from '../train/trainer.js';

export interface DatasetSummary {
  file: string;
  format: FormatName;
  kind: 'chat' | 'text';
  records: number;
  turns: number;
  skipped: number;
  trainRows: number;
  validationRows: number;
  trainedTokens: number;
  totalTokens: number;
  truncated: number;
  /** Conversation lengths in tokens per bucket (edges in rows.ts). */
  histogram: number[];
  columns?: string[];
  /** First conversations as rendered, split where training starts and stops. */
  preview: Segment[][];
}

export type TrainSettings = Pick<
  TrainConfig,
  | 'steps'
  | 'lr'
  | 'batch'
  | 'seq'
  | 'warmupSteps'
  | 'evalEvery'
  | 'sampleEvery'
  | 'checkpointEvery'
  | 'accumulation'
  | 'schedule'
> & { loraRank: number; seed: number };

export interface StepPoint {
  step: number;
  loss: number;
  lr: number;
  gradNorm: number;
  tokensPerSecond: number;
  /** WebGPU: bytes read back to the CPU in the step, and weight tensors in GPU buffers. */
  readBackBytes?: number;
  weightsOnDevice?: { onDevice: number; total: number };
  /** Measured device memory: GPU buffers on WebGPU, the heap on WASM (held after the step, most during it). */
  deviceMemory?: { currentBytes: number; peakBytes: number };
}
export interface EvalPoint {
  step: number;
  loss: number;
}
export interface Sample {
  step: number;
  prompt: string;
  text: string;
}

export type RunStatus = 'training' | 'paused' | 'interrupted' | 'completed' | 'stopped' | 'failed';

export interface RunSummary {
  id: string;
  /** The name the person gave the run (the list shows the date when there is none). */
  name?: string;
  template: string;
  createdAt: number;
  model: string;
  dataset: string;
  settings: TrainSettings;
  status: RunStatus;
  step: number;
  checkpointStep: number;
  lastLoss: number | null;
  /** The lowest validation loss so far, and its step (null before the first evaluation). */
  bestEval?: EvalPoint | null;
}

/** The lowest validation loss and its step; null before the first evaluation. */
export function bestEval(evals: readonly EvalPoint[]): EvalPoint | null {
  return evals.reduce<EvalPoint | null>((b, p) => (!b || p.loss < b.loss ? p : b), null);
}

export interface RunState extends RunSummary {
  /** How the dialogue file became rows (the exports state it; runs stored before had the defaults). */
  dataOptions?: { lossOn: LossOn; overflow: OverflowPolicy; pack: boolean };
  steps: StepPoint[];
  evals: EvalPoint[];
  samples: Sample[];
  error: string | null;
  /** Why the last checkpoint could not be saved (the run goes on; a reload resumes from `checkpointStep`). */
  checkpointError?: string | null;
  elapsedMs: number;
  etaMs: number | null;
}
