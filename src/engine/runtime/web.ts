// onnxruntime-web backends for the browser worker. WebGPU: the app creates the GPUDevice itself, asking for the
// adapter's largest buffers (GPT-2's 147 MiB token embedding exceeds the 128 MiB default), hands it to the WebGPU
// EP, and keeps weights, moments, gradients and KV caches in GPU buffers between runs (Tensor.fromGpuBuffer,
// preferredOutputLocation 'gpu-buffer'). WASM: the fallback, multi-threaded when the page is cross-origin isolated.
import * as ort from 'onnxruntime-web/webgpu';
import type { Tensor } from 'onnxruntime-common';
import { BackendError, createOrtSession, makeExclusive, type Backend, type OrtModule } from './backend.js';
import { trackGpuBuffers } from './memory.js';
import { wasmBackend } from './wasm.js';

export interface WebBackendOptions {
  /** Where the onnxruntime-web .wasm/.mjs files are served (Vite: ?url imports). */
  wasmPaths?: { wasm?: string; mjs?: string };
  /** WebGPU: build with Einsum (GraphOptions.einsum; default true). Off for an A/B on a real GPU (the benchmark). */
  einsum?: boolean;
}

export interface AdapterReport {
  vendor: string;
  architecture: string;
  description: string;
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
  maxComputeWorkgroupStorageSize: number;
}

/** What WebGPU offers here, or why there is none (shown in the Device panel). */
export async function probeWebGpu(): Promise<{ ok: true; adapter: AdapterReport } | { ok: false; reason: string }> {
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu)
    return {
      ok: false,
      reason: 'this browser has no WebGPU (navigator.gpu is undefined); Chrome and Edge 113+ have it',
    };
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter)
    return {
      ok: false,
      reason:
        'WebGPU is present but the browser offered no GPU adapter (blocklisted driver, or disabled in the browser settings)',
    };
  const info = adapter.info;
  return {
    ok: true,
    adapter: {
      vendor: info?.vendor || 'unknown',
      architecture: info?.architecture || 'unknown',
      description: info?.description || '',
      maxBufferSize: adapter.limits.maxBufferSize,
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
      maxComputeWorkgroupStorageSize: adapter.limits.maxComputeWorkgroupStorageSize,
    },
  };
}

function configure(o: WebBackendOptions, threads: number): OrtModule {
  if (o.wasmPaths) ort.env.wasm.wasmPaths = o.wasmPaths;
  ort.env.wasm.numThreads = threads;
  return ort;
}

export async function createWebGpuBackend(o: WebBackendOptions = {}): Promise<Backend> {
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  const adapter = gpu && (await gpu.requestAdapter({ powerPreference: 'high-performance' }));
  if (!adapter)
    throw new BackendError(
      'BACKEND_UNAVAILABLE',
      (await probeWebGpu().then((p) => (p.ok ? '' : p.reason))) || 'no WebGPU adapter',
    );
  const device = await adapter.requestDevice({
    // timestamp queries: onnxruntime-web's kernel profiling (the browser benchmark's per-op breakdown) needs them
    requiredFeatures: adapter.features.has('timestamp-query') ? ['timestamp-query'] : [],
    requiredLimits: {
      maxBufferSize: adapter.limits.maxBufferSize,
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
      maxComputeWorkgroupStorageSize: adapter.limits.maxComputeWorkgroupStorageSize,
    },
  });
  const memory = trackGpuBuffers(device); // before onnxruntime sees the device, so its buffers are counted too
  const lostCallbacks: ((reason: string) => void)[] = [];
  let lost: string | null = null;
  void device.lost.then((info) => {
    lost = info.message || info.reason || 'the GPU device was lost';
    for (const cb of lostCallbacks) cb(lost);
  });
  const mod = configure(o, 1);
  const T = mod.Tensor;
  const base = {
    executionProviders: [{ name: 'webgpu', device } as unknown as string],
    graphOptimizationLevel: 'all' as const,
  };
  const onRunError = (e: Error) =>
    lost
      ? new BackendError('DEVICE_LOST', `the GPU device was lost (${lost}); resume the run from its last checkpoint`)
      : new BackendError('RUN_FAILED', e.message);
  const gpuTensor = (dims: readonly number[], data?: Float32Array): Tensor => {
    const n = dims.reduce((a, b) => a * b, 1);
    const buffer = device.createBuffer({
      size: Math.max(16, Math.ceil((n * 4) / 16) * 16),
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    });
    if (data) device.queue.writeBuffer(buffer, 0, data.buffer, data.byteOffset, data.byteLength); // a new buffer is zeroed
    return T.fromGpuBuffer(buffer, { dataType: 'float32', dims: dims, dispose: () => buffer.destroy() });
  };
  const info = adapter.info;
  const stats = { downloadedBytes: 0 };
  return {
    name: 'webgpu',
    stats,
    ort: mod,
    deviceResident: true,
    memory,
    bufferLimits: {
      maxBufferSize: device.limits.maxBufferSize,
      maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize,
    },
    target: {
      flatParams: true,
      einsum: o.einsum ?? true,
      vocabMajor: true,
      flatGroupBytes: device.limits.maxStorageBufferBindingSize,
    },
    description: `WebGPU: ${info?.vendor || 'unknown vendor'} ${info?.architecture || ''}`.trim(),
    exclusive: makeExclusive(),
    createSession: (g, so = {}) => createOrtSession(mod, g, base, so, { deviceOutputs: true, onRunError }),
    upload: (data, dims) => gpuTensor(dims, data),
    zeros: (dims) => gpuTensor(dims),
    download: async (t) => {
      const d = t.location === 'gpu-buffer' ? ((await t.getData()) as Float32Array) : (t.data as Float32Array);
      stats.downloadedBytes += d.byteLength; // outputs kept on the CPU (loss, grad_norm) were read back by onnxruntime
      return d;
    },
    destroyDevice: () => device.destroy(),
    onDeviceLost: (cb) => {
      lostCallbacks.push(cb);
      if (lost) cb(lost);
    },
  };
}

export function createWasmBackend(o: WebBackendOptions = {}): Promise<Backend> {
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
  const threads = isolated ? Math.min(8, globalThis.navigator?.hardwareConcurrency ?? 1) : 1;
  return Promise.resolve(
    wasmBackend(
      configure(o, threads),
      `WebAssembly, ${threads} thread${threads > 1 ? 's' : ''}${isolated ? '' : ' (the page is not cross-origin isolated, so no threads)'}`,
    ),
  );
}
