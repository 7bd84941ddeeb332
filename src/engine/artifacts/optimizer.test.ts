// The AdamW graph against a float64 transcription of torch.optim.AdamW (single-tensor path, amsgrad off) preceded
// by torch.nn.utils.clip_grad_norm_, over several steps with changing learning rates and gradients.
import { describe, expect, it } from 'vitest';
import { adamwScalars, buildOptimizerGraph, buildUnpackGraph, DEFAULT_ADAMW, type AdamWConfig } from './build.js';
import { flatLayout, packGroup } from './flat.js';
import { expAvgName, expAvgSqName, gradName, updatedName } from './model.js';
import type { ParamSpec } from '../models/gpt2.js';
import { createNodeBackend } from '../runtime/node.js';
import { Rng } from '../util/rng.js';

const scalarFeeds = <T>(
  Ctor: new (type: 'float32', data: Float32Array, dims: number[]) => T,
  xs: Record<string, number>,
) => Object.fromEntries(Object.entries(xs).map(([k, x]) => [k, new Ctor('float32', Float32Array.of(x), [])]));

function torchAdamW(
  p: Float64Array[],
  grads: Float64Array[],
  m: Float64Array[],
  v: Float64Array[],
  decay: boolean[],
  lr: number,
  step: number,
  hp: AdamWConfig,
) {
  // clip_grad_norm_(max_norm): total_norm over all grads; clip_coef = max_norm / (total_norm + 1e-6), clamped to 1
  const total = Math.sqrt(grads.reduce((s, g) => s + g.reduce((a, x) => a + x * x, 0), 0));
  const coef = Math.min(1, hp.maxGradNorm / (total + 1e-6));
  p.forEach((param, k) => {
    const g = grads[k].map((x) => x * coef);
    const wd = decay[k] ? hp.weightDecay : 0;
    for (let i = 0; i < param.length; i++) {
      param[i] *= 1 - lr * wd;
      m[k][i] += (g[i] - m[k][i]) * (1 - hp.beta1); // exp_avg.lerp_(grad, 1 - beta1)
      v[k][i] = v[k][i] * hp.beta2 + (1 - hp.beta2) * g[i] * g[i];
      const bc1 = 1 - hp.beta1 ** step;
      const bc2 = 1 - hp.beta2 ** step;
      const denom = Math.sqrt(v[k][i]) / Math.sqrt(bc2) + hp.eps;
      param[i] -= (lr / bc1) * (m[k][i] / denom);
    }
  });
  return total;
}

describe('AdamW graph', () => {
  it('matches torch.optim.AdamW with clip_grad_norm_ over six steps', async () => {
    const cpu = await createNodeBackend('node-cpu', { threads: 1 });
    const hp: AdamWConfig = { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, maxGradNorm: 1.0 };
    const specs: ParamSpec[] = [
      { name: 'w', shape: [3, 4], decay: true },
      { name: 'b', shape: [4], decay: false },
      { name: 'ln.weight', shape: [5], decay: false },
    ];
    const s = await cpu.createSession(buildOptimizerGraph(specs, hp));
    const rng = new Rng(3);
    const init = specs.map((sp) =>
      Float64Array.from({ length: sp.shape.reduce((a, b) => a * b, 1) }, () => rng.normal()),
    );
    const ref = {
      p: init.map((a) => a.slice()),
      m: init.map((a) => new Float64Array(a.length)),
      v: init.map((a) => new Float64Array(a.length)),
    };
    let cur: Record<'p' | 'm' | 'v', Float32Array[]> = {
      p: init.map((a) => Float32Array.from(a)),
      m: init.map((a) => new Float32Array(a.length)),
      v: init.map((a) => new Float32Array(a.length)),
    };
    const T = cpu.ort.Tensor;
    let clipped = 0;
    for (let step = 1; step <= 6; step++) {
      const lr = 1e-2 * (1 + step / 3);
      const scale = step % 2 ? 0.05 : 3; // small steps (no clip) and large ones (clipped)
      const gradScale = step === 4 ? 0.5 : 1; // as with 2 accumulated micro-batches
      const grads = init.map((a) => Float64Array.from(a, () => scale * rng.normal()));
      const feeds: Record<string, InstanceType<typeof T>> = scalarFeeds(T, adamwScalars(hp, lr, step, gradScale));
      specs.forEach((sp, k) => {
        feeds[sp.name] = new T('float32', cur.p[k], sp.shape);
        feeds[gradName(sp.name)] = new T('float32', Float32Array.from(grads[k]), sp.shape);
        feeds[expAvgName(sp.name)] = new T('float32', cur.m[k], sp.shape);
        feeds[expAvgSqName(sp.name)] = new T('float32', cur.v[k], sp.shape);
      });
      const out = await s.run(feeds);
      const total = torchAdamW(
        ref.p,
        grads.map((g) => g.map((x) => x * gradScale)),
        ref.m,
        ref.v,
        specs.map((sp) => sp.decay),
        lr,
        step,
        hp,
      );
      if (total > hp.maxGradNorm) clipped++;
      expect((out.grad_norm.data as Float32Array)[0]).toBeCloseTo(total, 4);
      cur = {
        p: specs.map((sp) => out[updatedName(sp.name)].data as Float32Array),
        m: specs.map((sp) => out[updatedName(expAvgName(sp.name))].data as Float32Array),
        v: specs.map((sp) => out[updatedName(expAvgSqName(sp.name))].data as Float32Array),
      };
      specs.forEach((_, k) => {
        for (let i = 0; i < ref.p[k].length; i++) {
          expect(Math.abs(cur.p[k][i] - ref.p[k][i])).toBeLessThan(1e-5 * (1 + Math.abs(ref.p[k][i])));
          expect(Math.abs(cur.m[k][i] - ref.m[k][i])).toBeLessThan(1e-5 * (1 + Math.abs(ref.m[k][i])));
        }
      });
    }
    expect(clipped).toBeGreaterThan(0);
    expect(clipped).toBeLessThan(6);
    await s.release();
  });
});

