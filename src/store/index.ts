// The studio's state: one slice per panel, combined once. `apply` folds each worker message into it (called from
// the worker's message handler, outside React); the panels read slices and send intents through `send`.
import { create, type StateCreator } from 'zustand';
import { DEFAULT_CHAT_TEMPLATE } from '../engine/data/template.js';
import type { Progress } from '../engine/hub/client.js';
import {
  bestEval,
  unreachable,
  type CachedModel,
  type HubSource,
  type ModelInfo,
  type ModelInspection,
  type BackendChoice,
  type ChatSettings,
  type ExportKind,
  type DataOptions,
  type DatasetSummary,
  type DataError,
  type DeviceInfo,
  type FromWorker,
  type RunCurve,
  type RunState,
  type RunSummary,
  type ToWorker,
  type TrainSettings,
  type ChatWeights,
} from '../protocol.js';
import { presets, problemList, settingsProblems, type PresetName } from '../settings.js';

/** The offline tiny model's quick preset: the studio's defaults, and what "Try it" trains with. */
const TINY_QUICK = presets({ id: 'tiny' })[0].settings;
/** The quick preset of the model the studio starts with (the offline tiny one): a first run shows learning in seconds. */
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
export const DEFAULT_DATA_OPTIONS: DataOptions = Object.freeze({
  format: 'auto' as const,
  skipBad: false,
  lossOn: 'assistant' as const,
  overflow: 'drop-oldest' as const,
  pack: false,
  template: DEFAULT_CHAT_TEMPLATE,
});
/** The bundled conversations "Try it" trains on (public/). */
export const SAMPLE_DATA = 'sample-support.jsonl';

export const DEFAULT_CHAT: ChatSettings = Object.freeze({
  temperature: 0.7,
  topK: 40,
  topP: 0.95,
  repetitionPenalty: 1.15,
  maxNewTokens: 64,
});

