// Streaming generation with a KV cache, on the same device weights as training (during or after it): the prompt
// is prefilled in fixed-size chunks, then one token per run. Sessions are built per shape and kept. Streams text
// deltas, stops at <|endoftext|>, a stop string, the token budget, the cache's end, or an abort signal.
import type { Tensor } from 'onnxruntime-common';
import { buildGenerateGraph } from '../artifacts/build.js';
import { allParams, pastName, presentName, type ModelSpec } from '../artifacts/model.js';
import type { Backend, EngineSession } from '../runtime/backend.js';
import { Rng } from '../util/rng.js';
import { sampleToken, validateSampling, type SampleOptions } from './sampling.js';

export interface GenerateOptions extends SampleOptions {
  readonly maxNewTokens: number;
  readonly stopStrings?: readonly string[];
  readonly seed?: number;
  readonly signal?: AbortSignal;
}

export type StopReason = 'eos' | 'stop-string' | 'max-tokens' | 'context-full' | 'aborted';

export type GenerateEvent =
  | { type: 'token'; token: number; text: string }
  | { type: 'done'; reason: StopReason; tokens: number[]; text: string; tokensPerSecond: number };

export interface GeneratorOptions {
  /** KV-cache capacity in positions (prompt + reply); at most n_positions. */
  readonly cache: number;
  /** Prompt tokens per prefill run. */
  readonly prefillChunk: number;
}

export interface Detokenizer {
  decode(ids: readonly number[]): string;
  readonly eosId: number;
}

export class Generator {
  private readonly sessions = new Map<number, Promise<EngineSession>>();
  readonly options: GeneratorOptions;

  constructor(
    private readonly backend: Backend,
    private readonly model: ModelSpec,
    /** The current device weights, read at every run (training may replace them between runs). */
    private readonly weights: () => Record<string, Tensor> | Promise<Record<string, Tensor>>,
    private readonly tok: Detokenizer,
    o: Partial<GeneratorOptions> = {},
  ) {
    const cache = Math.min(o.cache ?? 256, model.config.n_positions);
    this.options = { cache, prefillChunk: Math.min(o.prefillChunk ?? 32, cache) };
  }

  private session(step: number): Promise<EngineSession> {
    let s = this.sessions.get(step);
    if (!s) {
      const g = buildGenerateGraph(this.model, { step, cache: this.options.cache });
      s = this.backend.createSession(g, { keepOnDevice: (n) => n.startsWith('present.') });
      this.sessions.set(step, s);
    }
    return s;
  }

  /** Logits after feeding `ids` at `position`; updates `cache` in place (disposing what it replaces). */
  private async feed(ids: number[], position: number, cache: Tensor[]): Promise<Float32Array> {
    const session = await this.session(ids.length === 1 ? 1 : this.options.prefillChunk);
    return this.backend.exclusive(() => this.feedLocked(session, ids, position, cache));
  }

  private async feedLocked(session: EngineSession, ids: number[], position: number, cache: Tensor[]): Promise<Float32Array> {
    const S = ids.length === 1 ? 1 : this.options.prefillChunk;
    const padded = Int32Array.from({ length: S }, (_, i) => ids[i] ?? this.tok.eosId);
    const T = this.backend.ort.Tensor;
    const W = await this.weights();
    const feeds: Record<string, Tensor> = {
      input_ids: new T('int32', padded, [1, S]),
      position: new T('int32', Int32Array.of(position), [1]),
      last_index: new T('int32', Int32Array.of(ids.length - 1), [1]),
    };
    for (const p of allParams(this.model)) feeds[p.name] = W[p.name];
    const L = this.model.config.n_layer;
    for (let i = 0; i < L; i++) {
      feeds[pastName(i, 'key')] = cache[2 * i];
      feeds[pastName(i, 'value')] = cache[2 * i + 1];
    }
    const out = await session.run(feeds);
    for (let i = 0; i < L; i++) {
      cache[2 * i].dispose();
      cache[2 * i + 1].dispose();
      cache[2 * i] = out[presentName(i, 'key')];
      cache[2 * i + 1] = out[presentName(i, 'value')];
    }
    return this.backend.download(out.logits);
  }

  async *stream(prompt: readonly number[], o: GenerateOptions): AsyncGenerator<GenerateEvent> {
    validateSampling(o);
    const { cache: Lc, prefillChunk } = this.options;
    if (prompt.length === 0) throw new RangeError('the prompt is empty');
    if (prompt.length >= Lc) throw new RangeError(`the prompt has ${prompt.length} tokens; the context holds ${Lc}, so shorten it`);
    const c = this.model.config;
    const dims = [1, c.n_head, Lc, c.n_embd / c.n_head];
    const cache = Array.from({ length: 2 * c.n_layer }, () => this.backend.zeros(dims));
    const rng = new Rng(o.seed ?? 0);
    const started = performance.now();
    const out: number[] = [];
    let text = '';
    let reason: StopReason = 'max-tokens';
    try {
      let logits!: Float32Array;
      for (let p = 0; p < prompt.length; p += prefillChunk) logits = await this.feed(prompt.slice(p, p + prefillChunk), p, cache);
      let position = prompt.length;
      while (out.length < o.maxNewTokens) {
        if (o.signal?.aborted) {
          reason = 'aborted';
          break;
        }
        const next = sampleToken(logits, o, [...prompt, ...out], rng);
        if (next === this.tok.eosId) {
          reason = 'eos';
          break;
        }
        out.push(next);
        const full = this.tok.decode(out);
        const stop = o.stopStrings?.map((s) => full.indexOf(s, Math.max(0, text.length - s.length))).find((i) => i >= 0);
        if (stop !== undefined) {
          if (stop > text.length) yield { type: 'token', token: next, text: full.slice(text.length, stop) };
          text = full.slice(0, stop);
          reason = 'stop-string';
          break;
        }
        if (!full.endsWith('\uFFFD')) {
          // hold back a partial UTF-8 character until the next token completes it
          yield { type: 'token', token: next, text: full.slice(text.length) };
          text = full;
        }
        if (position >= Lc) {
          reason = 'context-full';
          break;
        }
        if (out.length < o.maxNewTokens) logits = await this.feed([next], position++, cache);
      }
    } finally {
      for (const t of cache) t.dispose();
    }
    const seconds = (performance.now() - started) / 1000;
    yield { type: 'done', reason, tokens: out, text: reason === 'stop-string' ? text : this.tok.decode(out), tokensPerSecond: out.length / seconds };
  }

  async release(): Promise<void> {
    for (const s of this.sessions.values()) await (await s).release();
    this.sessions.clear();
  }
}