describe('fused train step', () => {
  it('equals the train graph followed by the optimizer graph (full and LoRA)', async () => {
    const { buildTrainGraph, buildTrainStepGraph } = await import('./build.js');
    const { allParams, trainableParams } = await import('./model.js');
    const { initGpt2, initLora, TINY_GPT2 } = await import('../models/init.js');
    const { weightFeeds, batchFeeds } = await import('../runtime/feeds.js');
    const cpu = await createNodeBackend('node-cpu');
    const T = cpu.ort.Tensor;
    for (const lora of [undefined, { rank: 2, alpha: 4, targets: ['mlp.c_fc'] as const }]) {
      const m = { config: { ...TINY_GPT2, n_positions: 16 }, lora };
      const W = { ...initGpt2(m.config, 1), ...(lora ? initLora(m.config, lora, 1) : {}) };
      const b = {
        batch: 2,
        seq: 4,
        ids: Int32Array.of(1, 2, 3, 4, 5, 6, 7, 8),
        labels: Int32Array.of(2, 3, 4, 5, 6, 7, 8, 9),
        mask: Float32Array.of(0, 1, 1, 1, 1, 1, 0, 1),
      };
      const specs = trainableParams(m);
      const scal = scalarFeeds(T, adamwScalars(DEFAULT_ADAMW, 1e-2, 3, 1));
      const moments = Object.fromEntries(
        specs.flatMap((p) => [
          [expAvgName(p.name), cpu.upload(new Float32Array(W[p.name].length).fill(1e-3), p.shape)],
          [expAvgSqName(p.name), cpu.upload(new Float32Array(W[p.name].length).fill(1e-4), p.shape)],
        ]),
      );
      const base = { ...weightFeeds(cpu, allParams(m), W), ...batchFeeds(cpu, b) };
      const grads = await (await cpu.createSession(buildTrainGraph(m, b))).run(base);
      const opt = await (
        await cpu.createSession(buildOptimizerGraph(specs))
      ).run({
        ...scal,
        ...moments,
        ...Object.fromEntries(
          specs.flatMap((p) => [
            [p.name, base[p.name]],
            [gradName(p.name), grads[gradName(p.name)]],
          ]),
        ),
      });
      const fused = await (await cpu.createSession(buildTrainStepGraph(m, b))).run({ ...base, ...scal, ...moments });
      expect((fused.loss.data as Float32Array)[0]).toBeCloseTo((grads.loss.data as Float32Array)[0], 5);
      expect((fused.grad_norm.data as Float32Array)[0]).toBeCloseTo((opt.grad_norm.data as Float32Array)[0], 4);
      for (const p of specs) {
        const x = fused[updatedName(p.name)].data as Float32Array;
        const y = opt[updatedName(p.name)].data as Float32Array;
        let d = 0;
        for (let i = 0; i < x.length; i++) d = Math.max(d, Math.abs(x[i] - y[i]));
        expect(d, p.name).toBeLessThan(1e-5);
      }
      // The WebGPU trainer's form: parameters and moments packed in flat groups (a small cap, so kinds split over several
      // groups), unpacked after the step; the same update as one tensor per parameter.
      const layout = flatLayout(specs, { packed: true, capBytes: 600 });
      expect(layout.groups.length).toBeGreaterThan(lora ? 1 : 4);
      const packed = (f: (n: string) => Float32Array) =>
        Object.fromEntries(layout.groups.map((grp) => [grp.name, cpu.upload(packGroup(grp, f), grp.shape)]));
      const frozen = weightFeeds(
        cpu,
        allParams(m).filter((p) => !specs.includes(p)),
        W,
      );
      const flat = await (
        await cpu.createSession(buildTrainStepGraph(m, b, undefined, {}, layout))
      ).run({
        ...frozen,
        ...batchFeeds(cpu, b),
        ...scal,
        ...packed((n) => W[n]),
        ...Object.fromEntries(
          layout.groups.flatMap((grp) => [
            [expAvgName(grp.name), packed((n) => moments[expAvgName(n)].data as Float32Array)[grp.name]],
            [expAvgSqName(grp.name), packed((n) => moments[expAvgSqName(n)].data as Float32Array)[grp.name]],
          ]),
        ),
      });
      expect((flat.grad_norm.data as Float32Array)[0]).toBeCloseTo((fused.grad_norm.data as Float32Array)[0], 5);
      const unpack = await cpu.createSession(buildUnpackGraph(layout));
      for (const [suffix, name] of [
        ['', (n: string) => n],
        ['m', expAvgName],
        ['v', expAvgSqName],
      ] as const) {
        const out = await unpack.run(
          Object.fromEntries(layout.groups.map((grp) => [grp.name, flat[updatedName(name(grp.name))]])),
        );
        for (const p of specs) {
          const [x, y] = [out[p.name].data as Float32Array, fused[updatedName(name(p.name))].data as Float32Array];
          expect(x.length).toBe(y.length);
          let d = 0;
          for (let i = 0; i < x.length; i++) d = Math.max(d, Math.abs(x[i] - y[i]));
          expect(d, `${p.name} ${suffix}`).toBeLessThan(1e-6); // the gradient norm sums in another order
        }
      }
    }
  });
});
