// The training loop: config in, an async stream of events out. Weights, AdamW moments and gradients are device
// tensors that only ever feed the next run; per step only the loss and the grad norm come back to the CPU. On
// WebGPU the trainable weights and their moments live packed in a few flat groups (artifacts/flat.ts; elsewhere
// each group is one parameter); the generator and the eval graph get them unpacked, once per step that asks.
// Checkpoints (every N steps, on request, and at the end) are the one deliberate copy of the weights.
import type { Tensor } from 'onnxruntime-common';
import {
  buildEvalGraph,
  buildOptimizerGraph,
  buildTrainGraph,
  buildTrainStepGraph,
  buildUnpackGraph,
  adamwScalars,
} from '../artifacts/build.js';
import {
  FLAT_GROUP_BYTES,
  flatLayout,
  isUnpacked,
  packGroup,
  type FlatGroup,
  type FlatLayout,
} from '../artifacts/flat.js';
import {
  accumName,
  allParams,
  expAvgName,
  expAvgSqName,
  gradName,
  trainableParams,
  updatedName,
  type BuiltGraph,
  type ModelSpec,
} from '../artifacts/model.js';
import { BatchStream, type Row } from '../data/batches.js';
import { Generator, type Detokenizer } from '../generate/generator.js';
import { GREEDY } from '../generate/sampling.js';
import { familyOf } from '../models/family.js';
import { countParams } from '../models/gpt2.js';
import type { Weights } from '../models/init.js';
import type { Backend, EngineSession } from '../runtime/backend.js';
import { batchFeeds } from '../runtime/feeds.js';
import {
  CHECKPOINT_FORMAT,
  CHECKPOINT_GROUPS,
  materialize,
  type Checkpoint,
  type CheckpointSnapshot,
} from './checkpoint.js';
import { learningRate } from './schedule.js';
import type { TrainConfig, TrainErrorCode, TrainEvent } from './config.js';

export { DEFAULT_TRAIN, type TrainConfig, type TrainErrorCode, type TrainEvent } from './config.js';

type StepResult =
  { ok: true; loss: number; lr: number; gradNorm: number } | { ok: false; error: TrainErrorCode; message: string };

export interface TrainerOptions {
  backend: Backend;
  model: ModelSpec;
  /** Every parameter's starting value (base weights, plus adapters under LoRA); a checkpoint overrides the trainable ones. */
  weights: Weights;
  train: readonly Row[];
  validation?: readonly Row[];
  config: TrainConfig;
  padId: number;
  resume?: Checkpoint;
  /** For sample replies: prompts as token ids, and a detokenizer. */
  samples?: { prompts: readonly (readonly number[])[]; tokenizer: Detokenizer };
}

export class Trainer {
  readonly config: TrainConfig;
  /** The frozen parameters (the base model under LoRA), one tensor each. */
  private readonly frozen: Record<string, Tensor> = {};
  /** The trainable ones packed by `layout`, and their AdamW moments, keyed by group name. */
  private readonly weights: Record<string, Tensor> = {};
  private readonly expAvg: Record<string, Tensor> = {};
  private readonly expAvgSq: Record<string, Tensor> = {};
  private readonly layout: FlatLayout;
  private unpackSession: Promise<EngineSession> | null = null;
  /**
   * onnxruntime-node's CPU EP: the step before's weights and moments, written over by the next step's outputs
   * (pre-allocated outputs), so that a step does not allocate and fault in a fresh copy of them (1.5 GB at 124M).
   */
  private readonly spare: Record<string, Tensor> = {};
  /** Tensors that a step wrote (never the caller's arrays, which an upload may wrap): only those become spare. */
  private readonly stepOutputs = new WeakSet<Tensor>();
  /** The sessions whose outputs the trainer holds (released after those, in release()). */
  private readonly sessions: EngineSession[] = [];
  /** The trainable weights one tensor each, as of `step`; made on demand, dropped by the next step. */
  private unpacked: { step: number; tensors: Record<string, Tensor> } | null = null;
  private step: number;
  private paused = false;
  private stopped = false;
  private wake: (() => void) | null = null;
  private readonly stream: BatchStream;
  private readonly trainable;
  private generator: Generator | null = null;

