// The Train panel's slice: the settings of the next run (a preset, or edited by hand), and the training speeds
// measured on this browser that its time estimates use, kept in localStorage under `fts-speeds` per backend and
// kind of run (a run's last step once it stops training, or a `measure-speed` on request).
import type { BackendChoice, TrainSettings } from '../protocol.js';
import { presets, type PresetName } from '../settings.js';
import type { SliceCreator, SliceHandlers } from './types.js';

/** The offline tiny model's quick preset: the studio's defaults, and what "Try it" trains with. */
export const TINY_QUICK = presets({ id: 'tiny' })[0].settings;
/** The quick preset of the model the studio starts with (the offline tiny one): a first run learns in seconds. */
export const DEFAULT_SETTINGS: TrainSettings = Object.freeze({
  steps: 200,
  lr: 3e-3,
  batch: 4,
  seq: 128,
  warmupSteps: 10,
  evalEvery: 25,
  sampleEvery: 25,
  checkpointEvery: 25,
  accumulation: 1,
  schedule: 'cosine' as const,
  loraRank: 0,
  seed: 42,
  ...TINY_QUICK,
});

type Speeds = Record<string, { tokensPerSecond: number; params: number }>;
const SPEEDS_KEY = 'fts-speeds';
/** The key a measured training speed is kept under. */
export const speedKey = (backend: BackendChoice, lora: boolean) => `${backend}:${lora ? 'lora' : 'full'}`;

function loadSpeeds(): Speeds {
  try {
    return JSON.parse(globalThis.localStorage?.getItem(SPEEDS_KEY) ?? '{}') as Speeds;
  } catch {
    return {}; // unreadable: measured again by the next run
  }
}
function recordSpeed(speeds: Speeds, key: string, tokensPerSecond: number, params: number): Speeds {
  const next = { ...speeds, [key]: { tokensPerSecond, params } };
  try {
    globalThis.localStorage?.setItem(SPEEDS_KEY, JSON.stringify(next));
  } catch {
    // storage refused: the estimate lasts for this page only
  }
  return next;
}

export interface TrainSlice {
  settings: TrainSettings;
  /** Training tokens/s measured on this browser per backend and kind of run, for a model of `params` parameters. */
  speeds: Speeds;
  /** A speed measurement (measure-speed) under way. */
  measuring: boolean;
  setSettings: (s: Partial<TrainSettings>) => void;
  applyPreset: (p: PresetName) => void;
  /** Times a few steps of the current model at the current settings, for the time estimates. */
  measureSpeed: () => void;
}

export const createTrainSlice: SliceCreator<TrainSlice> = (set, get) => ({
  settings: DEFAULT_SETTINGS,
  speeds: loadSpeeds(),
  measuring: false,
  setSettings: (s) => set({ settings: { ...get().settings, ...s } }),
  applyPreset: (p) =>
    set({ settings: { ...get().settings, ...presets(get().model).find((x) => x.name === p)!.settings } }),
  measureSpeed: () => {
    set({ measuring: true });
    get().send({ type: 'measure-speed', settings: get().settings });
  },
});

export const trainHandlers: SliceHandlers<'speed' | 'run-status' | 'error'> = (set, get) => ({
  speed: (m) =>
    set({
      measuring: false,
      speeds: recordSpeed(get().speeds, speedKey(m.backend, m.lora), m.tokensPerSecond, m.params),
    }),
  // the speed of the run's last step (the first compiles), kept for time estimates once it stops training
  'run-status': (m) => {
    const { run, model, backend, speeds } = get();
    const last = run?.steps.at(-1);
    if (m.status === 'training' || !run || !model || !last || last.step <= 1) return;
    set({
      speeds: recordSpeed(speeds, speedKey(backend, run.settings.loraRank > 0), last.tokensPerSecond, model.params),
    });
  },
  error: (m) => {
    if (m.context === 'measure-speed') set({ measuring: false });
  },
});
