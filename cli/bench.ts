// npm run bench -- [--json] [--steps N] [--threads N] [--backend node-cpu|wasm]
// Training throughput for the GPT-2 124M shape (random weights, batch 4, sequence 128): full fine-tune with AdamW
// and LoRA rank 8, on onnxruntime-node's CPU EP or onnxruntime-web's WASM build (the browser fallback's kernels);
// generation tokens/s with the KV cache; peak memory, and the device memory each run measured (the process's RSS
// on the CPU EP, the heap on WASM) beside the studio's estimate. Reports achieved GFLOP/s as 6 x parameters x
// tokens / time, and a same-run matmul baseline for the ratio.
import { parseArgs } from 'node:util';
import { Graph } from '../src/engine/onnx/graph.js';
import { serializeModel } from '../src/engine/onnx/proto.js';
import { allParams, type ModelSpec } from '../src/engine/artifacts/model.js';
import { textRows } from '../src/engine/data/rows.js';
import { Generator } from '../src/engine/generate/generator.js';
import { GREEDY } from '../src/engine/generate/sampling.js';
import { countParams, gpt2Params, GPT2_124M } from '../src/engine/models/gpt2.js';
import { initGpt2, initLora } from '../src/engine/models/init.js';
import { createNodeBackend, createNodeWasmBackend } from '../src/engine/runtime/node.js';
import { estimateMemory } from '../src/engine/models/memory.js';
import { weightFeeds } from '../src/engine/runtime/feeds.js';
import { DEFAULT_TRAIN, Trainer } from '../src/engine/train/trainer.js';
import type { Backend } from '../src/engine/runtime/backend.js';

const { values: a } = parseArgs({ options: { json: { type: 'boolean', default: false }, steps: { type: 'string', default: '6' }, threads: { type: 'string' }, backend: { type: 'string', default: 'node-cpu' } } });
if (a.backend !== 'node-cpu' && a.backend !== 'wasm') throw new Error(`Unsupported backend "${a.backend}". Should be one of: node-cpu, wasm`);
const steps = Number(a.steps);
const B = 4;
const T = 128;
let peakRss = 0;
const sampleRss = () => (peakRss = Math.max(peakRss, process.memoryUsage().rss));
const timer = setInterval(sampleRss, 50);

/** Plain 512x768x3072 matmul through the same runtime: the machine's attainable GEMM rate, for ratios. */
async function matmulBaseline(b: Backend): Promise<number> {
  const g = new Graph('mm');
  g.output(g.gemm(g.input('a', 'float32', [B * T, 768]), g.input('w', 'float32', [768, 3072])), 'y');
  const s = await b.createSession({ name: 'mm', bytes: serializeModel(g), inputs: [], outputs: [] });
  const feeds = { a: b.upload(new Float32Array(B * T * 768).fill(0.01), [B * T, 768]), w: b.upload(new Float32Array(768 * 3072).fill(0.01), [768, 3072]) };
  for (let i = 0; i < 3; i++) await s.run(feeds);
  const n = 20;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await s.run(feeds);
  const sec = (performance.now() - t0) / 1000;
  await s.release();
  return (2 * B * T * 768 * 3072 * n) / sec / 1e9;
}

async function train(b: Backend, m: ModelSpec, label: string) {
  const W = { ...initGpt2(m.config, 1), ...(m.lora ? initLora(m.config, m.lora, 1) : {}) };
  const tokens = Array.from({ length: 40 * (T + 1) }, (_, i) => (i * 7919) % 50000);
  const cfg = { ...DEFAULT_TRAIN, steps: steps + 1, batch: B, seq: T, evalEvery: 0, sampleEvery: 0, checkpointEvery: 0, lr: 1e-4 };
  const t = new Trainer({ backend: b, model: m, weights: W, train: textRows(tokens, T), config: cfg, padId: 50256 });
  const times: number[] = [];
  let last = performance.now();
  let loss = NaN;
  let deviceBytesPeak = 0;
  for await (const e of t.run()) {
    sampleRss();
    if (e.type === 'step') {
      deviceBytesPeak = Math.max(deviceBytesPeak, e.deviceMemory?.peakBytes ?? 0);
      const now = performance.now();
      if (e.step > 1) times.push(now - last); // step 1 includes session warm-up
      last = now;
      loss = e.loss;
    } else if (e.type === 'start') last = performance.now();
  }
  await t.release();
  const sec = times.reduce((x, y) => x + y, 0) / times.length / 1000;
  const tokensPerSec = (B * T) / sec;
  const params = countParams(gpt2Params(m.config));
  const estimateBytes = estimateMemory(m.config, B, T, m.lora).trainingBytes;
  return { label, stepSeconds: sec, tokensPerSec, gflops: (6 * params * tokensPerSec) / 1e9, loss, deviceBytesPeak, estimateBytes };
}

