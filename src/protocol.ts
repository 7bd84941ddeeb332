// The worker protocol: one discriminated union each way, each message kind with its own payload type, so neither
// side casts. The worker owns the engine, the GPU buffers and the stored runs; the UI only sends intents and renders
// what comes back.
import type { GenerateOptions } from './engine/generate/generator.js';
import type { Message } from './engine/data/template.js';
import type { AdapterReport } from './engine/runtime/web.js';
import type { FormatName } from './engine/data/formats.js';
import type {
  DatasetSummary,
  EvalPoint,
  RunState,
  RunStatus,
  RunSummary,
  Sample,
  StepPoint,
  TrainSettings,
} from './engine/storage/run-record.js';

export {
  bestEval,
  type DatasetSummary,
  type EvalPoint,
  type RunState,
  type RunStatus,
  type RunSummary,
  type Sample,
  type StepPoint,
  type TrainSettings,
} from './engine/storage/run-record.js';
import type { OverflowPolicy } from './engine/data/rows.js';
import type { LossOn } from './engine/data/template.js';
import type { Progress } from './engine/hub/client.js';
import type { ModelConfig } from './engine/models/config.js';

export type BackendChoice = 'webgpu' | 'wasm';

/** A model on the Hub (or a mirror). The token is kept in memory and sent only to the endpoint. */
export interface HubSource {
  endpoint?: string;
  repo: string;
  revision?: string;
  token?: string;
}

export interface ModelInspection {
  repo: string;
  revision: string;
  /** The family's name as people say it: "GPT-2", "Llama", "Qwen2", "Qwen3". */
  family: string;
  params: number;
  /** model.safetensors, or every shard of a sharded repo. */
  downloadBytes: number | null;
  /** The page estimates memory from it at the settings it has now. */
  config: ModelConfig;
}

export interface CachedModel {
  prefix: string;
  endpoint: string;
  repo: string;
  revision: string;
  bytes: number;
  complete: boolean;
}

export interface ModelInfo {
  id: string;
  name: string;
  params: number;
  nPositions: number;
  family: string;
  config: ModelConfig;
  /** The chat template the model ships (the studio's plain one for GPT-2): the Data panel starts from it. */
  template: string;
}

export interface DeviceInfo {
  webgpu: { ok: true; adapter: AdapterReport } | { ok: false; reason: string };
  crossOriginIsolated: boolean;
  threads: number;
}

export interface DataError {
  file: string;
  line: number;
  field: string | null;
  message: string;
}

/** How a dropped file becomes training rows; editable in the Data panel, kept with each run. */
export interface DataOptions {
  format: FormatName | 'auto';
  promptColumn?: string;
  responseColumn?: string;
  skipBad: boolean;
  lossOn: LossOn;
  overflow: OverflowPolicy;
  pack: boolean;
  /** The Jinja chat template (tokenizer_config.json's chat_template). */
  template: string;
}

/** A stored run's loss curves, for overlaying several runs in one chart. */
export interface RunCurve {
  id: string;
  steps: { step: number; loss: number }[];
  evals: EvalPoint[];
}

/** What an export of a run can be (see src/engine/export). */
export const EXPORT_KINDS = ['hf', 'transformers-js', 'adapter', 'chat-page', 'recipe', 'gguf'] as const;
export type ExportKind = (typeof EXPORT_KINDS)[number];

export type ChatWeights = 'tuned' | 'base';

export type ChatSettings = Pick<
  GenerateOptions,
  'temperature' | 'topK' | 'topP' | 'repetitionPenalty' | 'maxNewTokens'
>;

// ---------------------------------------------------------------------------------------------- benchmark
export const BENCH_SHAPES = ['tiny', 'gpt2', 'smollm2-135m'] as const;
export type BenchShape = (typeof BENCH_SHAPES)[number];

export interface BenchRequest {
  backend: 'webgpu' | 'wasm';
  /** The tiny GPT-2, GPT-2 124M, or SmolLM2-135M's shape; random weights. */
  shape: BenchShape;
  batch: number;
  seq: number;
  /** LoRA rank 8 on attn.c_attn, or a full fine-tune. */
  lora: boolean;
  /** Timed training steps (one more runs first, untimed). */
  steps: number;
  /** New tokens generated after a 32-token prompt (a 4-token call runs first, untimed). */
  tokens: number;
  /** Collect onnxruntime-web's WebGPU kernel timings for one step (WebGPU only). */
  profile: boolean;
  /** WebGPU: the graphs with Einsum (the default) or without (MatMul, Gemm and Transposes), for an A/B. */
  einsum: boolean;
}

