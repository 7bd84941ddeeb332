// Chat in the studio: the reply streams from the live trainer's device weights when a run is in memory, else from
// the current run's stored checkpoint (uploaded once per checkpoint), else from the untrained model; or, to compare,
// from the base model (a LoRA run's adapter off, a full fine-tune's base weights from the cache: uploaded once).
// One generator (and its compiled sessions) is kept while the backend and the model stay the same.
import { familyOf } from '../src/engine/models/family.js';
import type { Tensor } from 'onnxruntime-common';
import { allParams, type ModelSpec } from '../src/engine/artifacts/model.js';
import type { ChatTemplate, Message } from '../src/engine/data/template.js';
import type { Tokenizer } from '../src/engine/data/tokenizer.js';
import { Generator } from '../src/engine/generate/generator.js';
import type { Weights } from '../src/engine/models/init.js';
import type { Backend } from '../src/engine/runtime/backend.js';
import type { RunStorage } from '../src/engine/storage/runs.js';
import type { Trainer } from '../src/engine/train/trainer.js';
import type { ChatSettings, ChatWeights, FromWorker, RunState } from '../src/protocol.js';

/** What one reply is made with, as the Studio has it at the moment of the message. */
export interface ChatContext {
  backend: Backend;
  model: ModelSpec;
  /** The current model's id (the tokenizer comes with it). */
  modelId: string;
  tok: Tokenizer;
  /** The run's own template, or the Data panel's. */
  template: ChatTemplate;
  /** The trainer whose device weights are current, if one is in memory. */
  live: Trainer | null;
  run: RunState | null;
  /** The base weights (plus fresh adapters) a checkpoint's trained tensors go on. */
  baseWeights(): Weights;
}

export class StudioChat {
  private checkpointWeights: { id: string; step: number; tensors: Record<string, Tensor> } | null = null;
  /** The base model's weights on the device, for comparing (kept while the model and the adapter shape stay). */
  private baseUploaded: { key: string; tensors: Record<string, Tensor> } | null = null;
  private readonly chats = new Map<number, AbortController>();
  /** The weights the generator reads at each run (set per message: the live trainer's, or a checkpoint's). */
  private weightsNow: () => Record<string, Tensor> | Promise<Record<string, Tensor>> = () => ({});
  private gen: { backend: Backend; model: string; gen: Generator } | null = null;

  constructor(
    private readonly post: (m: FromWorker) => void,
    private readonly storage: RunStorage,
  ) {}

  /** The uploaded checkpoint belongs to a backend or model that is gone. */
  forgetCheckpoint(): void {
    this.retire(this.checkpointWeights?.tensors);
    this.checkpointWeights = null;
  }

  /** The model or the backend changed: nothing uploaded is of use. */
  forgetAll(): void {
    this.forgetCheckpoint();
    this.retire(this.baseUploaded?.tensors);
    this.baseUploaded = null;
  }

  /** Frees uploaded weights once no reply is reading them. */
  private retire(t: Record<string, Tensor> | undefined): void {
    if (t) this.stale.push(t);
    if (this.chats.size) return; // a reply streams: freed when it ends
    for (const x of this.stale.splice(0)) {
      for (const w of Object.values(x)) {
        try {
          w.dispose();
        } catch {
          // a buffer of a lost device: gone with it
        }
      }
    }
  }
  private readonly stale: Record<string, Tensor>[] = [];

  async reply(
    id: number,
    messages: Message[],
    s: ChatSettings,
    c: ChatContext,
    which: ChatWeights = 'tuned',
  ): Promise<void> {
    this.weightsNow = which === 'base' ? this.base(c) : await this.weights(c);
    const prompt = c.tok.encode(c.template.render(messages, true));
    const gen = await this.generator(c);
    const abort = new AbortController();
    this.chats.set(id, abort);
    try {
      const ids = prompt.slice(-Math.floor(familyOf(c.model.config).maxPositions(c.model.config) / 2));
      for await (const ev of gen.stream(ids, { ...s, seed: id, signal: abort.signal, stopStrings: ['\nUser:'] })) {
        if (ev.type === 'token') this.post({ type: 'chat-token', id, text: ev.text });
        else this.post({ type: 'chat-done', id, reason: ev.reason, tokensPerSecond: ev.tokensPerSecond });
      }
    } finally {
      this.chats.delete(id);
      this.retire(undefined);
    }
  }

  stop(id: number): void {
    this.chats.get(id)?.abort();
  }

  /** The live trainer's weights, else the current run's checkpoint, else the untrained model. */
  private async weights(c: ChatContext): Promise<() => Record<string, Tensor> | Promise<Record<string, Tensor>>> {
    if (c.live) return c.live.currentWeights;
    const run = c.run;
    const key = run ? { id: run.id, step: run.checkpointStep } : { id: '', step: 0 };
    if (this.checkpointWeights?.id !== key.id || this.checkpointWeights.step !== key.step) {
      const ck = run ? await this.storage.loadCheckpoint(run.id) : undefined;
      this.forgetCheckpoint();
      this.checkpointWeights = { ...key, tensors: upload(c, { ...c.baseWeights(), ...(ck?.trainable ?? {}) }) };
    }
    const t = this.checkpointWeights.tensors;
    return () => t;
  }

  /** The base model: fresh adapters (LoRA's B is zero, so the adapter is off) on the base weights. */
  private base(c: ChatContext): () => Record<string, Tensor> {
    const key = modelKey(c);
    if (this.baseUploaded?.key !== key) {
      this.retire(this.baseUploaded?.tensors);
      this.baseUploaded = { key, tensors: upload(c, c.baseWeights()) };
    }
    const t = this.baseUploaded.tensors;
    return () => t;
  }

  /** One generator (and its compiled sessions) for as long as the backend and the model stay the same. */
  private async generator(c: ChatContext): Promise<Generator> {
    const key = modelKey(c);
    if (this.gen?.backend === c.backend && this.gen.model === key) return this.gen.gen;
    await this.gen?.gen.release();
    const gen = new Generator(c.backend, c.model, () => this.weightsNow(), c.tok, {
      cache: Math.min(familyOf(c.model.config).maxPositions(c.model.config), 1024),
    });
    this.gen = { backend: c.backend, model: key, gen };
    return gen;
  }
}

/** The model and its adapter shape: what the generator's graphs and the base upload depend on. */
const modelKey = (c: ChatContext) => `${c.modelId} ${JSON.stringify(c.model)}`;
const upload = (c: ChatContext, W: Weights) =>
  Object.fromEntries(allParams(c.model).map((p) => [p.name, c.backend.upload(W[p.name], p.shape)]));