  constructor(private readonly o: TrainerOptions) {
    const c = (this.config = o.config);
    if (!(c.steps >= 1) || !(c.accumulation >= 1) || !(c.lr > 0))
      throw new RangeError('steps, accumulation and lr must be positive');
    this.trainable = trainableParams(o.model);
    const t = o.backend.target;
    this.layout = flatLayout(this.trainable, {
      packed: !!t.flatParams,
      capBytes: Math.min(FLAT_GROUP_BYTES, t.flatGroupBytes ?? Infinity),
    });
    const ck = o.resume;
    if (ck && ck.format !== CHECKPOINT_FORMAT) throw new Error(`unknown checkpoint format ${ck.format}`);
    this.step = ck?.step ?? 0;
    const trainableNames = new Set(this.trainable.map((p) => p.name));
    const value = (name: string) => {
      const data = (trainableNames.has(name) && ck?.trainable[name]) || o.weights[name];
      if (!data) throw new Error(`no value for parameter ${name}`);
      return data;
    };
    for (const p of allParams(o.model))
      if (!trainableNames.has(p.name)) this.frozen[p.name] = o.backend.upload(value(p.name), p.shape);
    // packed one group at a time on the CPU, so the extra copy is at most one group (FLAT_GROUP_BYTES)
    for (const grp of this.layout.groups) {
      this.weights[grp.name] = o.backend.upload(packGroup(grp, value), grp.shape);
      this.expAvg[grp.name] = ck
        ? o.backend.upload(
            packGroup(grp, (n) => ck.expAvg[n]),
            grp.shape,
          )
        : o.backend.zeros(grp.shape);
      this.expAvgSq[grp.name] = ck
        ? o.backend.upload(
            packGroup(grp, (n) => ck.expAvgSq[n]),
            grp.shape,
          )
        : o.backend.zeros(grp.shape);
    }
    this.stream = new BatchStream(o.train, c.batch, c.seq, c.seed, o.padId);
  }

  private residency() {
    const all = [...Object.values(this.frozen), ...Object.values(this.weights)];
    return { onDevice: all.filter((t) => t.location === 'gpu-buffer').length, total: all.length };
  }

  /**
   * Every parameter as its own device tensor, as they are now (for a Generator or the eval graph). Runs the unpack
   * graph once per step that asks; call it where the backend is held (inside `backend.exclusive`).
   */
  currentWeights = async (): Promise<Record<string, Tensor>> => {
    if (isUnpacked(this.layout)) return { ...this.frozen, ...this.weights };
    if (this.unpacked?.step !== this.step) {
      this.dropUnpacked();
      this.unpackSession ??= this.o.backend.createSession(buildUnpackGraph(this.layout), { keepOnDevice: () => true });
      const tensors = await (await this.unpackSession).run({ ...this.weights });
      this.unpacked = { step: this.step, tensors };
    }
    return { ...this.frozen, ...this.unpacked.tensors };
  };

