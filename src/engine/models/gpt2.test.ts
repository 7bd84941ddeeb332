// GPT-2 and LoRA graphs against references: logits against an independent TypeScript forward pass, and the
// gradient of every parameter tensor against central finite differences of the eval graph's loss.
import { beforeAll, describe, expect, it } from 'vitest';
import { buildEvalGraph, buildGenerateGraph, buildTrainGraph } from '../artifacts/build.js';
import { allParams, gradName, pastName, presentName, trainableParams, type ModelSpec } from '../artifacts/model.js';
import { createNodeBackend } from '../runtime/node.js';
import type { Backend } from '../runtime/backend.js';
import { batchFeeds, weightFeeds, type Batch } from '../runtime/feeds.js';
import { Rng } from '../util/rng.js';
import { initGpt2, initLora, TINY_GPT2, type Weights } from './init.js';
import { referenceLogits } from './gpt2.reference.js';
import type { LoraConfig } from './lora.js';
import type { GraphOptions } from '../onnx/graph.js';

let cpu: Backend;
beforeAll(async () => {
  cpu = await createNodeBackend('node-cpu');
});

const cfg = TINY_GPT2; // 2 layers, 4 heads, 64 dims, GPT-2's 50257-token vocabulary
function randomBatch(seed: number, batch: number, seq: number): Batch {
  const r = new Rng(seed);
  const n = batch * seq;
  return {
    batch,
    seq,
    ids: Int32Array.from({ length: n }, () => Math.floor(r.next() * cfg.vocab_size)),
    labels: Int32Array.from({ length: n }, () => Math.floor(r.next() * cfg.vocab_size)),
    mask: Float32Array.from({ length: n }, (_, i) => (i % 5 === 0 ? 0 : 1)),
  };
}
/** Larger-than-init weights so that every path carries signal (init's tiny c_proj would hide errors). */
function testWeights(seed: number): Weights {
  const W = initGpt2(cfg, seed);
  const r = new Rng(seed + 1);
  for (const [k, v] of Object.entries(W))
    if (!k.includes('wte')) for (let i = 0; i < v.length; i++) v[i] += 0.1 * r.normal();
  return W;
}

/** The weights of `m`: testWeights(seed), with adapters under LoRA whose B is drawn from `r` (so A's gradient is non-zero). */
function modelWeights(m: ModelSpec, seed: number, r: Rng): Weights {
  const W = { ...testWeights(seed), ...(m.lora ? initLora(cfg, m.lora, seed) : {}) };
  for (const k of Object.keys(W)) if (k.endsWith('lora_B.weight')) W[k] = W[k].map(() => 0.05 * r.normal());
  return W;
}

const norm = (a: Float32Array) => {
  let s = 0;
  for (const v of a) s += v * v;
  return Math.sqrt(s);
};

async function evalLoss(m: ModelSpec, W: Weights, b: Batch, session: Awaited<ReturnType<Backend['createSession']>>) {
  const out = await session.run({ ...weightFeeds(cpu, allParams(m), W), ...batchFeeds(cpu, b) });
  return (out.loss.data as Float32Array)[0];
}

async function checkAllGradients(m: ModelSpec, W: Weights) {
  const b = randomBatch(3, 2, 8);
  const train = await cpu.createSession(buildTrainGraph(m, b));
  const evalS = await cpu.createSession(buildEvalGraph(m, b));
  const out = await train.run({ ...weightFeeds(cpu, allParams(m), W), ...batchFeeds(cpu, b) });
  const rng = new Rng(11);
  const report: string[] = [];
  for (const p of trainableParams(m)) {
    const g = out[gradName(p.name)].data as Float32Array;
    // Direction u on 8 sampled coordinates, plus the direction of the analytic gradient itself.
    const n = g.length;
    const sampled = new Float32Array(n);
    for (let k = 0; k < 8; k++) sampled[Math.floor(rng.next() * n)] = rng.normal();
    const gnorm = norm(g) || 1;
    for (const [label, u] of [
      ['sampled', sampled],
      ['along grad', g.map((v) => v / gnorm)],
    ] as const) {
      const un = norm(u) || 1;
      const eps = 1e-2 / un;
      const shifted = (s: number) => ({ ...W, [p.name]: W[p.name].map((v, i) => v + s * eps * u[i]) });
      const fd = ((await evalLoss(m, shifted(1), b, evalS)) - (await evalLoss(m, shifted(-1), b, evalS))) / (2 * eps);
      const an = u.reduce((s, v, i) => s + v * g[i], 0);
      const err = Math.abs(fd - an);
      report.push(
        `${p.name} (${label}): analytic ${an.toExponential(3)} fd ${fd.toExponential(3)} err ${err.toExponential(2)}`,
      );
      expect(err, report.at(-1)).toBeLessThan(2e-3 * un + 0.02 * Math.abs(an));
    }
  }
  await train.release();
  await evalS.release();
  return report;
}