async function generation(b: Backend, m: ModelSpec) {
  const W = initGpt2(m.config, 1);
  const weights = weightFeeds(b, allParams(m), W);
  const gen = new Generator(b, m, () => weights, { eosId: -1, decode: () => '' }, { cache: 256, prefillChunk: 32 });
  const run = async (n: number) => {
    let r = 0;
    for await (const e of gen.stream(Array.from({ length: 32 }, (_, i) => 100 + i), { ...GREEDY, maxNewTokens: n })) if (e.type === 'done') r = e.tokensPerSecond;
    return r;
  };
  await run(4);
  const tps = await run(64);
  await gen.release();
  return tps;
}

const threads = a.threads ? { threads: Number(a.threads) } : {};
const cpu = a.backend === 'wasm' ? await createNodeWasmBackend(threads) : await createNodeBackend('node-cpu', threads);
const base: ModelSpec = { config: GPT2_124M };
const mm = await matmulBaseline(cpu);
// LoRA first: the WASM heap never shrinks, so the smaller run is measured before the larger one grows it
const lora = await train(cpu, { ...base, lora: { rank: 8, alpha: 16, targets: ['attn.c_attn'] } }, 'LoRA r=8 (attn.c_attn), AdamW');
const full = await train(cpu, base, 'full fine-tune, AdamW');
const gen = await generation(cpu, base);
clearInterval(timer);
const result = {
  machine: { backend: cpu.description, model: 'GPT-2 124M shape (random weights)', batch: B, seq: T, timedSteps: steps },
  matmulGflops: mm,
  train: [full, lora].map((r) => ({ ...r, gflopsPerMatmulPeak: r.gflops / mm })),
  generateTokensPerSec: gen,
  peakRssMiB: peakRss / 2 ** 20,
  pytorchReference: { tokensPerSec: 67, note: 'PyTorch eager + OpenBLAS, full fine-tune, same shape, this 2-core machine (issue 2)' },
};
if (a.json) console.log(JSON.stringify(result));
else {
  console.log(`${result.machine.model}, batch ${B} x ${T}, ${cpu.description}, mean of ${steps} steps after warm-up`);
  console.log(`matmul baseline (512x768x3072 Gemm): ${mm.toFixed(1)} GFLOP/s`);
  console.log('run                                 step s   tokens/s   GFLOP/s (6ND)   vs matmul   vs PyTorch 67 tok/s');
  for (const r of result.train) {
    console.log(`${r.label.padEnd(34)} ${r.stepSeconds.toFixed(2).padStart(7)} ${r.tokensPerSec.toFixed(1).padStart(10)} ${r.gflops.toFixed(1).padStart(15)} ${(r.gflopsPerMatmulPeak * 100).toFixed(0).padStart(10)}% ${(r.tokensPerSec / 67).toFixed(2).padStart(12)}x`);
  }
  console.log(`generation (KV cache, batch 1, 32-token prompt, 64 new): ${gen.toFixed(1)} tokens/s`);
  console.log(`peak RSS: ${result.peakRssMiB.toFixed(0)} MiB`);
  for (const r of result.train) console.log(`${r.label}: device memory measured ${(r.deviceBytesPeak / 2 ** 20).toFixed(0)} MiB (${cpu.memory?.kind}), estimated ${(r.estimateBytes / 2 ** 20).toFixed(0)} MiB`);
}