  private dropUnpacked(): void {
    for (const t of Object.values(this.unpacked?.tensors ?? {})) t.dispose();
    this.unpacked = null;
  }

  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
    this.wake?.();
  }
  stop(): void {
    this.stopped = true;
    this.wake?.();
  }

  /**
   * The trainable weights and optimizer state as they are now, read from the device one flat group at a time
   * (each tensor is a view on its group's read-back, so a group is copied to the CPU once).
   */
  snapshot(): CheckpointSnapshot {
    const stores = { trainable: this.weights, expAvg: this.expAvg, expAvgSq: this.expAvgSq };
    const where = new Map<string, [FlatGroup, number]>();
    for (const grp of this.layout.groups) grp.members.forEach((m, i) => where.set(m.spec.name, [grp, i]));
    const order = this.layout.groups.flatMap((grp) => grp.members.map((m) => m.spec));
    const tensors = CHECKPOINT_GROUPS.flatMap((group) => order.map((p) => ({ group, name: p.name, shape: p.shape })));
    const step = this.step;
    let last: { group: string; flat: string; data: Float32Array } | null = null;
    return {
      format: CHECKPOINT_FORMAT,
      step,
      model: this.o.model,
      config: this.config,
      tensors,
      bytes: 4 * tensors.reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0),
      read: (t) =>
        this.o.backend.exclusive(async () => {
          if (this.step !== step) throw new Error(`the snapshot of step ${step} was read after step ${this.step}`);
          const [grp, i] = where.get(t.name)!;
          if (last?.group !== t.group || last.flat !== grp.name) {
            last = null; // let the previous group's read-back go before reading the next
            const d = await this.o.backend.download(stores[t.group][grp.name]);
            last = { group: t.group, flat: grp.name, data: d };
          }
          const m = grp.members[i];
          const view = last.data.subarray(m.offset, m.offset + m.size);
          return this.o.backend.deviceResident ? view : view.slice(); // a GPU read-back is its own array; a CPU tensor's data is the live weight
        }),
    };
  }

  /** A copy of the trainable weights and optimizer state on the CPU. */
  async checkpoint(): Promise<Checkpoint> {
    return materialize(this.snapshot());
  }

  async *run(): AsyncGenerator<TrainEvent> {
    const { backend } = this.o;
    const c = this.config;
    const shape = { batch: c.batch, seq: c.seq };
    const onDevice = (n: string) => n !== 'loss' && n !== 'grad_norm';
    // One fused graph per step without accumulation; with it, the train graph (twice: the second adds onto the
    // accumulated gradients) and the optimizer graph.
    const fused = c.accumulation === 1;
    const session = (g: BuiltGraph) => backend.createSession(g, { keepOnDevice: onDevice });
    const target = backend.target;
    const layout = this.layout;
    const train = await session(
      fused
        ? buildTrainStepGraph(this.o.model, shape, c.adamw, target, layout)
        : buildTrainGraph(this.o.model, shape, { target, layout }),
    );
    const trainAcc = fused
      ? null
      : await session(buildTrainGraph(this.o.model, shape, { accumulate: true, target, layout }));
    const opt = fused ? null : await session(buildOptimizerGraph(layout, c.adamw));
    const evalS =
      this.o.validation?.length && c.evalEvery > 0
        ? await backend.createSession(buildEvalGraph(this.o.model, shape, { target }))
        : null;
    const tokensPerStep = c.batch * c.seq * c.accumulation;
    yield {
      type: 'start',
      step: this.step,
      totalSteps: c.steps,
      backend: backend.description,
      trainableParams: countParams(this.trainable),
      tokensPerStep,
    };
    const t0 = performance.now();
    const startStep = this.step;
    let savedStep = this.step;
    try {
      while (this.step < c.steps) {
        if (this.paused && !this.stopped) {
          // a pause is a natural point to save: a reload while paused then loses nothing
          if (this.step > savedStep) {
            yield { type: 'checkpoint', step: this.step, checkpoint: this.snapshot() };
            savedStep = this.step;
          }
          yield { type: 'paused', step: this.step };
          await new Promise<void>((r) => (this.wake = r));
          this.wake = null;
          if (!this.stopped) yield { type: 'resumed', step: this.step };
        }
        if (this.stopped) break;
        const ts = performance.now();
        const readBefore = this.o.backend.stats.downloadedBytes;
        this.o.backend.memory?.resetPeak();
        const result = await this.o.backend.exclusive(() => this.trainStep(train, trainAcc, opt));
        if (!result.ok) {
          yield { type: 'error', step: this.step + 1, code: result.error, message: result.message };
          return;
        }
        this.step++;
        const now = performance.now();
        const done = this.step - startStep;
        yield {
          type: 'step',
          step: this.step,
          loss: result.loss,
          lr: result.lr,
          gradNorm: result.gradNorm,
          tokensPerSecond: tokensPerStep / ((now - ts) / 1000),
          elapsedMs: now - t0,
          etaMs: ((now - t0) / done) * (c.steps - this.step),
          ...(this.o.backend.deviceResident
            ? { readBackBytes: this.o.backend.stats.downloadedBytes - readBefore, weightsOnDevice: this.residency() }
            : {}),
          ...(this.o.backend.memory ? { deviceMemory: this.o.backend.memory.read() } : {}),
        };
        const last = this.step === c.steps;
        if (evalS && (this.step % c.evalEvery === 0 || last))
          yield { type: 'eval', step: this.step, loss: await this.o.backend.exclusive(() => this.evaluate(evalS)) };
        if (this.o.samples && c.sampleEvery > 0 && (this.step % c.sampleEvery === 0 || last)) yield* this.sample();
        if ((c.checkpointEvery > 0 && this.step % c.checkpointEvery === 0) || last) {
          yield { type: 'checkpoint', step: this.step, checkpoint: this.snapshot() };
          savedStep = this.step;
        }
      }
      yield { type: 'done', step: this.step, reason: this.step >= c.steps ? 'completed' : 'stopped' };
    } catch (e) {
      const err = e as Error & { code?: string };
      yield {
        type: 'error',
        step: this.step + 1,
        code: err.code === 'DEVICE_LOST' ? 'DEVICE_LOST' : 'RUN_FAILED',
        message: err.message,
      };
    } finally {
      // The weights and moments are these sessions' outputs: on WebGPU a session's output buffers cannot be freed
      // once it is released, so it lives until the trainer does (release() frees the tensors first).
      for (const s of [train, trainAcc, opt]) if (s) this.sessions.push(s);
      await evalS?.release();
    }
  }

  /** One optimizer step over `accumulation` micro-batches. Leaves all state untouched when anything is not finite. */
  private async trainStep(
    train: EngineSession,
    trainAcc: EngineSession | null,
    opt: EngineSession | null,
  ): Promise<StepResult> {
    const { backend } = this.o;
    const c = this.config;
    const lr = learningRate(
      { kind: c.schedule, lr: c.lr, warmupSteps: c.warmupSteps, totalSteps: c.steps, minLrRatio: c.minLrRatio },
      this.step + 1,
    );
    const T = backend.ort.Tensor;
    const optimizerFeeds = (): Record<string, Tensor> => {
      const f: Record<string, Tensor> = Object.fromEntries(
        Object.entries(adamwScalars(c.adamw, lr, this.step + 1, 1 / c.accumulation)).map(([k, x]) => [
          k,
          new T('float32', Float32Array.of(x), []),
        ]),
      );
      for (const grp of this.layout.groups) {
        f[grp.name] = this.weights[grp.name];
        f[expAvgName(grp.name)] = this.expAvg[grp.name];
        f[expAvgSqName(grp.name)] = this.expAvgSq[grp.name];
      }
      return f;
    };
    const fresh = this.layout.groups.flatMap((p) => [
      updatedName(p.name),
      updatedName(expAvgName(p.name)),
      updatedName(expAvgSqName(p.name)),
    ]);
    // onnxruntime-node only: on WebGPU the outputs stay where onnxruntime puts them (gpu-buffer outputs), and
    // onnxruntime-web's WASM build, given 1.5 GB of pre-allocated outputs, failed the next generation run
    // ("operation does not support unaligned accesses")
    const reuse = backend.name === 'node-cpu';
    const into = reuse
      ? { loss: null, grad_norm: null, ...Object.fromEntries(fresh.map((n) => [n, this.spare[n] ?? null])) }
      : undefined;
    const nonFinite = (what: string, v: number) =>
      `the ${what} became ${v} at step ${this.step + 1}; the weights of step ${this.step} are kept. Lower the learning rate, or resume from the last checkpoint.`;
    let out: Record<string, Tensor>;
    let loss = 0;
    if (!opt) {
      // fused: forward, backward and AdamW in one run
      out = await train.run(
        { ...this.frozen, ...this.weights, ...batchFeeds(backend, this.stream.at(this.step)), ...optimizerFeeds() },
        into,
      );
      loss = (await backend.download(out.loss))[0];
    } else {
      let grads: Record<string, Tensor> = {};
      const drop = () => Object.values(grads).forEach((t) => t.dispose());
      for (let a = 0; a < c.accumulation; a++) {
        const feeds: Record<string, Tensor> = {
          ...this.frozen,
          ...this.weights,
          ...batchFeeds(backend, this.stream.at(this.step * c.accumulation + a)),
        };
        if (a > 0) for (const grp of this.layout.groups) feeds[accumName(grp.name)] = grads[grp.name];
        const o = await (a === 0 ? train : trainAcc!).run(feeds);
        drop();
        grads = Object.fromEntries(this.layout.groups.map((grp) => [grp.name, o[gradName(grp.name)]]));
        const l = (await backend.download(o.loss))[0];
        if (!Number.isFinite(l)) {
          drop();
          return { ok: false, error: 'NON_FINITE_LOSS', message: nonFinite('loss', l) };
        }
        loss += l / c.accumulation;
      }
      const feeds = optimizerFeeds();
      for (const grp of this.layout.groups) feeds[gradName(grp.name)] = grads[grp.name];
      out = await opt.run(feeds, into);
      drop();
    }
    const gradNorm = (await backend.download(out.grad_norm))[0];
    if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) {
      for (const n of fresh) {
        if (reuse) this.spare[n] = out[n];
        else out[n].dispose();
      }
      return Number.isFinite(loss)
        ? { ok: false, error: 'NON_FINITE_GRADIENT', message: nonFinite('gradient norm', gradNorm) }
        : { ok: false, error: 'NON_FINITE_LOSS', message: nonFinite('loss', loss) };
    }
    this.dropUnpacked();
    for (const p of this.layout.groups) {
      for (const [store, name] of [
        [this.weights, p.name],
        [this.expAvg, expAvgName(p.name)],
        [this.expAvgSq, expAvgSqName(p.name)],
      ] as const) {
        if (reuse && this.stepOutputs.has(store[p.name])) this.spare[updatedName(name)] = store[p.name];
        else store[p.name].dispose();
        store[p.name] = out[updatedName(name)];
        this.stepOutputs.add(store[p.name]);
      }
    }
    return { ok: true, loss, lr, gradNorm };
  }

  /** Token-weighted mean loss over the validation rows. */
  private async evaluate(s: EngineSession): Promise<number> {
    const c = this.config;
    let sum = 0;
    let count = 0;
    for (const b of BatchStream.sequential(this.o.validation!, c.batch, c.seq, this.o.padId, c.evalBatches)) {
      const n = b.mask.reduce((x, y) => x + y, 0);
      if (n === 0) continue;
      const out = await s.run({ ...(await this.currentWeights()), ...batchFeeds(this.o.backend, b) });
      sum += (await this.o.backend.download(out.loss))[0] * n;
      count += n;
    }
    return count ? sum / count : NaN;
  }

  private async *sample(): AsyncGenerator<TrainEvent> {
    const { prompts, tokenizer } = this.o.samples!;
    this.generator ??= new Generator(this.o.backend, this.o.model, this.currentWeights, tokenizer, {
      cache: Math.min(familyOf(this.o.model.config).maxPositions(this.o.model.config), 256),
    });
    for (let i = 0; i < prompts.length; i++) {
      let text = '';
      for await (const ev of this.generator.stream(prompts[i], {
        ...GREEDY,
        repetitionPenalty: 1.2,
        maxNewTokens: this.config.sampleMaxTokens,
      })) {
        if (ev.type === 'done') text = ev.text;
      }
      yield { type: 'sample', step: this.step, prompt: i, text };
    }
  }

  async release(): Promise<void> {
    await this.generator?.release();
    this.dropUnpacked();
    await (await this.unpackSession)?.release();
    for (const m of [this.frozen, this.weights, this.expAvg, this.expAvgSq, this.spare])
      for (const t of Object.values(m)) t.dispose();
    for (const s of this.sessions.splice(0)) await s.release();
  }
}
