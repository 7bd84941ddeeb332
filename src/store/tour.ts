// "Try it"'s slice (the guide): one click loads the offline tiny model and the bundled sample conversations with
// the quick preset, and starts the run once both are in and the settings check passes; the guide stays up, with
// what went wrong if it could not start, until dismissed.
import { problemList, settingsProblems } from '../settings.js';
import { TINY_QUICK } from './train.js';
import type { SliceCreator, SliceHandlers } from './types.js';

/** The bundled conversations "Try it" trains on (public/). */
export const SAMPLE_DATA = 'sample-support.jsonl';

export interface TourSlice {
  /** "Try it": loading the model and the sample data, then the run it started (shown with a guide) until dismissed. */
  tour: { stage: 'loading' | 'running'; error: string | null } | null;
  /** One click: the offline tiny model, the bundled sample conversations, the quick preset, and Start. */
  tryIt: () => void;
  dismissTour: () => void;
}

export const createTourSlice: SliceCreator<TourSlice> = (set, get) => ({
  tour: null,
  tryIt: () => {
    const s = get();
    if (s.run?.status === 'training' || s.run?.status === 'paused') return;
    set({ tour: { stage: 'loading', error: null } });
    s.setSettings(TINY_QUICK);
    if (s.model?.id !== 'tiny') s.loadModel('tiny');
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
        set({ tour: { stage: 'loading', error: e instanceof Error ? e.message : String(e) } });
      }
    })();
  },
  dismissTour: () => set({ tour: null }),
});

/** The intents "Try it" sends whose failure stops it. */
const TOUR_CONTEXTS = ['load-data', 'start-run', 'load-model'];

export const tourHandlers: SliceHandlers<'model' | 'data-loaded' | 'data-rejected' | 'error'> = (set, get) => {
  /** Starts the run once the tiny model and the sample data are both in (called after either arrives). */
  const continueTour = () => {
    const { tour, model, dataset, settings, send } = get();
    if (tour?.stage !== 'loading' || tour.error || model?.id !== 'tiny' || dataset?.file !== SAMPLE_DATA) return;
    const wrong = problemList(
      settingsProblems(settings, { nPositions: model.nPositions, validationRows: dataset.validationRows }),
    );
    if (wrong.length) {
      set({ tour: { stage: 'loading', error: wrong.join(' ') } });
      return;
    }
    set({ tour: { stage: 'running', error: null } });
    send({ type: 'start-run', settings });
  };
  const failed = (error: string) => {
    if (get().tour?.stage === 'loading') set({ tour: { stage: 'loading', error } });
  };
  return {
    model: continueTour,
    'data-loaded': continueTour,
    'data-rejected': (m) => failed(`${m.file} was refused: ${m.errors[0]?.message ?? ''}`),
    error: (m) => {
      if (TOUR_CONTEXTS.includes(m.context)) failed(m.message);
    },
  };
};
