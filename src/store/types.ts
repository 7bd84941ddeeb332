// The store's shared types: the whole state (every slice's fields and actions), the creator each slice is written
// as, and the worker messages' handlers: one per message kind, each typed with that kind's own message, supplied by
// the slices that react to it and combined in worker.ts.
import type { StateCreator, StoreApi } from 'zustand';
import type { FromWorker } from '../protocol.js';
import type { ChatSlice } from './chat.js';
import type { DataSlice } from './data.js';
import type { DeviceSlice } from './device.js';
import type { ErrorSlice } from './errors.js';
import type { ExportSlice } from './exports.js';
import type { ModelSlice } from './model.js';
import type { RunSlice } from './run.js';
import type { RunsSlice } from './runs.js';
import type { TourSlice } from './tour.js';
import type { TrainSlice } from './train.js';
import type { WorkerSlice } from './worker.js';

export type Studio = DeviceSlice &
  ModelSlice &
  DataSlice &
  TrainSlice &
  RunSlice &
  RunsSlice &
  ChatSlice &
  ExportSlice &
  TourSlice &
  ErrorSlice &
  WorkerSlice;

/** A slice: its initial state and actions, given the whole store's `set` and `get` (zustand's slices pattern). */
export type SliceCreator<T> = StateCreator<Studio, [], [], T>;
export type SetStudio = StoreApi<Studio>['setState'];
export type GetStudio = StoreApi<Studio>['getState'];

export type MessageKind = FromWorker['type'];
/** The message of one kind, e.g. `Message<'step'>`. */
export type Message<K extends MessageKind> = Extract<FromWorker, { type: K }>;
/** A handler for every kind of worker message: a missing or misspelt kind does not compile. */
export type Handlers = { [K in MessageKind]: (m: Message<K>) => void };
/** A slice's handlers for the kinds `K` it reacts to. */
export type SliceHandlers<K extends MessageKind> = (set: SetStudio, get: GetStudio) => Pick<Handlers, K>;