describe('GPT-2 graph', () => {
  it('gives the logits of an independent TypeScript GPT-2 on the same weights', async () => {
    const W = testWeights(5);
    const b = randomBatch(7, 2, 6);
    const s = await cpu.createSession(buildEvalGraph({ config: cfg }, b, { logits: true }));
    const out = await s.run({ ...weightFeeds(cpu, allParams({ config: cfg }), W), ...batchFeeds(cpu, b) });
    const logits = out.logits.data as Float32Array;
    let maxDiff = 0;
    for (let r = 0; r < b.batch; r++) {
      const ref = referenceLogits(cfg, W, Array.from(b.ids.subarray(r * b.seq, (r + 1) * b.seq)));
      ref.forEach((row, t) =>
        row.forEach(
          (v, k) => (maxDiff = Math.max(maxDiff, Math.abs(v - logits[(r * b.seq + t) * cfg.vocab_size + k]))),
        ),
      );
    }
    expect(maxDiff).toBeLessThan(1e-4);
    await s.release();
  });

  it('has correct gradients for every parameter tensor (full fine-tune)', async () => {
    const report = await checkAllGradients({ config: cfg }, testWeights(9));
    expect(report.length).toBe(2 * (4 + 12 * cfg.n_layer));
  });
});

describe('embedding gradient', () => {
  it('is the same through ScatterND add (CPU EP) as through the one-hot Gemm, (N, V) or (V, N) (WebGPU EP)', async () => {
    const m: ModelSpec = { config: cfg };
    const b = randomBatch(4, 2, 8);
    b.ids[3] = b.ids[5]; // a repeated token: its rows must add up
    const W = testWeights(2);
    const grad = async (target: GraphOptions) => {
      const s = await cpu.createSession(buildTrainGraph(m, b, { target }));
      const out = await s.run({ ...weightFeeds(cpu, allParams(m), W), ...batchFeeds(cpu, b) });
      await s.release();
      return out[gradName('transformer.wte.weight')].data as Float32Array;
    };
    const a = await grad({ scatterAdd: true });
    for (const target of [{}, { vocabMajor: true }]) {
      const c = await grad(target);
      let d = 0;
      for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - c[i]));
      expect(d, JSON.stringify(target)).toBeLessThan(1e-6);
    }
    expect(buildTrainGraph(m, b, { target: { scatterAdd: true } }).bytes.length).toBeLessThan(1e6); // zeros are made at run time, not stored
  });
});

describe('LoRA', () => {
  const lora: LoraConfig = { rank: 4, alpha: 8, targets: ['attn.c_attn', 'attn.c_proj', 'mlp.c_fc', 'mlp.c_proj'] };
  it('starts equal to the base model (B is zero)', async () => {
    const b = randomBatch(2, 1, 8);
    const W = testWeights(1);
    const base = await cpu.createSession(buildEvalGraph({ config: cfg }, b));
    const adapted = await cpu.createSession(buildEvalGraph({ config: cfg, lora }, b));
    const l0 = await evalLoss({ config: cfg }, W, b, base);
    const l1 = await evalLoss({ config: cfg, lora }, { ...W, ...initLora(cfg, lora, 3) }, b, adapted);
    expect(l1).toBe(l0);
  });
  it('has correct gradients for every adapter tensor, base weights frozen', async () => {
    const W = modelWeights({ config: cfg, lora }, 4, new Rng(8));
    const train = buildTrainGraph({ config: cfg, lora }, { batch: 1, seq: 4 });
    expect(train.outputs.filter((o) => o.endsWith('_grad')).every((o) => o.includes('lora_'))).toBe(true);
    const report = await checkAllGradients({ config: cfg, lora }, W);
    expect(report.length).toBe(2 * 2 * 4 * cfg.n_layer);
  });
});

