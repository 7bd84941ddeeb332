// The WASM backend over an onnxruntime-web module: the browser's (web.ts), or Node's build of the same WASM for
// benchmarks and memory tests (node.ts). Tensors live in JavaScript memory and are copied into the module's heap
// on every run; the heap is measured (memory.ts).
import { createOrtSession, makeExclusive, type Backend, type OrtModule } from './backend.js';
import { wasmHeapMeter } from './memory.js';

/** The WASM backend over an onnxruntime-web module (the browser's, or Node's build of it for benchmarks and tests). */
export function wasmBackend(mod: OrtModule, description: string): Backend {
  const T = mod.Tensor;
  const base = { executionProviders: ['wasm'], graphOptimizationLevel: 'all' as const };
  return {
    name: 'wasm',
    stats: { downloadedBytes: 0 },
    ort: mod,
    deviceResident: false,
    memory: wasmHeapMeter(),
    target: { scatterAdd: true }, // the WASM build runs the CPU kernels
    description,
    exclusive: makeExclusive(),
    createSession: async (g, so = {}) => {
      const s = await createOrtSession(mod, g, base, so);
      // onnxruntime-web's WASM build never writes into a pre-allocated CPU output: it hands that tensor back as it
      // was (a KV cache stayed all zeros). So each output is allocated by the run, and callers take what it returns.
      const own = (into: Record<string, unknown>) => Object.fromEntries(Object.keys(into).map((k) => [k, null]));
      return { graph: s.graph, run: (feeds, into) => s.run(feeds, into && own(into)), release: () => s.release() };
    },
    upload: (data, dims) => new T('float32', data, dims),
    zeros: (dims) => new T('float32', new Float32Array(dims.reduce((a, b) => a * b, 1)), dims),
    download: (t) => Promise.resolve(t.data as Float32Array),
  };
}
