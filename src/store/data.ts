// The Data panel's slice: the dataset loaded (its summary), the last file refused and why (the loaded dataset
// stays), how files are read (format, columns, loss, overflow, packing, template), and the file being read now.
import { DEFAULT_CHAT_TEMPLATE } from '../engine/data/template.js';
import type { DataError, DataOptions, DatasetSummary } from '../protocol.js';
import type { SliceCreator, SliceHandlers } from './types.js';

export const DEFAULT_DATA_OPTIONS: DataOptions = Object.freeze({
  format: 'auto' as const,
  skipBad: false,
  lossOn: 'assistant' as const,
  overflow: 'drop-oldest' as const,
  pack: false,
  template: DEFAULT_CHAT_TEMPLATE,
});
/** How long the options rest before the loaded file is read again with them (typing a template). */
const REREAD_MS = 300;

export interface DataSlice {
  dataset: DatasetSummary | null;
  rejected: { file: string; errors: DataError[]; total: number; skippable: boolean } | null;
  dataOptions: DataOptions;
  /** A file being read and tokenized in the worker. */
  loading: { file: string; stage: 'reading' | 'tokenizing'; done: number; total: number } | null;
  /** Changes how the file is read; the loaded file is re-read with them (debounced). */
  setDataOptions: (o: Partial<DataOptions>) => void;
}

export const createDataSlice: SliceCreator<DataSlice> = (set, get) => {
  let reread: ReturnType<typeof setTimeout> | undefined;
  return {
    dataset: null,
    rejected: null,
    dataOptions: DEFAULT_DATA_OPTIONS,
    loading: null,
    setDataOptions: (o) => {
      set({ dataOptions: { ...get().dataOptions, ...o } });
      if (!get().dataset) return;
      clearTimeout(reread);
      reread = setTimeout(
        () => get().send({ type: 'set-data-options', options: get().dataOptions, seq: get().settings.seq }),
        REREAD_MS,
      );
    },
  };
};

export const dataHandlers: SliceHandlers<'model' | 'data-loaded' | 'data-rejected' | 'data-progress'> = (set, get) => ({
  // another model: its own chat template (the worker re-reads the loaded file with it and the model's tokenizer).
  // The first 'model' of a page load is the worker's start-up report, which can come after the person has already
  // typed a template: it changes nothing they typed.
  model: (m) => {
    const { model, dataOptions } = get();
    const first = model === null;
    if (model?.id === m.model.id || (first && dataOptions.template !== DEFAULT_CHAT_TEMPLATE)) return;
    set({ dataOptions: { ...dataOptions, template: m.model.template } });
  },
  'data-loaded': (m) => set({ dataset: m.summary, rejected: null, loading: null }),
  // the loaded dataset stays
  'data-rejected': (m) =>
    set({ rejected: { file: m.file, errors: m.errors, total: m.total, skippable: m.skippable }, loading: null }),
  'data-progress': (m) => set({ loading: { file: m.file, stage: m.stage, done: m.done, total: m.total } }),
});
