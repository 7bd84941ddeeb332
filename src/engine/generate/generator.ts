// Streaming generation with a KV cache, on the same device weights as training (during or after it): the prompt
// is prefilled in fixed-size chunks, then one token per run. The cache is sized to the call (prompt + budget,
// rounded up to a power of two, at most the configured capacity): a token's cost grows with the cache's length.
// Two cache sets take turns as each run's input and its pre-allocated output, so no run allocates a cache or
// copies one out (to JavaScript on the CPU backends). Sessions are built per shape and kept. Streams text
// deltas, stops at <|endoftext|>, a stop string, the token budget, the cache's end, or an abort signal.
import type { Tensor } from 'onnxruntime-common';
import { buildGenerateGraph } from '../artifacts/build.js';
import { allParams, pastName, presentName, type ModelSpec } from '../artifacts/model.js';
import { familyOf } from '../models/family.js';
import type { Backend, EngineSession } from '../runtime/backend.js';
import { Rng } from '../util/rng.js';
import { ReplyText } from './reply.js';
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
  /** Largest KV cache in positions (prompt + reply); at most n_positions. Each call uses the smallest that fits. */
  readonly cache: number;
  /** Prompt tokens per prefill run. */
  readonly prefillChunk: number;
}

/** The two cache sets of a call: the run reads `from` and writes `to`, then they swap. */
interface Caches {
  readonly length: number;
  from: Tensor[];
  to: Tensor[];
}

export interface Detokenizer {
  decode(ids: readonly number[]): string;
  readonly eosId: number;
  /** Every id that ends a reply (generation_config.json's eos_token_id may list several: <|eot_id|>, <|im_end|>). */
  readonly endIds?: readonly number[];
}

/** A KV cache's length for `need` positions: a power of two, at least 64, at most `cap`. */
export const cacheLength = (need: number, cap: number) => Math.min(cap, Math.max(64, 2 ** Math.ceil(Math.log2(need))));

export class Generator {
  private readonly sessions = new Map<string, Promise<EngineSession>>();
  readonly options: GeneratorOptions;

  constructor(
    private readonly backend: Backend,
    private readonly model: ModelSpec,
    /** The current device weights, read at every run (training may replace them between runs). */
    private readonly weights: () => Record<string, Tensor> | Promise<Record<string, Tensor>>,
    private readonly tok: Detokenizer,
    o: Partial<GeneratorOptions> = {},
  ) {
    const cache = Math.min(o.cache ?? 256, familyOf(model.config).maxPositions(model.config));
    this.options = { cache, prefillChunk: Math.min(o.prefillChunk ?? 32, cache) };
  }

  private session(step: number, cache: number): Promise<EngineSession> {
    const key = `${step}/${cache}`;
    let s = this.sessions.get(key);
    if (!s) {
      const g = buildGenerateGraph(this.model, { step, cache }, this.backend.target);
      s = this.backend.createSession(g, { keepOnDevice: (n) => n.startsWith('present.') });
      this.sessions.set(key, s);
    }
    return s;
  }

  /** The cache length for a call: prompt + budget rounded up to a power of two (at least 64), within the capacity. */
  cacheFor(promptLength: number, maxNewTokens: number): number {
    return cacheLength(promptLength + maxNewTokens, this.options.cache);
  }

  /** Logits after feeding `ids` at `position`; reads the cache from `cache.from`, writes it into `cache.to`. */
  private async feed(ids: number[], position: number, cache: Caches): Promise<Float32Array> {
    const S = ids.length === 1 ? 1 : Math.min(this.options.prefillChunk, cache.length);
    const session = await this.session(S, cache.length);
    return this.backend.exclusive(() => this.feedLocked(session, S, ids, position, cache));
  }

