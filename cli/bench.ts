// npm run bench -- [--shape gpt2-124m|smollm2-135m] [--json] [--steps N] [--threads N] [--backend node-cpu|wasm]
//   [--no-transformers-js] [--torch]
// Training throughput for the GPT-2 124M shape or SmolLM2-135M's (random weights, batch 4, sequence 128): full
// fine-tune with AdamW and the family's default LoRA, rank 8, on onnxruntime-node's CPU EP or onnxruntime-web's WASM build (the browser fallback's kernels);
// generation tokens/s with the KV cache (frozen weights as npm run chat and serve decode them, and the generator
// training samples replies with); peak memory, and the device memory each run measured (the process's RSS
// on the CPU EP, the heap on WASM) beside the studio's estimate. Reports achieved GFLOP/s as 6 x parameters x
// tokens / time, and a same-run matmul baseline for the ratio. Also: nodes per graph as the WebGPU backend builds
// them (artifacts/counts.ts), and generation against transformers.js running a package of the same weights (the
// export's ONNX with past key values, on onnxruntime-node's CPU EP), wall time of the whole call for a 32-token
// prompt and 64 new tokens, greedy. --torch: the same full fine-tune step in PyTorch eager (cli/bench_torch.py on
// Debian's python3-torch), measured in the same run, for the ratio.
import { parseArgs } from 'node:util';
import { Graph } from '../src/engine/onnx/graph.js';
import { serializeModel } from '../src/engine/onnx/proto.js';
import { allParams, type ModelSpec } from '../src/engine/artifacts/model.js';
import { textRows } from '../src/engine/data/rows.js';
import { BatchDecoder } from '../src/engine/generate/batch.js';
import { Generator } from '../src/engine/generate/generator.js';
import { GREEDY } from '../src/engine/generate/sampling.js';
import { countParams, GPT2_124M } from '../src/engine/models/gpt2.js';
import { initLora, initModel, type Weights } from '../src/engine/models/init.js';
import { isLlama, type ModelConfig } from '../src/engine/models/config.js';
import { SMOLLM2_135M_CONFIG } from '../src/engine/models/llama-config.js';
import { defaultLora } from '../src/engine/models/lora.js';
import { familyOf } from '../src/engine/models/family.js';
import { createNodeBackend, createNodeWasmBackend } from '../src/engine/runtime/node.js';
import { estimateMemory } from '../src/engine/models/memory.js';
import { weightFeeds } from '../src/engine/runtime/feeds.js';
import { DEFAULT_TRAIN, Trainer } from '../src/engine/train/trainer.js';
import type { Backend } from '../src/engine/runtime/backend.js';
import { graphNodes, graphOps } from '../src/engine/artifacts/counts.js';
import { execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { configJson, openTransformersJs } from './bench-tjs.js';
import { join } from 'node:path';

/** The shapes the bench runs, with random weights. */
const SHAPES: Record<string, { name: string; config: ModelConfig }> = {
  'gpt2-124m': { name: 'GPT-2 124M', config: GPT2_124M },
  'smollm2-135m': { name: 'SmolLM2-135M', config: SMOLLM2_135M_CONFIG },
};

const { values: a } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    steps: { type: 'string', default: '6' },
    threads: { type: 'string' },
    backend: { type: 'string', default: 'node-cpu' },
    shape: { type: 'string', default: 'gpt2-124m' },
    'no-transformers-js': { type: 'boolean', default: false },
    torch: { type: 'boolean', default: false },
  },
});
if (a.backend !== 'node-cpu' && a.backend !== 'wasm')
  throw new Error(`Unsupported backend "${a.backend}". Should be one of: node-cpu, wasm`);
if (!Object.hasOwn(SHAPES, a.shape))
  throw new Error(`Unknown shape "${a.shape}". Should be one of: ${Object.keys(SHAPES).join(', ')}`);
const shape = SHAPES[a.shape];
const family = familyOf(shape.config);
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
  const feeds = {
    a: b.upload(new Float32Array(B * T * 768).fill(0.01), [B * T, 768]),
    w: b.upload(new Float32Array(768 * 3072).fill(0.01), [768, 3072]),
  };
  for (let i = 0; i < 3; i++) await s.run(feeds);
  const n = 20;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await s.run(feeds);
  const sec = (performance.now() - t0) / 1000;
  await s.release();
  return (2 * B * T * 768 * 3072 * n) / sec / 1e9;
}

