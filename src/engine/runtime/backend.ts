// One interface over the four places the engine runs: onnxruntime-web on WebGPU (browser; tensors stay in GPU
// buffers between runs) or WASM (browser fallback), onnxruntime-node on the CPU or on its WebGPU EP (Node; the
// binding has no device-resident outputs, so there every run copies: a path for checking kernels, not for speed).
import type { InferenceSession, Tensor } from 'onnxruntime-common';
import type { BuiltGraph } from '../artifacts/model.js';

export const BACKENDS = ['webgpu', 'wasm', 'node-cpu', 'node-webgpu'] as const;
export type BackendName = (typeof BACKENDS)[number];

export class BackendError extends Error {
  constructor(
    readonly code: 'BACKEND_UNAVAILABLE' | 'DEVICE_LOST' | 'RUN_FAILED' | 'UNKNOWN_BACKEND',
    message: string,
  ) {
    super(message);
  }
}

export function parseBackend(name: string): BackendName {
  if ((BACKENDS as readonly string[]).includes(name)) return name as BackendName;
  throw new BackendError('UNKNOWN_BACKEND', `Unsupported backend "${name}". Should be one of: ${BACKENDS.join(', ')}`);
}

/** The parts of an onnxruntime module (node or web) the engine uses. */
export interface OrtModule {
  InferenceSession: { create(bytes: Uint8Array, options?: InferenceSession.SessionOptions): Promise<InferenceSession> };
  Tensor: typeof Tensor;
}

export type Feeds = Record<string, Tensor>;

export interface EngineSession {
  readonly graph: BuiltGraph;
  /**
   * `into`: the outputs to return, each written into a tensor the caller owns (pre-allocated, of the output's shape
   * and place) or, null, allocated. A backend may allocate a pre-allocated one anew (WASM): the returned tensors are
   * the ones that hold the outputs.
   */
  run(feeds: Feeds, into?: Record<string, Tensor | null>): Promise<Record<string, Tensor>>;
  release(): Promise<void>;
}

export interface SessionOptions {
  /** Outputs that feed later runs (weights, moments, gradients, KV cache): kept on the device where it can. */
  keepOnDevice?: (output: string) => boolean;
  /** Write an onnxruntime profile (node placement per kernel) with this path prefix. Node only. */
  profilePrefix?: string;
}

export interface Backend {
  readonly name: BackendName;
  readonly ort: OrtModule;
  /** True where outputs stay on the GPU between runs (browser WebGPU). */
  readonly deviceResident: boolean;
  /** What its execution provider can run, for the graph builders (artifacts/build.ts Target). */
  readonly target: import('../onnx/graph.js').GraphOptions;
  /** What the backend runs on, for people: adapter vendor/architecture, or thread count. */
  readonly description: string;
  createSession(g: BuiltGraph, o?: SessionOptions): Promise<EngineSession>;
  /** A float32 tensor on the device, uploaded once. */
  upload(data: Float32Array, dims: readonly number[]): Tensor;
  zeros(dims: readonly number[]): Tensor;
  /** Copies a tensor's values to the CPU. */
  download(t: Tensor): Promise<Float32Array>;
  /** Bytes read back through `download` so far (device-resident backends: what crossed from the GPU). */
  readonly stats: { downloadedBytes: number };
  /** WebGPU: the device's buffer limits, for checking a run's largest buffer before it starts. */
  readonly bufferLimits?: { maxBufferSize: number; maxStorageBufferBindingSize: number };
  /** Measures the device memory the engine holds (GPU buffers, the WASM heap), where it can. */
  readonly memory?: import('./memory.js').MemoryMeter;
  /** Called with an error when the GPU device is lost (never on CPU backends). */
  onDeviceLost?: (cb: (reason: string) => void) => void;
  /** Fault drill: destroys the GPU device, which the browser reports as a lost device. */
  destroyDevice?: () => void;
  /**
   * Runs `fn` alone on this backend. The trainer holds it for a whole step (runs, then swapping in the new weights
   * and freeing the old), a generator for each run (reading the weights, then running), so chat during training
   * never feeds a freed buffer.
   */
  exclusive<T>(fn: () => Promise<T>): Promise<T>;
}

/** A FIFO async lock. */
export function makeExclusive(): Backend['exclusive'] {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(fn: () => Promise<T>): Promise<T> => {
    const result = tail.then(fn, fn);
    tail = result.catch(() => undefined);
    return result;
  };
}

/** Shared session plumbing over an ort module. */
export async function createOrtSession(
  ort: OrtModule,
  g: BuiltGraph,
  base: InferenceSession.SessionOptions,
  o: SessionOptions,
  /** deviceOutputs: the backend can feed device-located outputs to later runs and read them back (the browser's WebGPU). */
  { deviceOutputs = false, onRunError }: { deviceOutputs?: boolean; onRunError?: (e: Error) => Error } = {},
): Promise<EngineSession> {
  const options: InferenceSession.SessionOptions = { ...base };
  if (o.keepOnDevice && deviceOutputs) {
    options.preferredOutputLocation = Object.fromEntries(
      g.outputs.map((n) => [n, o.keepOnDevice!(n) ? 'gpu-buffer' : 'cpu']),
    );
  }
  if (o.profilePrefix) {
    options.enableProfiling = true;
    options.profileFilePrefix = o.profilePrefix;
  }
  const session = await ort.InferenceSession.create(g.bytes, options);
  return {
    graph: g,
    async run(feeds, into) {
      try {
        return await (into ? session.run(feeds, into) : session.run(feeds));
      } catch (e) {
        throw onRunError
          ? onRunError(e as Error)
          : new BackendError('RUN_FAILED', `${g.name}: ${(e as Error).message}`);
      }
    },
    async release() {
      if (o.profilePrefix) session.endProfiling();
      await session.release();
    },
  };
}
