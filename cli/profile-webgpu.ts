// npm run profile:webgpu -- [--shape tiny|gpt2] [--batch N] [--seq N] [--json] [--no-einsum] [--kernels N]
// Where a WebGPU step and a WebGPU token spend their time, per op type: onnxruntime's own profiler on
// onnxruntime-node's WebGPU EP (the same kernels as onnxruntime-web's, on Dawn: SwiftShader on a machine without a
// GPU, which needs VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json LD_LIBRARY_PATH=/usr/lib/chromium;
// Vulkan on one with a GPU). onnxruntime-web 1.30's native WebGPU EP reports no kernel timings in the browser, so
// this is the per-op view; the GPU time per kernel comes from WebGPU timestamp queries ("Api" events).
// Profiled: one LoRA train step (rank 8 on attn.c_attn, batch 1 x 32 unless --batch/--seq) and one generated token (cache 128), each
// run once to compile and once profiled. (node's WebGPU EP uploads every input per run; that is not in the kernels.)
// --kernels N also lists the N costliest kernel signatures (op and input/output shapes as the kernel saw them, in
// its vector components: a last dimension of 192 for 768 means vec4 loads), which is how one scalar Gemm over the
// vocabulary was found to take 10 s of a 23-42 s step.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { adamwScalars, buildGenerateGraph, buildTrainStepGraph, DEFAULT_ADAMW } from '../src/engine/artifacts/build.js';
import { flatLayout, packGroup } from '../src/engine/artifacts/flat.js';
import {
  allParams,
  expAvgName,
  expAvgSqName,
  trainableParams,
  type BuiltGraph,
  type ModelSpec,
} from '../src/engine/artifacts/model.js';
import { GPT2_124M } from '../src/engine/models/gpt2.js';
import { initGpt2, initLora, TINY_GPT2 } from '../src/engine/models/init.js';
import { defaultLora } from '../src/engine/models/lora.js';
import { createNodeBackend } from '../src/engine/runtime/node.js';
import { batchFeeds, emptyCacheFeeds, weightFeeds } from '../src/engine/runtime/feeds.js';
import type { Backend } from '../src/engine/runtime/backend.js';
import type { Tensor } from 'onnxruntime-common';

const { values: a } = parseArgs({
  options: {
    shape: { type: 'string', default: 'gpt2' },
    batch: { type: 'string', default: '1' },
    seq: { type: 'string', default: '32' },
    json: { type: 'boolean', default: false },
    'no-einsum': { type: 'boolean', default: false },
    kernels: { type: 'string', default: '0' },
  },
});
const config = a.shape === 'tiny' ? TINY_GPT2 : GPT2_124M;
const b = await createNodeBackend('node-webgpu', { einsum: !a['no-einsum'] }); // --no-einsum: MatMul, Gemm and Transposes, for an A/B