async function train(b: Backend, m: ModelSpec, label: string) {
  const W = { ...initModel(m.config, 1), ...(m.lora ? initLora(m.config, m.lora, 1) : {}) };
  const V = family.vocabSize(m.config);
  // ids inside the vocabulary (GPT-2's are the ones its figures were always measured on)
  const tokens = Array.from({ length: 40 * (T + 1) }, (_, i) => (i * 7919) % Math.min(50000, V));
  const cfg = {
    ...DEFAULT_TRAIN,
    steps: steps + 1,
    batch: B,
    seq: T,
    evalEvery: 0,
    sampleEvery: 0,
    checkpointEvery: 0,
    lr: 1e-4,
  };
  const t = new Trainer({ backend: b, model: m, weights: W, train: textRows(tokens, T), config: cfg, padId: V - 1 });
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
  const params = countParams(family.params(m.config));
  const estimateBytes = estimateMemory(m.config, B, T, m.lora).trainingBytes;
  return {
    label,
    stepSeconds: sec,
    tokensPerSec,
    gflops: (6 * params * tokensPerSec) / 1e9,
    loss,
    deviceBytesPeak,
    estimateBytes,
  };
}

const PROMPT = Array.from({ length: 32 }, (_, i) => 100 + 17 * i);
const NEW_TOKENS = 64;

const TIMED_CALLS = 3;

/** The best of TIMED_CALLS whole calls (prefill included) after a warm-up call of the same prompt and budget. */
async function bestOf(call: () => Promise<number[]>): Promise<{ tokensPerSec: number; tokens: number[] }> {
  await call(); // builds the sessions of this call's shapes (the generator's depend on the cache length)
  let best = { tokensPerSec: 0, tokens: [] as number[] };
  for (let i = 0; i < TIMED_CALLS; i++) {
    const t0 = performance.now();
    const tokens = await call();
    const tokensPerSec = NEW_TOKENS / ((performance.now() - t0) / 1000);
    if (tokensPerSec > best.tokensPerSec) best = { tokensPerSec, tokens };
  }
  return best;
}

const NO_TEXT = { eosId: -1, decode: () => '' };
const CALL = { ...GREEDY, maxNewTokens: NEW_TOKENS };

/** The best of TIMED_CALLS of a decoder's whole calls (its events end with 'done' and the tokens); then released. */
async function decoding(
  d: { release(): Promise<void> },
  events: () => AsyncIterable<{ type: string; tokens?: number[] }>,
) {
  try {
    return await bestOf(async () => {
      for await (const e of events()) if (e.type === 'done') return e.tokens ?? [];
      return [];
    });
  } finally {
    await d.release();
  }
}

/** The studio's generator, as training's sample replies and the chat page run it: weights as graph inputs. */
function generation(b: Backend, m: ModelSpec, W: Record<string, Float32Array>) {
  const weights = weightFeeds(b, allParams(m), W);
  const gen = new Generator(b, m, () => weights, NO_TEXT, { cache: 256, prefillChunk: 32 });
  return decoding(gen, () => gen.stream(PROMPT, CALL));
}

/** Frozen weights as npm run chat and npm run serve decode them (generate/batch.ts, one stream). */
function frozenGeneration(b: Backend, m: ModelSpec, W: Record<string, Float32Array>) {
  const dec = new BatchDecoder(b, m, W, NO_TEXT, { maxBatch: 1, context: 256, prefillChunk: 32 });
  return decoding(dec, () => dec.generate(PROMPT, CALL));
}

/** transformers.js on a package of the same weights, same prompt and budget: the whole call's tokens/s. */
async function transformersJs(c: ModelConfig, W: Weights) {
  const tjs = await openTransformersJs(c, W);
  try {
    return await bestOf(async () => (await tjs.generate(PROMPT, NEW_TOKENS)).tokens);
  } finally {
    await tjs.dispose();
  }
}

/** PyTorch eager on the same shape, in its own process: the same full fine-tune step's tokens/s. */
function pytorchEager(c: ModelConfig, threads: number) {
  const script = join(import.meta.dirname, 'bench_torch.py');
  const args = [JSON.stringify(configJson(c)), '--steps', String(steps), '--batch', String(B), '--seq', String(T)];
  const out = execFileSync('/usr/bin/python3', [script, ...args, '--threads', String(threads)], { encoding: 'utf8' });
  const r = JSON.parse(out.trim().split('\n').pop()!) as {
    tokensPerSec: number;
    threads: number;
    params: number;
    torch: string;
    openblasCoretype: string | null;
  };
  const params = countParams(family.params(c));
  if (r.params !== params) throw new Error(`bench_torch.py built ${r.params} parameters, the studio's model ${params}`);
  return {
    tokensPerSec: r.tokensPerSec,
    note: `PyTorch ${r.torch} eager + OpenBLAS (${r.openblasCoretype ?? 'detected'} kernels), full fine-tune, same shape, ${r.threads} threads, measured in this run`,
  };
}

const threads = a.threads ? { threads: Number(a.threads) } : {};
const cpu = a.backend === 'wasm' ? await createNodeWasmBackend(threads) : await createNodeBackend('node-cpu', threads);
const base: ModelSpec = { config: shape.config };
const mm = await matmulBaseline(cpu);
// before the studio's runs, so that their peak RSS is theirs alone (the reference runs in its own process)
const torch = a.torch ? pytorchEager(base.config, threads.threads ?? availableParallelism()) : null;
// GPT-2's figures predate a measured reference: the one of issue 2
const pytorch =
  torch ??
  (isLlama(base.config)
    ? null
    : {
        tokensPerSec: 67,
        note: 'PyTorch eager + OpenBLAS, full fine-tune, same shape, this 2-core machine (issue 2)',
      });
