// bench.html: runs one benchmark (workers/bench.ts) in the studio's worker with the settings in the address and
// shows the result; npm run bench:browser reads it from window.__bench.
import { BENCH_SHAPES, type BenchRequest, type BenchResult, type BenchShape, type FromWorker } from './protocol.js';

const q = new URLSearchParams(location.search);
const num = (k: string, d: number) => (q.has(k) ? Number(q.get(k)) : d);
const request: BenchRequest = {
  backend: q.get('backend') === 'wasm' ? 'wasm' : 'webgpu',
  shape: BENCH_SHAPES.includes(q.get('shape') as BenchShape) ? (q.get('shape') as BenchShape) : 'tiny',
  batch: num('batch', 4),
  seq: num('seq', 64),
  lora: q.get('lora') !== '0',
  steps: num('steps', 3),
  tokens: num('tokens', 16),
  profile: q.get('profile') === '1',
  einsum: q.get('einsum') !== '0',
};
const out = document.getElementById('out')!;
const done = (r: { result?: BenchResult; error?: string }) => {
  (window as unknown as { __bench: typeof r }).__bench = r;
  out.textContent = r.error ?? JSON.stringify(r.result, null, 2);
};
const worker = new Worker(new URL('../workers/engine.worker.ts', import.meta.url), { type: 'module' });
worker.onmessage = (e: MessageEvent<FromWorker>) => {
  if (e.data.type === 'bench-result') done({ result: e.data.result });
  else if (e.data.type === 'error' && e.data.context === 'bench') done({ error: e.data.message });
};
worker.postMessage({ type: 'bench', request });
