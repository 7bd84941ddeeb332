// The page's end of the worker protocol: `send` posts an intent (set once the worker exists), and `apply` folds a
// worker message into the store through `handlers`, one entry per message kind that calls, in order, the handlers
// of the slices it concerns. The map is typed over every kind, so a kind without an entry does not compile.
import type { FromWorker, ToWorker } from '../protocol.js';
import { chatHandlers } from './chat.js';
import { dataHandlers } from './data.js';
import { deviceHandlers } from './device.js';
import { errorHandlers } from './errors.js';
import { exportHandlers } from './exports.js';
import { modelHandlers } from './model.js';
import { runHandlers } from './run.js';
import { runsHandlers } from './runs.js';
import { tourHandlers } from './tour.js';
import { trainHandlers } from './train.js';
import type { GetStudio, Handlers, Message, MessageKind, SetStudio, SliceCreator } from './types.js';

export type Sender = (m: ToWorker, transfer?: Transferable[]) => void;

export interface WorkerSlice {
  /** Folds a worker message into the store (the worker's message handler calls it, outside React). */
  apply: (m: FromWorker) => void;
  /** Sends an intent to the worker (set once the worker exists); `transfer` moves buffers instead of copying them. */
  send: Sender;
  setSender: (send: Sender) => void;
}

function handlers(set: SetStudio, get: GetStudio): Handlers {
  const device = deviceHandlers(set, get);
  const model = modelHandlers(set, get);
  const data = dataHandlers(set, get);
  const train = trainHandlers(set, get);
  const run = runHandlers(set, get);
  const runs = runsHandlers(set, get);
  const chat = chatHandlers(set, get);
  const exporter = exportHandlers(set, get);
  const tour = tourHandlers(set, get);
  const errors = errorHandlers(set, get);
  return {
    ready: (m) => {
      device.ready(m);
      runs.ready(m);
    },
    backend: device.backend,
    storage: device.storage,
    model: (m) => {
      data.model(m); // before the model slice records it: the data handler compares with the previous model
      model.model(m);
      tour.model(m); // the model is in: "Try it" may start
    },
    inspection: model.inspection,
    download: model.download,
    'download-failed': model['download-failed'],
    cache: model.cache,
    'import-progress': model['import-progress'],
    'import-done': model['import-done'],
    'import-failed': model['import-failed'],
    'data-loaded': (m) => {
      data['data-loaded'](m);
      tour['data-loaded'](m); // the data is in: "Try it" may start
    },
    'data-rejected': (m) => {
      data['data-rejected'](m);
      tour['data-rejected'](m);
    },
    'data-progress': data['data-progress'],
    run: (m) => {
      run.run(m);
      runs.run(m); // shown: then resume it or focus its exports, if it was opened for that
    },
    step: run.step,
    eval: run.eval,
    sample: run.sample,
    'run-status': (m) => {
      train['run-status'](m); // once it stops training: the speed of its last step, for the estimates
      run['run-status'](m);
    },
    runs: runs.runs,
    'run-curves': runs['run-curves'],
    speed: train.speed,
    'chat-token': chat['chat-token'],
    'chat-done': chat['chat-done'],
    'export-progress': exporter['export-progress'],
    'export-ready': exporter['export-ready'],
    'export-failed': exporter['export-failed'],
    error: (m) => {
      errors.error(m);
      chat.error(m); // a failed chat ends its stream
      train.error(m); // a failed speed measurement ends it
      tour.error(m); // a failed intent of "Try it" stops it
    },
    'bench-result': () => undefined, // the benchmark page's (bench.html), not the studio's
  };
}

/** Calls the handler of `m`'s own kind with it: `K` ties the two, so the call type-checks without a cast. */
function dispatch<K extends MessageKind>(on: Handlers, m: Message<K>) {
  on[m.type](m);
}

export const createWorkerSlice: SliceCreator<WorkerSlice> = (set, get) => {
  const on = handlers(set, get);
  return {
    apply: (m) => dispatch(on, m),
    send: () => {
      throw new Error('the worker is not started yet');
    },
    setSender: (send) => set({ send }),
  };
};
