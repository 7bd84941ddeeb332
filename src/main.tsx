// Entry: starts the engine worker, wires its messages into the store, restores the most recent run after a reload.
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './app/App.js';
import './app/styles.css';
import { useStudio } from './store/index.js';
import type { FromWorker, ToWorker } from './protocol.js';

const worker = new Worker(new URL('../workers/engine.worker.ts', import.meta.url), { type: 'module' });
const store = useStudio.getState();
store.setSender((m: ToWorker, transfer: Transferable[] = []) => worker.postMessage(m, transfer));
let restored = false;
worker.onmessage = (e: MessageEvent<FromWorker>) => {
  useStudio.getState().apply(e.data);
  if (e.data.type === 'ready' && !restored) {
    restored = true;
    const last = e.data.runs[0];
    if (last) worker.postMessage({ type: 'open-run', id: last.id } satisfies ToWorker);
    worker.postMessage({
      type: 'set-backend',
      backend: e.data.device.webgpu.ok ? 'webgpu' : 'wasm',
    } satisfies ToWorker);
  }
};
worker.onerror = (e) =>
  useStudio
    .getState()
    .apply({ type: 'error', context: 'worker', message: e.message || 'the engine worker failed to start' });
worker.postMessage({ type: 'init' } satisfies ToWorker);
void navigator.storage?.persist?.();

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
