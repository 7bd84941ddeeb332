// Loads a cached GPT-2 from a Hub file cache and reports the most ArrayBuffer memory it ever held live, sampled
// after a forced GC every few milliseconds: `node --expose-gc --import tsx src/engine/testing/measure-load.ts
// <cache dir> <endpoint> <repo>` prints {"peakArrayBufferBytes", "weightsBytes", "fileBytes"}.
import { FsHubCache } from '../hub/cache.node.js';
import { HubClient } from '../hub/client.js';
import { loadHubGpt2 } from '../hub/model.js';

const [root, endpoint, repo] = process.argv.slice(2);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');
const base = process.memoryUsage().arrayBuffers;
let peak = 0;
const sample = () => {
  gc();
  peak = Math.max(peak, process.memoryUsage().arrayBuffers - base);
};
const timer = setInterval(sample, 5);
let fileBytes = 0;
const m = await loadHubGpt2(new HubClient(new FsHubCache(root), { endpoint }), repo, 'main', {
  onProgress: (p) => {
    sample();
    if (p.status === 'done' && p.file === 'model.safetensors') fileBytes = p.size;
  },
});
clearInterval(timer);
sample();
const weightsBytes = Object.values(m.weights).reduce((n, w) => n + w.byteLength, 0);
console.log(JSON.stringify({ peakArrayBufferBytes: peak, weightsBytes, fileBytes }));
