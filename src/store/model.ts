// The Model panel's slice: the model in use, the Hub source being typed, its inspection (size, memory), the
// download under way with its progress per file, the models cached in this browser, and importing one from disk.
import type { Progress } from '../engine/hub/client.js';
import type { CachedModel, HubSource, ModelInfo, ModelInspection } from '../protocol.js';
import type { SliceCreator, SliceHandlers } from './types.js';

export interface ModelSlice {
  model: ModelInfo | null;
  hub: Required<Omit<HubSource, 'token'>> & { token: string };
  inspection: ModelInspection | null;
  /** Latest progress per file of the download under way. */
  downloads: Record<string, Progress>;
  downloading: boolean;
  downloadError: string | null;
  cached: CachedModel[];
  /** A model being imported from disk, and the outcome of the last import. */
  importing: { done: number; total: number } | null;
  imported: { name: string; kind: 'model' | 'adapter' } | null;
  importError: string | null;
  /** Edits the Hub source; the inspection of the previous one goes. */
  setHub: (h: Partial<ModelSlice['hub']>) => void;
  /** Downloads (or loads from the cache) the Hub model in `hub`, or switches to the tiny one. */
  loadModel: (kind: 'hub' | 'tiny') => void;
  importModel: (files: { path: string; file: Blob }[]) => void;
}

export const createModelSlice: SliceCreator<ModelSlice> = (set, get) => ({
  model: null,
  hub: { endpoint: 'https://huggingface.co', repo: 'openai-community/gpt2', revision: 'main', token: '' },
  inspection: null,
  downloads: {},
  downloading: false,
  downloadError: null,
  cached: [],
  importing: null,
  imported: null,
  importError: null,
  setHub: (h) => set({ hub: { ...get().hub, ...h }, inspection: null }),
  loadModel: (kind) => {
    const { hub } = get();
    set({ downloads: {}, downloadError: null, downloading: kind === 'hub' });
    get().send({ type: 'load-model', source: kind === 'hub' ? { ...hub, token: hub.token || undefined } : null });
  },
  importModel: (files) => {
    set({ importing: { done: 0, total: 0 }, imported: null, importError: null });
    get().send({ type: 'import-model', files });
  },
});

export const modelHandlers: SliceHandlers<
  | 'model'
  | 'inspection'
  | 'download'
  | 'download-failed'
  | 'cache'
  | 'import-progress'
  | 'import-done'
  | 'import-failed'
> = (set, get) => ({
  model: (m) => set({ model: m.model, downloading: false }),
  inspection: (m) => set({ inspection: m.inspection }),
  download: (m) => set({ downloads: { ...get().downloads, [m.progress.file]: m.progress } }),
  'download-failed': (m) => set({ downloadError: m.message, downloading: false }),
  cache: (m) => set({ cached: m.models }),
  'import-progress': (m) => set({ importing: { done: m.done, total: m.total } }),
  'import-done': (m) => set({ importing: null, imported: { name: m.name, kind: m.kind } }),
  'import-failed': (m) => set({ importing: null, importError: m.message }),
});