describe('the WebGPU target (attention over (B, T, H, D) heads, LayerNorm and GELU backward in Einsum, (V, N) logits in the loss)', () => {
  const lora: LoraConfig = { rank: 4, alpha: 8, targets: ['attn.c_attn', 'mlp.c_fc'] };
  it.each([
    ['full fine-tune', { config: cfg }],
    ['LoRA', { config: cfg, lora }],
  ] as [string, ModelSpec][])(
    "gives the default graph's loss, logits and gradients on the CPU EP (%s)",
    async (_label, m) => {
      const b = randomBatch(6, 2, 8);
      const W = modelWeights(m, 3, new Rng(12));
      const run = async (gpu: boolean) => {
        const target = { einsum: gpu, vocabMajor: gpu };
        const train = await cpu.createSession(buildTrainGraph(m, b, { target }));
        const evalS = await cpu.createSession(buildEvalGraph(m, b, { logits: true, target }));
        const feeds = { ...weightFeeds(cpu, allParams(m), W), ...batchFeeds(cpu, b) };
        const [t, e] = [await train.run(feeds), await evalS.run(feeds)];
        await train.release();
        await evalS.release();
        return { t, e };
      };
      const [a, c] = [await run(false), await run(true)];
      expect(buildTrainGraph(m, b, { target: { einsum: true } }).bytes.length).toBeGreaterThan(0);
      const close = (x: Float32Array, y: Float32Array, what: string) => {
        let scale = 0;
        let diff = 0;
        for (let i = 0; i < x.length; i++) {
          scale = Math.max(scale, Math.abs(x[i]));
          diff = Math.max(diff, Math.abs(x[i] - y[i]));
        }
        expect(diff, `${what}: ${diff} against a largest value ${scale}`).toBeLessThan(1e-5 * Math.max(scale, 1e-3));
      };
      close(a.t.loss.data as Float32Array, c.t.loss.data as Float32Array, 'loss');
      close(a.e.logits.data as Float32Array, c.e.logits.data as Float32Array, 'logits');
      for (const p of trainableParams(m))
        close(a.t[gradName(p.name)].data as Float32Array, c.t[gradName(p.name)].data as Float32Array, p.name);
    },
  );
});

describe('a generated token on the WebGPU target (linear layers, attention and the head as Einsum GEMVs)', () => {
  const lora: LoraConfig = { rank: 4, alpha: 8, targets: ['attn.c_attn', 'mlp.c_proj'] };
  it.each([
    ['base model', { config: cfg }],
    ['LoRA', { config: cfg, lora }],
  ] as [string, ModelSpec][])("gives the default graph's logits and cache on the CPU EP (%s)", async (_label, m) => {
    const r = new Rng(13);
    const W = modelWeights(m, 8, r);
    const L = 16;
    const dims = [1, cfg.n_head, L, cfg.n_embd / cfg.n_head];
    const past = Array.from({ length: 2 * cfg.n_layer }, () =>
      Float32Array.from({ length: dims.reduce((a, b) => a * b) }, () => r.normal()),
    );
    const T = cpu.ort.Tensor;
    const run = async (einsum: boolean) => {
      const s = await cpu.createSession(buildGenerateGraph(m, { step: 1, cache: L }, { einsum }));
      const out = await s.run({
        ...weightFeeds(cpu, allParams(m), W),
        input_ids: new T('int32', Int32Array.of(11), [1, 1]),
        position: new T('int32', Int32Array.of(6), [1]),
        last_index: new T('int32', Int32Array.of(0), [1]),
        ...Object.fromEntries(
          past.map((d, i) => [pastName(i >> 1, i % 2 ? 'value' : 'key'), new T('float32', d, dims)]),
        ),
      });
      await s.release();
      return { logits: out.logits.data as Float32Array, value: out[presentName(1, 'value')].data as Float32Array };
    };
    const [a, b] = [await run(false), await run(true)];
    let d = 0;
    let scale = 0;
    for (let i = 0; i < a.logits.length; i++) {
      d = Math.max(d, Math.abs(a.logits[i] - b.logits[i]));
      scale = Math.max(scale, Math.abs(a.logits[i]));
    }
    expect(d).toBeLessThan(1e-5 * scale);
    let dv = 0;
    for (let i = 0; i < a.value.length; i++) dv = Math.max(dv, Math.abs(a.value[i] - b.value[i]));
    expect(dv).toBeLessThan(1e-5);
  });
});
