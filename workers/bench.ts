// The browser benchmark, run in the studio's worker on the studio's backends: a few training steps and a
// generation on random weights of the tiny GPT-2, GPT-2 124M or SmolLM2-135M shape, timed, with the device memory each held and
// (WebGPU) onnxruntime-web's kernel timings of one step by kernel type. Nothing is stored.
import * as ort from 'onnxruntime-web/webgpu';
import { allParams, type ModelSpec } from '../src/engine/artifacts/model.js';
import { textRows } from '../src/engine/data/rows.js';
import { Generator } from '../src/engine/generate/generator.js';
import { GREEDY } from '../src/engine/generate/sampling.js';
import type { ModelConfig } from '../src/engine/models/config.js';
import { GPT2_124M } from '../src/engine/models/gpt2.js';
import { initLora, initModel, TINY_GPT2 } from '../src/engine/models/init.js';
import { SMOLLM2_135M_CONFIG } from '../src/engine/models/llama-config.js';
import { defaultLora } from '../src/engine/models/lora.js';
import { familyOf } from '../src/engine/models/family.js';
import type { Backend } from '../src/engine/runtime/backend.js';
import { weightFeeds } from '../src/engine/runtime/feeds.js';
import { createWasmBackend, createWebGpuBackend, type WebBackendOptions } from '../src/engine/runtime/web.js';
import { DEFAULT_TRAIN, Trainer } from '../src/engine/train/trainer.js';
import type { BenchRequest, BenchResult, BenchShape } from '../src/protocol.js';
import { graphNodes } from '../src/engine/artifacts/counts.js';

const PROMPT = Array.from({ length: 32 }, (_, i) => 100 + 17 * i);
const SHAPES: Record<BenchShape, ModelConfig> = {
  tiny: TINY_GPT2,
  gpt2: GPT2_124M,
  'smollm2-135m': SMOLLM2_135M_CONFIG,
};

export async function runBench(r: BenchRequest, web: WebBackendOptions): Promise<BenchResult> {
  const b: Backend =
    r.backend === 'webgpu' ? await createWebGpuBackend({ ...web, einsum: r.einsum }) : await createWasmBackend(web);
  const config = SHAPES[r.shape];
  const V = familyOf(config).vocabSize(config);
  const model: ModelSpec = { config, lora: r.lora ? defaultLora(config) : undefined };
  let peak = 0;
  const sample = () => (peak = Math.max(peak, b.memory?.read().peakBytes ?? 0));

  // ---- training
  const W = { ...initModel(config, 1), ...(model.lora ? initLora(config, model.lora, 1) : {}) };
  const tokens = Array.from({ length: 8 * r.batch * (r.seq + 1) }, (_, i) => (i * 7919) % (V - 1));
  const cfg = {
    ...DEFAULT_TRAIN,
    steps: r.steps + 1,
    batch: r.batch,
    seq: r.seq,
    evalEvery: 0,
    sampleEvery: 0,
    checkpointEvery: 0,
    lr: 1e-4,
  };
  const trainer = new Trainer({
    backend: b,
    model,
    weights: W,
    train: textRows(tokens, r.seq),
    config: cfg,
    padId: V - 1,
  });
  if (r.profile && r.backend === 'webgpu') ort.env.webgpu.profiling = { mode: 'default', ondata: () => undefined }; // before the sessions exist
  const kernels: { op: string; ms: number }[] = [];
  const profiling = r.profile && r.backend === 'webgpu';
  const times: number[] = [];
  let last = performance.now();
  b.memory?.resetPeak();
  for await (const e of trainer.run()) {
    if (e.type === 'error') throw new Error(`training: ${e.message}`);
    if (e.type === 'start') last = performance.now();
    if (e.type !== 'step') continue;
    sample();
    const now = performance.now();
    if (e.step > 1) times.push(now - last); // the first step compiles the kernels
    last = now;
    if (profiling && e.step === r.steps) startProfile(kernels); // the last step, profiled (and not timed: see below)
    if (profiling && e.step === r.steps + 1) stopProfile();
  }
  if (profiling && times.length > 1) times.pop(); // the profiled step pays for the timestamp queries
  await trainer.release();
  const stepSeconds = times.reduce((x, y) => x + y, 0) / times.length / 1000;

  // ---- generation on the base weights
  const feeds = weightFeeds(b, allParams({ config }), W);
  const gen = new Generator(
    b,
    { config },
    () => feeds,
    { eosId: -1, decode: () => '' },
    { cache: Math.min(256, familyOf(config).maxPositions(config)), prefillChunk: 32 },
  );
  const stream = async (n: number) => {
    const t0 = performance.now();
    let first = 0;
    for await (const e of gen.stream(PROMPT, { ...GREEDY, maxNewTokens: n }))
      if (e.type === 'token' && !first) first = performance.now();
    const t1 = performance.now();
    return { tokensPerSec: n / ((t1 - t0) / 1000), msPerToken: (t1 - first) / Math.max(1, n - 1) };
  };
  await stream(4).catch((e: Error) => {
    throw new Error(`generation: ${e.message}`);
  });
  sample();
  const g = await stream(r.tokens);
  sample();
  await gen.release();
  for (const t of Object.values(feeds)) t.dispose();

  const byOp = new Map<string, { count: number; ms: number }>();
  for (const k of kernels) {
    const o = byOp.get(k.op) ?? byOp.set(k.op, { count: 0, ms: 0 }).get(k.op)!;
    o.count++;
    o.ms += k.ms;
  }
  return {
    request: r,
    description: b.description,
    stepSeconds,
    trainTokensPerSec: (r.batch * r.seq) / stepSeconds,
    tokensPerSec: g.tokensPerSec,
    generateMsPerToken: g.msPerToken,
    deviceBytesPeak: peak,
    profile: kernels.length ? [...byOp].map(([op, v]) => ({ op, ...v })).sort((x, y) => y.ms - x.ms) : null,
    graphNodes: graphNodes(config, r.batch, r.seq, b.target),
  };
}

// onnxruntime-web's WebGPU profiling: kernel timings through `ondata` (the JSEP EP) or, from the native WebGPU EP,
// as console lines "[profiling] kernel "<id>|[<Op>] ..." ... execution time: <ns> ns"; both are collected.
let restoreConsole: (() => void) | null = null;
function startProfile(out: { op: string; ms: number }[]): void {
  ort.env.webgpu.profiling = {
    mode: 'default',
    ondata: (d) => out.push({ op: d.kernelType, ms: Number(d.endTime - d.startTime) / 1e6 }),
  };
  const log = console.log;
  console.log = (...args: unknown[]) => {
    const line = args.map(String).join(' ');
    const m = /\[profiling\] kernel "(?:[^|"]*\|)?\[([^\]]+)\].*execution time: (\d+) ns/.exec(line);
    if (m) out.push({ op: m[1], ms: Number(m[2]) / 1e6 });
    else log(...args);
  };
  restoreConsole = () => (console.log = log);
}
function stopProfile(): void {
  ort.env.webgpu.profiling = { mode: 'off' };
  restoreConsole?.();
  restoreConsole = null;
}
