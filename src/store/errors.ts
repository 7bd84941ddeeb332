// The error banners' slice: each worker error with its context (the intent that failed), until dismissed. The
// slices that were waiting on the failed intent (chat, speed, "Try it") end their wait in their own handlers.
import type { SliceCreator, SliceHandlers } from './types.js';

export interface ErrorSlice {
  errors: { context: string; message: string }[];
  dismissError: (i: number) => void;
}

export const createErrorSlice: SliceCreator<ErrorSlice> = (set, get) => ({
  errors: [],
  dismissError: (i) => set({ errors: get().errors.filter((_, k) => k !== i) }),
});

export const errorHandlers: SliceHandlers<'error'> = (set, get) => ({
  error: (m) => set({ errors: [...get().errors, { context: m.context, message: m.message }] }),
});
