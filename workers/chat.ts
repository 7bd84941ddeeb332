// Chat in the studio: the reply streams from the live trainer's device weights when a run is in memory, else from
// the current run's stored checkpoint (uploaded once per checkpoint), else from the untrained model; one generator
// (and its compiled sessions) is kept while the backend and the model stay the same.
import type { Tensor } from 'onnxruntime-common';
import { allParams, type ModelSpec } from '../src/engine/artifacts/model.js';
import type { ChatTemplate, Message } from '../src/engine/data/template.js';
import type { Tokenizer } from '../src/engine/data/tokenizer.js';
import { Generator } from '../src/engine/generate/generator.js';
import type { Weights } from '../src/engine/models/init.js';
import type { Backend } from '../src/engine/runtime/backend.js';
import type { RunStorage } from '../src/engine/storage/runs.js';
import type { Trainer } from '../src/engine/train/trainer.js';
import type { ChatSettings, FromWorker, RunState } from '../src/protocol.js';

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
    this.checkpointWeights = null;
  }

  async reply(id: number, messages: Message[], s: ChatSettings, c: ChatContext): Promise<void> {
    this.weightsNow = await this.weights(c);
    const prompt = c.tok.encode(c.template.render(messages, true));
    const gen = await this.generator(c);
    const abort = new AbortController();
    this.chats.set(id, abort);
    try {
      const ids = prompt.slice(-Math.floor(c.model.config.n_positions / 2));
      for await (const ev of gen.stream(ids, { ...s, seed: id, signal: abort.signal, stopStrings: ['\nUser:'] })) {
        if (ev.type === 'token') this.post({ type: 'chat-token', id, text: ev.text });
        else this.post({ type: 'chat-done', id, reason: ev.reason, tokensPerSecond: ev.tokensPerSecond });
      }
    } finally {
      this.chats.delete(id);
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
      const W = { ...c.baseWeights(), ...(ck?.trainable ?? {}) };
      const tensors = Object.fromEntries(allParams(c.model).map((p) => [p.name, c.backend.upload(W[p.name], p.shape)]));
      this.checkpointWeights = { ...key, tensors };
    }
    const t = this.checkpointWeights.tensors;
    return () => t;
  }

  /** One generator (and its compiled sessions) for as long as the backend and the model stay the same. */
  private async generator(c: ChatContext): Promise<Generator> {
    const key = `${c.modelId} ${JSON.stringify(c.model)}`;
    if (this.gen?.backend === c.backend && this.gen.model === key) return this.gen.gen;
    await this.gen?.gen.release();
    const gen = new Generator(c.backend, c.model, () => this.weightsNow(), c.tok, { cache: Math.min(c.model.config.n_positions, 1024) });
    this.gen = { backend: c.backend, model: key, gen };
    return gen;
  }
}
