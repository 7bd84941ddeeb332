// onnxruntime-node backends: the CPU EP (the fast path on a machine without a GPU) and the WebGPU EP through
// Dawn (on a headless machine: Vulkan via the SwiftShader ICD that Debian's chromium ships; see README).
import os from 'node:os';
import type { Tensor } from 'onnxruntime-common';
import { BackendError, createOrtSession, makeExclusive, type Backend, type OrtModule } from './backend.js';
import { watchWasmMemory } from './memory.js';
import { wasmBackend } from './wasm.js';

export interface NodeBackendOptions {
  /** CPU EP intra-op threads; default: all cores. */
  threads?: number;
  /** WebGPU EP: build with Einsum (GraphOptions.einsum; default true), off for an A/B. */
  einsum?: boolean;
}

export async function createNodeBackend(
  kind: 'node-cpu' | 'node-webgpu',
  o: NodeBackendOptions = {},
): Promise<Backend> {
  const ort = (await import('onnxruntime-node')) as unknown as OrtModule & { default?: OrtModule };
  const mod: OrtModule = ort.InferenceSession ? ort : ort.default!;
  const threads = o.threads ?? os.availableParallelism();
  // The CPU arena is off: onnxruntime-node copies every output into a new JavaScript buffer, so an arena that
  // keeps its own copy of each step's weights doubles resident memory (GPT-2 124M full fine-tune: 7.8 GiB with,
  // 4.5 GiB without) for no measured speed-up (npm run bench).
  const base =
    kind === 'node-cpu'
      ? {
          executionProviders: ['cpu'],
          intraOpNumThreads: threads,
          interOpNumThreads: 1,
          graphOptimizationLevel: 'all' as const,
          enableCpuMemArena: false,
        }
      : { executionProviders: ['webgpu'], graphOptimizationLevel: 'all' as const };
  if (kind === 'node-webgpu') {
    // Fail early, with the fix, rather than inside the first training step.
    try {
      const { buildProbeGraph } = await import('./probe.js');
      const s = await mod.InferenceSession.create(buildProbeGraph(), base);
      await s.release();
    } catch (e) {
      throw new BackendError(
        'BACKEND_UNAVAILABLE',
        `onnxruntime-node's WebGPU EP found no adapter (${(e as Error).message.split('\n')[0]}). On a machine without a GPU, ` +
          "install Debian's chromium and run with VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json LD_LIBRARY_PATH=/usr/lib/chromium",
      );
    }
  }
  const Tensor = mod.Tensor;
  return {
    name: kind,
    stats: { downloadedBytes: 0 },
    ort: mod,
    deviceResident: false,
    target: {
      scatterAdd: kind === 'node-cpu',
      flatParams: kind === 'node-webgpu',
      einsum: kind === 'node-webgpu' && (o.einsum ?? true),
      vocabMajor: kind === 'node-webgpu',
    },
    description: kind === 'node-cpu' ? `onnxruntime-node CPU, ${threads} threads` : 'onnxruntime-node WebGPU (Dawn)',
    exclusive: makeExclusive(),
    // outputs come back to the CPU (no deviceOutputs): onnxruntime-node's WebGPU EP cannot feed device outputs to
    // the next run, and its GPU tensors cannot be read back here
    createSession: (g, so = {}) => createOrtSession(mod, g, base, so),
    upload: (data, dims) => new Tensor('float32', data, dims),
    zeros: (dims) => new Tensor('float32', new Float32Array(dims.reduce((a, b) => a * b, 1)), dims),
    download: (t: Tensor) => Promise.resolve(t.data as Float32Array),
    memory: kind === 'node-cpu' ? processRss() : undefined,
  };
}

/** onnxruntime-web's WASM build in Node: the browser fallback's kernels and heap, for benchmarks and memory tests. */
export async function createNodeWasmBackend(o: NodeBackendOptions = {}): Promise<Backend> {
  watchWasmMemory();
  const mod = (await import('onnxruntime-web')) as unknown as OrtModule & { env: { wasm: { numThreads: number } } };
  const threads = o.threads ?? os.availableParallelism();
  mod.env.wasm.numThreads = threads;
  return wasmBackend(mod, `onnxruntime-web WebAssembly in Node, ${threads} threads`);
}

/** The process's resident set now, and its most over the process's life (the kernel keeps no other window). */
function processRss(): import('./memory.js').MemoryMeter {
  const read = () => ({ currentBytes: process.memoryUsage.rss(), peakBytes: process.resourceUsage().maxRSS * 1024 });
  return { kind: 'process-rss', read, resetPeak: () => undefined };
}
