// A run's settings as the person types them: what is wrong with them (field by field, in words, the same checks in
// the page, which disables Start, and in the worker, which refuses the run), the presets, and the time a run would
// take at a speed measured before.
import type { TrainSettings } from './protocol.js';

export type SettingsField = keyof TrainSettings;
export type SettingsProblems = Partial<Record<SettingsField, string>>;

/** What the checks know besides the settings: the model's context, and the loaded dataset's validation rows. */
export interface SettingsContext {
  nPositions?: number;
  validationRows?: number;
}

const LIMITS: Partial<Record<SettingsField, { min: number; max: number; int: boolean; what: string }>> = {
  steps: { min: 1, max: 1_000_000, int: true, what: 'steps' },
  batch: { min: 1, max: 1024, int: true, what: 'the batch' },
  seq: { min: 2, max: 1_048_576, int: true, what: 'the sequence length' },
  warmupSteps: { min: 0, max: 1_000_000, int: true, what: 'warmup' },
  loraRank: { min: 0, max: 1024, int: true, what: 'the LoRA rank' },
  evalEvery: { min: 0, max: 1_000_000, int: true, what: 'the eval interval' },
  sampleEvery: { min: 0, max: 1_000_000, int: true, what: 'the sample interval' },
  checkpointEvery: { min: 0, max: 1_000_000, int: true, what: 'the checkpoint interval' },
  accumulation: { min: 1, max: 1024, int: true, what: 'gradient accumulation' },
};

/** Every problem with `s`, keyed by field; empty when the run can start (memory is checked apart: memory.ts). */
export function settingsProblems(s: TrainSettings, ctx: SettingsContext = {}): SettingsProblems {
  const out: SettingsProblems = {};
  for (const [field, l] of Object.entries(LIMITS) as [SettingsField, NonNullable<(typeof LIMITS)[SettingsField]>][]) {
    const v = s[field] as number;
    if (typeof v !== 'number' || !Number.isFinite(v)) out[field] = `${cap(l.what)} must be a number.`;
    else if (l.int && !Number.isInteger(v)) out[field] = `${cap(l.what)} must be a whole number (got ${v}).`;
    else if (v < l.min) out[field] = `${cap(l.what)} must be at least ${l.min} (got ${v}).`;
    else if (v > l.max) out[field] = `${cap(l.what)} can be at most ${l.max.toLocaleString('en-US')} (got ${v}).`;
  }
  if (!Number.isFinite(s.lr)) out.lr = 'The learning rate must be a number.';
  else if (s.lr <= 0) out.lr = `The learning rate must be above 0 (got ${s.lr}).`;
  else if (s.lr > 1) out.lr = `A learning rate of ${s.lr} diverges; GPT-2 fine-tunes at 1e-5 to 1e-2.`;
  if (!out.seq && ctx.nPositions !== undefined && s.seq > ctx.nPositions) {
    out.seq = `The model's context is ${ctx.nPositions} tokens: a sequence of ${s.seq} does not fit (at most ${ctx.nPositions}).`;
  }
  if (!out.warmupSteps && !out.steps && s.warmupSteps > s.steps)
    out.warmupSteps = `Warmup (${s.warmupSteps} steps) is longer than the run (${s.steps} steps).`;
  if (!out.evalEvery && s.evalEvery > 0 && ctx.validationRows === 0) {
    out.evalEvery =
      'The dataset has no validation rows (too few conversations to hold some out): set 0 to train without evaluation.';
  }
  return out;
}

const cap = (t: string) => t[0].toUpperCase() + t.slice(1);

/** The problems as one sentence each, in field order (for Start's reason and the worker's refusal). */
export function problemList(p: SettingsProblems): string[] {
  return Object.values(p).filter((m): m is string => !!m);
}

export type PresetName = 'quick' | 'full' | 'custom';

export interface Preset {
  name: PresetName;
  label: string;
  what: string;
  /** The settings it sets; custom sets none. */
  settings: Partial<TrainSettings>;
}

const QUICK_STEPS = {
  steps: 40,
  lr: 3e-3,
  batch: 2,
  seq: 64,
  warmupSteps: 4,
  evalEvery: 10,
  sampleEvery: 5,
  checkpointEvery: 10,
  accumulation: 1,
};

/**
 * The presets for a model. Quick is LoRA on a pretrained model; on the offline tiny model, whose weights are random,
 * adapters alone barely move the loss (40 steps: 10.81 -> 10.71, where training every weight reaches 5.2 and the
 * sample replies become words), so there quick trains all 3.3M weights: as fast, and it shows learning.
 */
export function presets(model: { id: string } | null | undefined): Preset[] {
  const tiny = model?.id === 'tiny';
  return [
    tiny
      ? {
          name: 'quick',
          label: 'Quick',
          what: 'The tiny model is untrained (random weights), so quick trains every one of its 3.3M weights: the first loss point in seconds, a sample reply every 5 steps.',
          settings: { ...QUICK_STEPS, loraRank: 0 },
        }
      : {
          name: 'quick',
          label: 'Quick LoRA',
          what: 'Low-rank adapters (rank 8) on attention and MLP, short sequences: the first loss point in seconds, a sample reply every 5 steps.',
          settings: { ...QUICK_STEPS, loraRank: 8 },
        },
    {
      name: 'full',
      label: 'Full fine-tune',
      what: 'Every weight trains, 200 steps of 4 x 128: the most the model can learn from your data, at several times the memory of LoRA.',
      settings: {
        steps: 200,
        lr: tiny ? 3e-3 : 3e-4,
        batch: 4,
        seq: 128,
        warmupSteps: 10,
        loraRank: 0,
        evalEvery: 25,
        sampleEvery: 25,
        checkpointEvery: 25,
        accumulation: 1,
      },
    },
    { name: 'custom', label: 'Custom', what: 'Your own settings: every field is open below.', settings: {} },
  ];
}

/** The preset whose settings `s` has, else custom. */
export function presetOf(s: TrainSettings, model: { id: string } | null | undefined): PresetName {
  for (const p of presets(model)) {
    if (p.name !== 'custom' && Object.entries(p.settings).every(([k, v]) => s[k as SettingsField] === v)) return p.name;
  }
  return 'custom';
}

/**
 * A run's duration at a speed measured on this backend before: `tokensPerSecond` for a model of `measuredParams`
 * parameters, scaled to `params` (training cost grows with the parameters; LoRA still runs the whole forward and
 * backward). Evaluations and samples are not counted. Null when nothing was measured.
 */
export function estimateRunMs(
  s: TrainSettings,
  params: number,
  measured: { tokensPerSecond: number; params: number } | null,
): number | null {
  if (!measured || !(measured.tokensPerSecond > 0) || !(measured.params > 0)) return null;
  const tps = measured.tokensPerSecond * (measured.params / params);
  return (1000 * s.steps * s.batch * s.seq * Math.max(1, s.accumulation)) / tps;
}