export interface BenchResult {
  request: BenchRequest;
  description: string;
  /** Mean seconds of a timed step, and the tokens it trained per second. */
  stepSeconds: number;
  trainTokensPerSec: number;
  /** Generation: new tokens per second over the whole call (prefill included), and ms per token after the first. */
  tokensPerSec: number;
  generateMsPerToken: number;
  /** The most device memory held (GPU buffers on WebGPU, the WASM heap), in training or generation. */
  deviceBytesPeak: number;
  /**
   * Per kernel type over one step, from onnxruntime-web's WebGPU profiling; null where it reported nothing
   * (onnxruntime-web 1.30's native WebGPU EP reports nothing in chromium on SwiftShader).
   */
  profile: { op: string; count: number; ms: number }[] | null;
  /** Nodes in the graphs this backend builds at this batch and sequence (full and LoRA step, one token). */
  graphNodes: import('./engine/artifacts/counts.js').GraphNodes;
}

// ---------------------------------------------------------------------------------------------- UI -> worker
export type ToWorker =
  | { type: 'init' }
  | { type: 'set-backend'; backend: BackendChoice }
  | { type: 'load-data'; file: string; bytes: ArrayBuffer; options: DataOptions; seq: number }
  | { type: 'set-data-options'; options: DataOptions; seq: number }
  | { type: 'start-run'; settings: TrainSettings }
  | { type: 'pause' }
  | { type: 'resume' }
  | { type: 'stop' }
  | { type: 'open-run'; id: string }
  | { type: 'delete-run'; id: string }
  | { type: 'rename-run'; id: string; name: string }
  /** A few untimed-then-timed steps of the current model at these settings on random tokens, to estimate a run's time. */
  | { type: 'measure-speed'; settings: TrainSettings }
  | { type: 'run-curves'; ids: string[] }
  /** `weights`: the run's current weights, or the base model's (a LoRA run's adapter off; a full run's base weights). */
  | { type: 'chat'; id: number; messages: Message[]; settings: ChatSettings; weights: ChatWeights }
  | { type: 'chat-stop'; id: number }
  | { type: 'inspect-model'; source: HubSource }
  | { type: 'load-model'; source: HubSource | null }
  | { type: 'cancel-download' }
  | { type: 'cache-list' }
  | { type: 'cache-delete'; prefix: string }
  | { type: 'export'; kind: ExportKind; sampling: ChatSettings }
  | { type: 'export-cancel' }
  /** Files picked from disk: a folder's files (paths inside it) or one zip. */
  | { type: 'import-model'; files: { path: string; file: Blob }[] }
  /** The browser benchmark (bench.html, npm run bench:browser): random weights, nothing stored. */
  | { type: 'bench'; request: BenchRequest };

// ---------------------------------------------------------------------------------------------- worker -> UI
export type FromWorker =
  | { type: 'ready'; device: DeviceInfo; runs: RunSummary[] }
  | { type: 'backend'; backend: BackendChoice; description: string }
  | { type: 'data-loaded'; summary: DatasetSummary }
  /** skippable: the errors are bad records, and skipping them leaves some good ones. */
  | { type: 'data-rejected'; file: string; errors: DataError[]; total: number; skippable: boolean }
  | { type: 'data-progress'; file: string; stage: 'reading' | 'tokenizing'; done: number; total: number }
  | { type: 'run'; run: RunState }
  | { type: 'step'; point: StepPoint; elapsedMs: number; etaMs: number }
  | { type: 'eval'; point: EvalPoint }
  | { type: 'sample'; sample: Sample }
  | {
      type: 'run-status';
      status: RunStatus;
      step: number;
      checkpointStep: number;
      error: string | null;
      checkpointError: string | null;
    }
  | { type: 'runs'; runs: RunSummary[] }
  | { type: 'run-curves'; curves: RunCurve[] }
  /** Training speed measured on a backend, for a model of `params` parameters (a run's steps, or `measure-speed`). */
  | { type: 'speed'; backend: BackendChoice; lora: boolean; tokensPerSecond: number; params: number }
  | { type: 'chat-token'; id: number; text: string }
  | { type: 'chat-done'; id: number; reason: string; tokensPerSecond: number }
  | { type: 'storage'; usage: number; quota: number; persisted: boolean; error: string | null }
  | { type: 'error'; context: string; message: string }
  | { type: 'model'; model: ModelInfo }
  | { type: 'inspection'; inspection: ModelInspection }
  | { type: 'download'; progress: Progress }
  | { type: 'download-failed'; message: string }
  | { type: 'cache'; models: CachedModel[] }
  | { type: 'export-progress'; kind: ExportKind; done: number; total: number }
  | { type: 'export-ready'; kind: ExportKind; fileName: string; blob: Blob }
  | { type: 'export-failed'; kind: ExportKind; message: string }
  | { type: 'import-progress'; done: number; total: number }
  | { type: 'import-done'; name: string; kind: 'model' | 'adapter' }
  | { type: 'import-failed'; message: string }
  | { type: 'bench-result'; result: BenchResult };

/** Exhaustiveness guard for switches over the unions. */
export function unreachable(x: never): never {
  throw new Error(`unhandled message ${JSON.stringify(x)}`);
}
