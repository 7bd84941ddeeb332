// Device memory, measured rather than estimated. WebGPU: every buffer made on the app's GPUDevice (the engine's
// own tensors and everything onnxruntime's WebGPU EP allocates through that device, its buffer cache included) is
// counted from createBuffer until destroy. WASM: the size of the module's linear memory, which onnxruntime grows
// and never shrinks (so the current size is the peak), captured by watching WebAssembly.Memory. Node CPU: the
// process's resident set.

export interface DeviceMemory {
  /** Bytes held now. */
  currentBytes: number;
  /** The most held since the last resetPeak. */
  peakBytes: number;
}

export interface MemoryMeter {
  readonly kind: 'gpu-buffers' | 'wasm-heap' | 'process-rss';
  read(): DeviceMemory;
  /** Starts a new peak window (the trainer does so at each step) at the current level. */
  resetPeak(): void;
}

/** Counts the bytes of live buffers made on `device` from now on. */
export function trackGpuBuffers(device: GPUDevice): MemoryMeter {
  let current = 0;
  let peak = 0;
  const create = device.createBuffer.bind(device);
  device.createBuffer = (desc: GPUBufferDescriptor): GPUBuffer => {
    const b = create(desc);
    const size = b.size;
    current += size;
    peak = Math.max(peak, current);
    let live = true;
    const destroy = b.destroy.bind(b);
    b.destroy = () => {
      if (live) current -= size;
      live = false;
      destroy();
    };
    return b;
  };
  return {
    kind: 'gpu-buffers',
    read: () => ({ currentBytes: current, peakBytes: peak }),
    resetPeak: () => void (peak = current),
  };
}

const memories: WeakRef<WebAssembly.Memory>[] = [];
let watching = false;

/**
 * Records every WebAssembly.Memory made from now on (onnxruntime-web's threaded build makes its heap with
 * `new WebAssembly.Memory`). Call before onnxruntime-web first loads its module: the worker does at start.
 */
export function watchWasmMemory(): void {
  if (watching) return;
  watching = true;
  const Original = WebAssembly.Memory;
  const Watched = function (this: unknown, d: WebAssembly.MemoryDescriptor) {
    const m = new Original(d);
    memories.push(new WeakRef(m));
    return m;
  } as unknown as typeof WebAssembly.Memory;
  Watched.prototype = Original.prototype;
  (WebAssembly as { Memory: typeof WebAssembly.Memory }).Memory = Watched;
}

/** The largest watched WebAssembly memory's size now (0 when none was seen). */
export function wasmHeapBytes(): number {
  let n = 0;
  for (const r of memories) n = Math.max(n, r.deref()?.buffer.byteLength ?? 0);
  return n;
}

export function wasmHeapMeter(): MemoryMeter | undefined {
  if (!watching) return undefined;
  const read = () => {
    const n = wasmHeapBytes(); // the heap only grows: now is the peak
    return { currentBytes: n, peakBytes: n };
  };
  return { kind: 'wasm-heap', read, resetPeak: () => undefined };
}