interface Event {
  cat: string;
  name: string;
  dur: number;
  args: { op_name?: string; shapes?: string };
}
/** Runs `g` twice (the second profiled) and sums kernel GPU time (Api events) and CPU time (Node events) by op. */
async function profile(b: Backend, g: BuiltGraph, feeds: Record<string, Tensor>) {
  const dir = mkdtempSync(join(tmpdir(), 'ort-profile-'));
  try {
    const warm = await b.createSession(g);
    await warm.run(feeds);
    await warm.release();
    const s = await b.createSession(g, { profilePrefix: join(dir, 'p') });
    const t0 = performance.now();
    await s.run(feeds);
    const wallMs = performance.now() - t0;
    await s.release();
    const events = JSON.parse(readFileSync(join(dir, readdirSync(dir)[0]), 'utf8')) as Event[];
    const ops = new Map<string, { count: number; gpuMs: number; cpuMs: number }>();
    const at = (op: string) => ops.get(op) ?? ops.set(op, { count: 0, gpuMs: 0, cpuMs: 0 }).get(op)!;
    const sigs = new Map<string, { count: number; gpuMs: number }>();
    for (const e of events) {
      if (e.cat === 'Api') {
        const op = e.name.split('&')[1] ?? e.name;
        const o = at(op);
        o.gpuMs += e.dur / 1000;
        o.count++;
        const key = `${op} ${(e.args.shapes ?? '').trim()}`;
        const sig = sigs.get(key) ?? sigs.set(key, { count: 0, gpuMs: 0 }).get(key)!;
        sig.gpuMs += e.dur / 1000;
        sig.count++;
      } else if (e.cat === 'Node' && e.name.endsWith('_kernel_time')) at(e.args.op_name ?? '?').cpuMs += e.dur / 1000;
    }
    const rows = [...ops].map(([op, v]) => ({ op, ...v })).sort((x, y) => y.gpuMs - x.gpuMs);
    const kernels = [...sigs]
      .map(([kernel, v]) => ({ kernel, ...v }))
      .sort((x, y) => y.gpuMs - x.gpuMs)
      .slice(0, Number(a.kernels));
    return {
      wallMs,
      gpuMs: rows.reduce((n, r) => n + r.gpuMs, 0),
      dispatches: rows.reduce((n, r) => n + r.count, 0),
      ops: rows,
      kernels,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const m: ModelSpec = { config, lora: defaultLora(config) };
const W = { ...initGpt2(config, 1), ...initLora(config, m.lora!, 1) };
const specs = trainableParams(m);
const layout = flatLayout(specs, { packed: true });
const T = b.ort.Tensor;
const scalar = (x: number) => new T('float32', Float32Array.of(x), []);
const groups = (f: (n: string) => Float32Array) =>
  Object.fromEntries(layout.groups.map((grp) => [grp.name, b.upload(packGroup(grp, f), grp.shape)]));
const [B, S] = [Number(a.batch), Number(a.seq)];
const step = await profile(b, buildTrainStepGraph(m, { batch: B, seq: S }, DEFAULT_ADAMW, b.target, layout), {
  ...weightFeeds(
    b,
    allParams(m).filter((p) => !specs.includes(p)),
    W,
  ),
  ...groups((n) => W[n]),
  ...Object.fromEntries(
    layout.groups.flatMap((grp) => [
      [expAvgName(grp.name), b.zeros(grp.shape)],
      [expAvgSqName(grp.name), b.zeros(grp.shape)],
    ]),
  ),
  ...Object.fromEntries(Object.entries(adamwScalars(DEFAULT_ADAMW, 1e-4, 1, 1)).map(([k, x]) => [k, scalar(x)])),
  ...batchFeeds(b, {
    batch: B,
    seq: S,
    ids: Int32Array.from({ length: B * S }, (_, i) => i + 1),
    labels: Int32Array.from({ length: B * S }, (_, i) => i + 2),
    mask: new Float32Array(B * S).fill(1),
  }),
});
const L = 128;
const base: ModelSpec = { config };
const token = await profile(b, buildGenerateGraph(base, { step: 1, cache: L }, b.target), {
  ...weightFeeds(b, allParams(base), W),
  input_ids: new T('int32', Int32Array.of(5), [1, 1]),
  position: new T('int32', Int32Array.of(40), [1]),
  last_index: new T('int32', Int32Array.of(0), [1]),
  ...emptyCacheFeeds(b, config, L),
});
const result = {
  shape: a.shape,
  backend: b.description,
  loraStep: { batch: B, seq: S, ...step },
  generateToken: { cache: L, ...token },
};
if (a.json) console.log(JSON.stringify(result));
else {
  for (const [label, r] of [
    [`LoRA train step, batch ${B} x ${S}`, step],
    [`one generated token, cache ${L}`, token],
  ] as const) {
    console.log(
      `${label}: ${r.dispatches} kernels, ${r.gpuMs.toFixed(1)} ms of GPU time (run ${r.wallMs.toFixed(0)} ms with the uploads)`,
    );
    for (const o of r.ops.slice(0, 12))
      console.log(
        `  ${o.op.padEnd(28)} ${String(o.count).padStart(5)} x  ${o.gpuMs.toFixed(1).padStart(9)} ms GPU  ${((100 * o.gpuMs) / r.gpuMs).toFixed(1).padStart(5)} %`,
      );
    if (r.kernels.length) console.log('  costliest kernels (op, shapes in vector components):');
    for (const k of r.kernels)
      console.log(`  ${String(k.count).padStart(5)} x ${k.gpuMs.toFixed(1).padStart(9)} ms  ${k.kernel}`);
  }
}
