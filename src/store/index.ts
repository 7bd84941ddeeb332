// The studio's state: one slice per panel (each in its own file here, with its actions and its handlers of the
// worker's messages), combined once. The worker's message handler calls `apply` outside React; the panels read
// the store through `useStudio` and send intents through its actions or `send`.
import { create } from 'zustand';
import { createChatSlice } from './chat.js';
import { createDataSlice } from './data.js';
import { createDeviceSlice } from './device.js';
import { createErrorSlice } from './errors.js';
import { createExportSlice } from './exports.js';
import { createModelSlice } from './model.js';
import { createRunSlice } from './run.js';
import { createRunsSlice } from './runs.js';
import { createTourSlice } from './tour.js';
import { createTrainSlice } from './train.js';
import type { Studio } from './types.js';
import { createWorkerSlice } from './worker.js';

export const createStudioStore = () =>
  create<Studio>()((...a) => ({
    ...createDeviceSlice(...a),
    ...createModelSlice(...a),
    ...createDataSlice(...a),
    ...createTrainSlice(...a),
    ...createRunSlice(...a),
    ...createRunsSlice(...a),
    ...createChatSlice(...a),
    ...createExportSlice(...a),
    ...createTourSlice(...a),
    ...createErrorSlice(...a),
    ...createWorkerSlice(...a),
  }));

export const useStudio = createStudioStore();

export type { Studio } from './types.js';
export type { ChatMessage } from './chat.js';
export { DEFAULT_CHAT } from './chat.js';
export { DEFAULT_DATA_OPTIONS } from './data.js';
export { DEFAULT_SETTINGS, speedKey } from './train.js';
export { SAMPLE_DATA } from './tour.js';