// LoRA first: the WASM heap never shrinks, so the smaller run is measured before the larger one grows it
const loraCfg = defaultLora(base.config);
const lora = await train(
  cpu,
  { ...base, lora: loraCfg },
  `LoRA r=${loraCfg.rank} (${loraCfg.targets.join(', ')}), AdamW`,
);
const full = await train(cpu, base, 'full fine-tune, AdamW');
const genWeights = initModel(base.config, 1);
const ours = await generation(cpu, base, genWeights);
const frozen = await frozenGeneration(cpu, base, genWeights);
const gen = frozen.tokensPerSec;
const tjs = a['no-transformers-js'] ? null : await transformersJs(base.config, genWeights);
const nodes = graphNodes(base.config, B, T);
clearInterval(timer);
const result = {
  machine: {
    backend: cpu.description,
    model: `${shape.name} shape (random weights)`,
    batch: B,
    seq: T,
    timedSteps: steps,
  },
  matmulGflops: mm,
  train: [full, lora].map((r) => ({ ...r, gflopsPerMatmulPeak: r.gflops / mm })),
  /** Frozen weights (npm run chat, npm run serve); the generator's, as training samples replies, beside it. */
  generateTokensPerSec: gen,
  generatorTokensPerSec: ours.tokensPerSec,
  generatorSameTokens: ours.tokens.join() === frozen.tokens.join(),
  ...(tjs
    ? {
        transformersJsTokensPerSec: tjs.tokensPerSec,
        transformersJsSameTokens: tjs.tokens.join() === frozen.tokens.join(),
        transformersJsRatio: gen / tjs.tokensPerSec,
      }
    : {}),
  graphNodes: nodes,
  graphOps: graphOps(base.config, B, T),
  peakRssMiB: peakRss / 2 ** 20,
  pytorchReference: pytorch && {
    ...pytorch,
    ...(torch ? { fullFineTuneRatio: full.tokensPerSec / torch.tokensPerSec } : {}),
  },
};
if (a.json) console.log(JSON.stringify(result));
else {
  console.log(`${result.machine.model}, batch ${B} x ${T}, ${cpu.description}, mean of ${steps} steps after warm-up`);
  console.log(`matmul baseline (512x768x3072 Gemm): ${mm.toFixed(1)} GFLOP/s`);
  const ref = pytorch ? ` vs PyTorch ${pytorch.tokensPerSec.toFixed(0)} tok/s` : '';
  console.log(`run                                 step s   tokens/s   GFLOP/s (6ND)   vs matmul  ${ref}`);
  for (const r of result.train) {
    const vs = pytorch ? `${(r.tokensPerSec / pytorch.tokensPerSec).toFixed(2).padStart(12)}x` : '';
    console.log(
      `${r.label.padEnd(34)} ${r.stepSeconds.toFixed(2).padStart(7)} ${r.tokensPerSec.toFixed(1).padStart(10)} ${r.gflops.toFixed(1).padStart(15)} ${(r.gflopsPerMatmulPeak * 100).toFixed(0).padStart(10)}% ${vs}`,
    );
  }
  if (pytorch) console.log(`PyTorch reference: ${pytorch.tokensPerSec.toFixed(1)} tokens/s (${pytorch.note})`);
  console.log(`generation, batch 1, 32-token prompt, 64 new, whole call, best of ${TIMED_CALLS} after a warm-up:`);
  console.log(`  frozen weights (npm run chat / serve): ${gen.toFixed(1)} tokens/s`);
  console.log(
    `  the generator (training's samples): ${ours.tokensPerSec.toFixed(1)} tokens/s (${(ours.tokensPerSec / gen).toFixed(2)}x; same greedy tokens: ${result.generatorSameTokens})`,
  );
  if (tjs)
    console.log(
      `  transformers.js, same weights and prompt: ${tjs.tokensPerSec.toFixed(1)} tokens/s (frozen ${(gen / tjs.tokensPerSec).toFixed(2)}x, generator ${(ours.tokensPerSec / tjs.tokensPerSec).toFixed(2)}x; same greedy tokens: ${result.transformersJsSameTokens})`,
    );
  console.log(
    `nodes per graph (WebGPU build): train step full ${nodes.trainStepFull}, LoRA ${nodes.trainStepLora}; one generated token ${nodes.generateToken}`,
  );
  console.log(`peak RSS: ${result.peakRssMiB.toFixed(0)} MiB`);
  for (const r of result.train)
    console.log(
      `${r.label}: device memory measured ${(r.deviceBytesPeak / 2 ** 20).toFixed(0)} MiB (${cpu.memory?.kind}), estimated ${(r.estimateBytes / 2 ** 20).toFixed(0)} MiB`,
    );
}
