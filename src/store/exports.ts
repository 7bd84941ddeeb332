// The Export panel's slice: the export being zipped in the worker, the last finished one (a Blob URL to save, the
// previous one revoked), the last failure, and a counter bumped to bring the panel into view.
import type { ExportKind } from '../protocol.js';
import type { SliceCreator, SliceHandlers } from './types.js';

export interface ExportSlice {
  /** The export being zipped in the worker. */
  exporting: { kind: ExportKind; done: number; total: number } | null;
  /** The last finished export: a Blob URL to save. */
  exported: { kind: ExportKind; fileName: string; url: string; bytes: number } | null;
  exportError: { kind: ExportKind; message: string } | null;
  /** Bumped to bring the Export panel into view. */
  exportFocus: number;
  startExport: (kind: ExportKind) => void;
  cancelExport: () => void;
  focusExport: () => void;
}

export const createExportSlice: SliceCreator<ExportSlice> = (set, get) => ({
  exporting: null,
  exported: null,
  exportError: null,
  exportFocus: 0,
  startExport: (kind) => {
    set({ exporting: { kind, done: 0, total: 0 }, exportError: null });
    get().send({ type: 'export', kind, sampling: get().chatSettings });
  },
  cancelExport: () => get().send({ type: 'export-cancel' }),
  focusExport: () => set({ exportFocus: get().exportFocus + 1 }),
});

export const exportHandlers: SliceHandlers<'export-progress' | 'export-ready' | 'export-failed'> = (set, get) => ({
  'export-progress': (m) => set({ exporting: { kind: m.kind, done: m.done, total: m.total } }),
  'export-ready': (m) => {
    const { exported } = get();
    if (exported) URL.revokeObjectURL(exported.url);
    set({
      exporting: null,
      exported: { kind: m.kind, fileName: m.fileName, url: URL.createObjectURL(m.blob), bytes: m.blob.size },
    });
  },
  'export-failed': (m) => set({ exporting: null, exportError: { kind: m.kind, message: m.message } }),
});