  private async feedLocked(
    session: EngineSession,
    S: number,
    ids: number[],
    position: number,
    cache: Caches,
  ): Promise<Float32Array> {
    const padded = Int32Array.from({ length: S }, (_, i) => ids[i] ?? this.tok.eosId);
    const T = this.backend.ort.Tensor;
    const W = await this.weights();
    const feeds: Record<string, Tensor> = {
      input_ids: new T('int32', padded, [1, S]),
      position: new T('int32', Int32Array.of(position), [1]),
      last_index: new T('int32', Int32Array.of(ids.length - 1), [1]),
    };
    for (const p of allParams(this.model)) feeds[p.name] = W[p.name];
    const into: Record<string, Tensor> = {};
    const L = familyOf(this.model.config).layers(this.model.config);
    for (let i = 0; i < L; i++) {
      for (const [k, kv] of [
        [0, 'key'],
        [1, 'value'],
      ] as const) {
        feeds[pastName(i, kv)] = cache.from[2 * i + k];
        into[presentName(i, kv)] = cache.to[2 * i + k];
      }
    }
    const out = await session.run(feeds, { ...into, logits: null });
    // onnxruntime-web's WASM build leaves a pre-allocated CPU output untouched and returns a new tensor instead: the
    // returned one holds the values, so it becomes the cache (without this every token saw an empty cache there)
    for (let i = 0; i < L; i++) {
      for (const [k, kv] of [
        [0, 'key'],
        [1, 'value'],
      ] as const) {
        const t = out[presentName(i, kv)];
        if (t && t !== cache.to[2 * i + k]) {
          cache.to[2 * i + k].dispose();
          cache.to[2 * i + k] = t;
        }
      }
    }
    [cache.from, cache.to] = [cache.to, cache.from];
    return this.backend.download(out.logits);
  }

  async *stream(prompt: readonly number[], o: GenerateOptions): AsyncGenerator<GenerateEvent> {
    validateSampling(o);
    const { cache: cap, prefillChunk } = this.options;
    if (prompt.length === 0) throw new RangeError('the prompt is empty');
    if (prompt.length >= cap)
      throw new RangeError(`the prompt has ${prompt.length} tokens; the context holds ${cap}, so shorten it`);
    const c = this.model.config;
    const Lc = this.cacheFor(prompt.length, o.maxNewTokens);
    const f = familyOf(c);
    const { kvHeads, headDim } = f.attention(c);
    const dims = [1, kvHeads, Lc, headDim]; // the KV heads only (grouped-query attention shares them)
    const set = () => Array.from({ length: 2 * f.layers(c) }, () => this.backend.zeros(dims));
    const cache: Caches = { length: Lc, from: set(), to: set() };
    const rng = new Rng(o.seed ?? 0);
    const started = performance.now();
    const reply = new ReplyText(this.tok, o.stopStrings);
    const out = reply.tokens;
    let reason: StopReason = 'max-tokens';
    try {
      let logits!: Float32Array;
      const chunk = Math.min(prefillChunk, Lc);
      for (let p = 0; p < prompt.length; p += chunk) logits = await this.feed(prompt.slice(p, p + chunk), p, cache);
      let position = prompt.length;
      while (out.length < o.maxNewTokens) {
        if (o.signal?.aborted) {
          reason = 'aborted';
          break;
        }
        const next = sampleToken(logits, o, [...prompt, ...out], rng);
        if (reply.isEnd(next)) {
          reason = 'eos';
          break;
        }
        const delta = reply.push(next);
        if (delta !== null) yield { type: 'token', token: next, text: delta };
        if (reply.stopped) {
          reason = 'stop-string';
          break;
        }
        if (position >= Lc) {
          reason = 'context-full';
          break;
        }
        if (out.length < o.maxNewTokens) logits = await this.feed([next], position++, cache);
      }
    } finally {
      for (const t of [...cache.from, ...cache.to]) t.dispose();
    }
    const seconds = (performance.now() - started) / 1000;
    yield {
      type: 'done',
      reason,
      tokens: out,
      text: reply.final(),
      tokensPerSecond: out.length / seconds,
    };
  }

  async release(): Promise<void> {
    for (const s of this.sessions.values()) await (await s).release();
    this.sessions.clear();
  }
}
