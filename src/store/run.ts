// The live run's slice (the dashboard, the tiles, the chat's weights): the run shown, as the worker reports it. Its
// steps are appended in place (the chart redraws on their count); evaluations and samples are new arrays.
import { bestEval, type RunState } from '../protocol.js';
import type { SliceCreator, SliceHandlers } from './types.js';

export interface RunSlice {
  run: RunState | null;
}

export const createRunSlice: SliceCreator<RunSlice> = () => ({ run: null });

export const runHandlers: SliceHandlers<'run' | 'step' | 'eval' | 'sample' | 'run-status'> = (set, get) => ({
  // copied: the message's own arrays are never appended to
  run: (m) => set({ run: { ...m.run, steps: [...m.run.steps], evals: [...m.run.evals], samples: [...m.run.samples] } }),
  step: (m) => {
    const { run } = get();
    if (!run) return;
    run.steps.push(m.point); // appended in place; the chart's `version` (the count) tells it
    set({ run: { ...run, step: m.point.step, lastLoss: m.point.loss, elapsedMs: m.elapsedMs, etaMs: m.etaMs } });
  },
  eval: (m) => {
    const { run } = get();
    if (!run) return;
    const evals = [...run.evals, m.point];
    set({ run: { ...run, evals, bestEval: bestEval(evals) } });
  },
  sample: (m) => {
    const { run } = get();
    if (run) set({ run: { ...run, samples: [...run.samples, m.sample] } });
  },
  'run-status': (m) => {
    const { run } = get();
    if (!run) return;
    const { status, step, checkpointStep, error, checkpointError } = m;
    set({ run: { ...run, status, step, checkpointStep, error, checkpointError } });
  },
});