export interface DeviceSlice {
  device: DeviceInfo | null;
  backend: BackendChoice;
  backendDescription: string | null;
  storage: { usage: number; quota: number; persisted: boolean; error: string | null } | null;
}
export interface ModelSlice {
  model: ModelInfo | null;
  hub: Required<Omit<HubSource, 'token'>> & { token: string };
  inspection: ModelInspection | null;
  /** Latest progress per file of the download under way. */
  downloads: Record<string, Progress>;
  downloading: boolean;
  downloadError: string | null;
  cached: CachedModel[];
}
export interface DataSlice {
  dataset: DatasetSummary | null;
  rejected: { file: string; errors: DataError[]; total: number; skippable: boolean } | null;
  dataOptions: DataOptions;
  /** A file being read and tokenized in the worker. */
  loading: { file: string; stage: 'reading' | 'tokenizing'; done: number; total: number } | null;
}
export interface TrainSlice {
  settings: TrainSettings;
  run: RunState | null;
  runs: RunSummary[];
  /** Runs ticked in the list, and their loss curves (from the worker) for the overlay chart. */
  overlay: string[];
  curves: RunCurve[];
  /** Training tokens/s measured on this browser, per backend and kind of run, for a model of `params` (kept in localStorage). */
  speeds: Record<string, { tokensPerSecond: number; params: number }>;
  /** "Try it": loading the model and the sample data, then the run it started (shown with a guide) until dismissed. */
  tour: { stage: 'loading' | 'running'; error: string | null } | null;
  /** What to do once the run being opened from the list is shown. */
  afterOpen: { id: string; then: 'resume' | 'export' } | null;
  /** Bumped to bring the Export panel into view. */
  exportFocus: number;
  /** A speed measurement (measure-speed) under way. */
  measuring: boolean;
}
export interface ChatMessage {
  role: 'user' | 'assistant';
  content: string;
  /** Comparing: the base model's reply to the same conversation ('' while it has not come yet). */
  base?: string;
  tokensPerSecond?: number;
}
export interface ChatSlice {
  chat: ChatMessage[];
  chatSettings: ChatSettings;
  systemPrompt: string;
  /** Each message is answered by the tuned weights and then the base model, side by side. */
  compare: boolean;
  /** The reply streaming now, and which weights it comes from. */
  streaming: number | null;
  streamingWeights: ChatWeights;
  /** The base model answers after the tuned reply ends (comparing, and not stopped). */
  baseNext: boolean;
  chatTokensPerSecond: number | null;
}
export interface ExportSlice {
  /** The export being zipped in the worker. */
  exporting: { kind: ExportKind; done: number; total: number } | null;
  /** The last finished export: a Blob URL to save. */
  exported: { kind: ExportKind; fileName: string; url: string; bytes: number } | null;
  exportError: { kind: ExportKind; message: string } | null;
  /** A model being imported from disk, and the outcome of the last import. */
  importing: { done: number; total: number } | null;
  imported: { name: string; kind: 'model' | 'adapter' } | null;
  importError: string | null;
}
export interface ErrorSlice {
  errors: { context: string; message: string }[];
}
export interface Actions {
  apply(m: FromWorker): void;
  /** Sends an intent to the worker (set once the worker exists); `transfer` moves buffers instead of copying them. */
  send(m: ToWorker, transfer?: Transferable[]): void;
  setSender(send: (m: ToWorker, transfer?: Transferable[]) => void): void;
  setSettings(s: Partial<TrainSettings>): void;
  applyPreset(p: PresetName): void;
  /** One click: the offline tiny model, the bundled sample conversations, the quick preset, and Start. */
  tryIt(): void;
  dismissTour(): void;
  toggleOverlay(id: string): void;
  /** Times a few steps of the current model at the current settings, for the time estimates. */
  measureSpeed(): void;
  /** Opens a stored run, then resumes it or brings its exports into view. */
  openThen(id: string, then: 'resume' | 'export'): void;
  renameRun(id: string, name: string): void;
  regenerate(): void;
  clearChat(): void;
  stopChat(): void;
  setSystemPrompt(t: string): void;
  setCompare(on: boolean): void;
  setChatSettings(s: Partial<ChatSettings>): void;
  /** Changes how the file is read; the loaded file is re-read with them (debounced). */
  setDataOptions(o: Partial<DataOptions>): void;
  /** Switches backend: shown at once, confirmed by the worker's `backend` message. */
  chooseBackend(b: BackendChoice): void;
  sendChat(text: string): void;
  startExport(kind: ExportKind): void;
  cancelExport(): void;
  importModel(files: { path: string; file: Blob }[]): void;
  dismissError(i: number): void;
  setHub(h: Partial<ModelSlice['hub']>): void;
  /** Downloads (or loads from the cache) the Hub model in `hub`, or switches to the tiny one. */
  useModel(kind: 'hub' | 'tiny'): void;
}
export type Studio = DeviceSlice & ModelSlice & DataSlice & TrainSlice & ChatSlice & ExportSlice & ErrorSlice & Actions;

type Slice<T> = StateCreator<Studio, [], [], T>;
const deviceSlice: Slice<DeviceSlice> = () => ({
  device: null,
  backend: 'webgpu',
  backendDescription: null,
  storage: null,
});
const modelSlice: Slice<ModelSlice> = () => ({
  model: null,
  hub: { endpoint: 'https://huggingface.co', repo: 'openai-community/gpt2', revision: 'main', token: '' },
  inspection: null,
  downloads: {},
  downloading: false,
  downloadError: null,
  cached: [],
});
const dataSlice: Slice<DataSlice> = () => ({
  dataset: null,
  rejected: null,
  dataOptions: DEFAULT_DATA_OPTIONS,
  loading: null,
});
const trainSlice: Slice<TrainSlice> = () => ({
  settings: DEFAULT_SETTINGS,
  run: null,
  runs: [],
  overlay: [],
  curves: [],
  speeds: loadSpeeds(),
  tour: null,
  afterOpen: null,
  exportFocus: 0,
  measuring: false,
});
const chatSlice: Slice<ChatSlice> = () => ({
  chat: [],
  chatSettings: DEFAULT_CHAT,
  systemPrompt: '',
  compare: false,
  streaming: null,
  streamingWeights: 'tuned',
  baseNext: false,
  chatTokensPerSecond: null,
});
const exportSlice: Slice<ExportSlice> = () => ({
  exporting: null,
  exported: null,
  exportError: null,
  importing: null,
  imported: null,
  importError: null,
});
const errorSlice: Slice<ErrorSlice> = () => ({ errors: [] });

let chatId = 0;
let reread: ReturnType<typeof setTimeout> | undefined;

