// The runs list's slice: the runs stored in this browser, the ones ticked for the overlay chart with their loss
// curves (from the worker), and what to do once a run opened from the list is shown (resume it, or its exports).
import type { RunCurve, RunSummary } from '../protocol.js';
import type { SliceCreator, SliceHandlers } from './types.js';

export interface RunsSlice {
  runs: RunSummary[];
  /** Runs ticked in the list, and their loss curves (from the worker) for the overlay chart. */
  overlay: string[];
  curves: RunCurve[];
  /** What to do once the run being opened from the list is shown. */
  afterOpen: { id: string; then: 'resume' | 'export' } | null;
  toggleOverlay: (id: string) => void;
  /** Opens a stored run, then resumes it or brings its exports into view. */
  openThen: (id: string, then: 'resume' | 'export') => void;
  renameRun: (id: string, name: string) => void;
}

export const createRunsSlice: SliceCreator<RunsSlice> = (set, get) => ({
  runs: [],
  overlay: [],
  curves: [],
  afterOpen: null,
  toggleOverlay: (id) => {
    const { overlay: was, curves } = get();
    const overlay = was.includes(id) ? was.filter((x) => x !== id) : [...was, id];
    set({ overlay, curves: curves.filter((c) => overlay.includes(c.id)) });
    if (overlay.length) get().send({ type: 'run-curves', ids: overlay });
  },
  openThen: (id, then) => {
    set({ afterOpen: { id, then } });
    get().send({ type: 'open-run', id });
  },
  renameRun: (id, name) => get().send({ type: 'rename-run', id, name }),
});

export const runsHandlers: SliceHandlers<'ready' | 'runs' | 'run-curves' | 'run'> = (set, get) => ({
  ready: (m) => set({ runs: m.runs }),
  runs: (m) => {
    const overlay = get().overlay.filter((id) => m.runs.some((r) => r.id === id)); // deleted runs leave the overlay
    set({ runs: m.runs, overlay, curves: get().curves.filter((c) => overlay.includes(c.id)) });
  },
  'run-curves': (m) => set({ curves: m.curves.filter((c) => get().overlay.includes(c.id)) }),
  // the run opened from the list is shown: resume it, or bring its exports into view (once)
  run: (m) => {
    const after = get().afterOpen;
    if (after?.id !== m.run.id) return;
    set({ afterOpen: null });
    if (after.then === 'resume') get().send({ type: 'resume' });
    else get().focusExport();
  },
});