const SPEEDS_KEY = 'fts-speeds';
function loadSpeeds(): TrainSlice['speeds'] {
  try {
    return JSON.parse(globalThis.localStorage?.getItem(SPEEDS_KEY) ?? '{}') as TrainSlice['speeds'];
  } catch {
    return {}; // unreadable: measured again by the next run
  }
}
/** The key a measured training speed is kept under. */
export const speedKey = (backend: BackendChoice, lora: boolean) => `${backend}:${lora ? 'lora' : 'full'}`;

/** The conversation as the model sees it: the system prompt, then the turns (their text only). */
function conversation(s: Studio, turns: ChatMessage[]) {
  const msgs = turns.map((m) => ({ role: m.role, content: m.content }));
  return s.systemPrompt.trim() ? [{ role: 'system' as const, content: s.systemPrompt.trim() }, ...msgs] : msgs;
}

const actions: Slice<Actions> = (set, get) => {
  /** Streams a reply from `weights` to `turns` into the last (assistant) message. */
  const stream = (turns: ChatMessage[], weights: ChatWeights) => {
    const id = ++chatId;
    set({ streaming: id, streamingWeights: weights });
    get().send({ type: 'chat', id, messages: conversation(get(), turns), settings: get().chatSettings, weights });
  };
  /** A new assistant message for `turns` (ending in the person's), from the tuned weights, then the base model when comparing. */
  const reply = (turns: ChatMessage[]) => {
    const compare = get().compare;
    set({ chat: [...turns, { role: 'assistant', content: '', base: compare ? '' : undefined }], baseNext: compare });
    stream(turns, 'tuned');
  };
  /** "Try it": starts the run once the tiny model and the sample data are both in. */
  const continueTour = () => {
    const s = get();
    if (s.tour?.stage !== 'loading' || s.tour.error || s.model?.id !== 'tiny' || s.dataset?.file !== SAMPLE_DATA)
      return;
    const wrong = problemList(
      settingsProblems(s.settings, { nPositions: s.model.nPositions, validationRows: s.dataset.validationRows }),
    );
    if (wrong.length) return set({ tour: { stage: 'loading', error: wrong.join(' ') } });
    set({ tour: { stage: 'running', error: null } });
    s.send({ type: 'start-run', settings: s.settings });
  };
  const recordSpeed = (s: Studio, key: string, tokensPerSecond: number, params: number): TrainSlice['speeds'] => {
    const speeds = { ...s.speeds, [key]: { tokensPerSecond, params } };
    try {
      globalThis.localStorage?.setItem(SPEEDS_KEY, JSON.stringify(speeds));
    } catch {
      // storage refused: the estimate lasts for this page only
    }
    return speeds;
  };
  return {
    send: () => {
      throw new Error('the worker is not started yet');
    },
    setSender: (send) => set({ send }),
    setSettings: (s) => set({ settings: { ...get().settings, ...s } }),
    setChatSettings: (s) => set({ chatSettings: { ...get().chatSettings, ...s } }),
    setDataOptions: (o) => {
      const dataOptions = { ...get().dataOptions, ...o };
      set({ dataOptions });
      if (!get().dataset) return;
      clearTimeout(reread);
      reread = setTimeout(
        () => get().send({ type: 'set-data-options', options: get().dataOptions, seq: get().settings.seq }),
        300,
      );
    },
    chooseBackend: (backend) => {
      set({ backend, backendDescription: null });
      get().send({ type: 'set-backend', backend });
    },
    dismissError: (i) => set({ errors: get().errors.filter((_, k) => k !== i) }),
    setHub: (h) => set({ hub: { ...get().hub, ...h }, inspection: null }),
    useModel: (kind) => {
      const { hub } = get();
      set({ downloads: {}, downloadError: null, downloading: kind === 'hub' });
      get().send({ type: 'load-model', source: kind === 'hub' ? { ...hub, token: hub.token || undefined } : null });
    },
    sendChat: (text) => {
      if (get().streaming) return;
      const turns: ChatMessage[] = [...get().chat, { role: 'user', content: text }];
      reply(turns);
    },
    regenerate: () => {
      const { chat, streaming } = get();
      const lastUser = chat.map((m) => m.role).lastIndexOf('user');
      if (streaming || lastUser < 0) return;
      reply(chat.slice(0, lastUser + 1));
    },
    clearChat: () => {
      get().stopChat();
      set({ chat: [], chatTokensPerSecond: null });
    },
    stopChat: () => {
      const { streaming } = get();
      set({ baseNext: false });
      if (streaming) get().send({ type: 'chat-stop', id: streaming });
    },
    setSystemPrompt: (systemPrompt) => set({ systemPrompt }),
    setCompare: (compare) => set({ compare }),
    applyPreset: (p) =>
      set({ settings: { ...get().settings, ...presets(get().model).find((x) => x.name === p)!.settings } }),
    tryIt: () => {
      const s = get();
      if (s.run?.status === 'training' || s.run?.status === 'paused') return;
      set({ tour: { stage: 'loading', error: null }, settings: { ...s.settings, ...TINY_QUICK } });
      if (s.model?.id !== 'tiny') s.useModel('tiny');
      void (async () => {
        try {
          const r = await fetch(SAMPLE_DATA);
          if (!r.ok) throw new Error(`${SAMPLE_DATA} could not be read (HTTP ${r.status})`);
          const bytes = await r.arrayBuffer();
          get().send(
            { type: 'load-data', file: SAMPLE_DATA, bytes, options: get().dataOptions, seq: get().settings.seq },
            [bytes],
          );
        } catch (e) {
          set({ tour: { stage: 'loading', error: (e as Error).message } });
        }
      })();
    },
    dismissTour: () => set({ tour: null }),
    toggleOverlay: (id) => {
      const overlay = get().overlay.includes(id) ? get().overlay.filter((x) => x !== id) : [...get().overlay, id];
      set({ overlay, curves: get().curves.filter((c) => overlay.includes(c.id)) });
      if (overlay.length) get().send({ type: 'run-curves', ids: overlay });
    },
    measureSpeed: () => {
      set({ measuring: true });
      get().send({ type: 'measure-speed', settings: get().settings });
    },
    openThen: (id, then) => {
      set({ afterOpen: { id, then } });
      get().send({ type: 'open-run', id });
    },
    renameRun: (id, name) => get().send({ type: 'rename-run', id, name }),
    startExport: (kind) => {
      set({ exporting: { kind, done: 0, total: 0 }, exportError: null });
      get().send({ type: 'export', kind, sampling: get().chatSettings });
    },
    cancelExport: () => get().send({ type: 'export-cancel' }),
    importModel: (files) => {
      set({ importing: { done: 0, total: 0 }, imported: null, importError: null });
      get().send({ type: 'import-model', files });
    },
    apply: (m) => {
      const s = get();
      switch (m.type) {
        case 'ready': {
          const backend: BackendChoice = m.device.webgpu.ok ? 'webgpu' : 'wasm';
          set({ device: m.device, runs: m.runs, backend });
          return;
        }
        case 'backend':
          return set({ backend: m.backend, backendDescription: m.description });
        case 'data-loaded':
          set({ dataset: m.summary, rejected: null, loading: null });
          return continueTour();
        case 'data-rejected':
          if (s.tour?.stage === 'loading')
            set({ tour: { stage: 'loading', error: `${m.file} was refused: ${m.errors[0]?.message ?? ''}` } });
          return set({
            rejected: { file: m.file, errors: m.errors, total: m.total, skippable: m.skippable },
            loading: null,
          }); // the loaded dataset stays
        case 'data-progress':
          return set({ loading: { file: m.file, stage: m.stage, done: m.done, total: m.total } });
        case 'run': {
          set({ run: { ...m.run, steps: [...m.run.steps], evals: [...m.run.evals], samples: [...m.run.samples] } });
          const after = s.afterOpen;
          if (after?.id !== m.run.id) return;
          set({ afterOpen: null });
          if (after.then === 'resume') return s.send({ type: 'resume' });
          return set({ exportFocus: s.exportFocus + 1 });
        }
        case 'step': {
          if (!s.run) return;
          const steps = s.run.steps;
          steps.push(m.point); // appended in place; `version` below tells the chart
          return set({
            run: {
              ...s.run,
              steps,
              step: m.point.step,
              lastLoss: m.point.loss,
              elapsedMs: m.elapsedMs,
              etaMs: m.etaMs,
            },
          });
        }
        case 'eval': {
          if (!s.run) return;
          const evals = [...s.run.evals, m.point];
          return set({ run: { ...s.run, evals, bestEval: bestEval(evals) } });
        }
        case 'sample':
          return s.run ? set({ run: { ...s.run, samples: [...s.run.samples, m.sample] } }) : undefined;
        case 'run-status': {
          if (!s.run) return;
          // the speed of the run's last step (the first compiles), kept for time estimates once it stops training
          const last = s.run.steps.at(-1);
          const speeds =
            m.status !== 'training' && s.model && last && last.step > 1
              ? recordSpeed(s, speedKey(s.backend, s.run.settings.loraRank > 0), last.tokensPerSecond, s.model.params)
              : s.speeds;
          return set({
            run: {
              ...s.run,
              status: m.status,
              step: m.step,
              checkpointStep: m.checkpointStep,
              error: m.error,
              checkpointError: m.checkpointError,
            },
            speeds,
          });
        }
        case 'runs': {
          const overlay = s.overlay.filter((id) => m.runs.some((r) => r.id === id)); // deleted runs leave the overlay
          return set({ runs: m.runs, overlay, curves: s.curves.filter((c) => overlay.includes(c.id)) });
        }
        case 'speed':
          return set({
            measuring: false,
            speeds: recordSpeed(s, speedKey(m.backend, m.lora), m.tokensPerSecond, m.params),
          });
        case 'run-curves':
          return set({ curves: m.curves.filter((c) => s.overlay.includes(c.id)) });
        case 'chat-token': {
          if (m.id !== s.streaming) return;
          const chat = [...s.chat];
          const last = chat[chat.length - 1];
          chat[chat.length - 1] =
            s.streamingWeights === 'base'
              ? { ...last, base: (last.base ?? '') + m.text }
              : { ...last, content: last.content + m.text };
          return set({ chat });
        }
        case 'chat-done': {
          if (m.id !== s.streaming) return;
          const chat = [...s.chat];
          const last = chat[chat.length - 1];
          if (s.streamingWeights === 'tuned') chat[chat.length - 1] = { ...last, tokensPerSecond: m.tokensPerSecond };
          set({ chat, streaming: null, chatTokensPerSecond: m.tokensPerSecond });
          if (s.streamingWeights === 'tuned' && s.baseNext) stream(chat.slice(0, -1), 'base');
          return;
        }
        case 'model':
          set({ model: m.model, downloading: false });
          return continueTour();
        case 'inspection':
          return set({ inspection: m.inspection });
        case 'download':
          return set({ downloads: { ...s.downloads, [m.progress.file]: m.progress } });
        case 'download-failed':
          return set({ downloadError: m.message, downloading: false });
        case 'cache':
          return set({ cached: m.models });
        case 'storage':
          return set({ storage: { usage: m.usage, quota: m.quota, persisted: m.persisted, error: m.error } });
        case 'export-progress':
          return set({ exporting: { kind: m.kind, done: m.done, total: m.total } });
        case 'export-ready':
          if (s.exported) URL.revokeObjectURL(s.exported.url);
          return set({
            exporting: null,
            exported: { kind: m.kind, fileName: m.fileName, url: URL.createObjectURL(m.blob), bytes: m.blob.size },
          });
        case 'import-progress':
          return set({ importing: { done: m.done, total: m.total } });
        case 'import-done':
          return set({ importing: null, imported: { name: m.name, kind: m.kind } });
        case 'import-failed':
          return set({ importing: null, importError: m.message });
        case 'bench-result':
          return; // the benchmark page's (bench.html), not the studio's
        case 'export-failed':
          return set({ exporting: null, exportError: { kind: m.kind, message: m.message } });
        case 'error': {
          const patch: Partial<Studio> = { errors: [...s.errors, { context: m.context, message: m.message }] };
          if (m.context === 'chat') Object.assign(patch, { streaming: null, baseNext: false });
          if (m.context === 'measure-speed') patch.measuring = false;
          if (
            s.tour?.stage === 'loading' &&
            (m.context === 'load-data' || m.context === 'start-run' || m.context === 'load-model')
          )
            patch.tour = { stage: 'loading', error: m.message };
          return set(patch);
        }
        default:
          return unreachable(m);
      }
    },
  };
};

export const createStudioStore = () =>
  create<Studio>()((...a) => ({
    ...deviceSlice(...a),
    ...modelSlice(...a),
    ...dataSlice(...a),
    ...trainSlice(...a),
    ...chatSlice(...a),
    ...exportSlice(...a),
    ...errorSlice(...a),
    ...actions(...a),
  }));

export const useStudio = createStudioStore();
