// Continuous batching for a served model: requests join and leave between tokens, and every running one decodes
// in one batched step, so the weights are read once per step for all of them. The prompts of requests that join are
// prefilled together, one chunk each per step (so a long prompt does not stall the others), into their slots.
// The cache is one (B, Hkv, L, D) array per layer, key and value, that the graphs only read (models/batch-cache.ts);
// each run's new keys and values are written into it here, in place. B (slots) and L (positions) are powers of
// two, grown as requests arrive and shrunk as they leave: a step's cost follows the batch it holds, not the most
// it could. The arrays live in this process (the CPU backend feeds them without a copy; node's WebGPU EP uploads
// them each run, correct but slow). Greedy replies are the single-stream generator's exactly (batch.test.ts).
import type { Tensor } from 'onnxruntime-common';
import { buildServeGraph } from '../artifacts/build.js';
import { allParams, pastName, type ModelSpec } from '../artifacts/model.js';
import { newKvName } from '../models/batch-cache.js';
import { familyOf } from '../models/family.js';
import type { Backend, EngineSession } from '../runtime/backend.js';
import type { Weights } from '../models/init.js';
import { weightFeeds } from '../runtime/feeds.js';
import { Rng } from '../util/rng.js';
import { cacheLength, type Detokenizer, type GenerateOptions, type StopReason } from './generator.js';
import { ReplyText } from './reply.js';
import { sampleToken, topIndices, validateSampling } from './sampling.js';

export interface BatchOptions {
  /** Requests decoded together at most. */
  readonly maxBatch: number;
  /** Positions per request (prompt + reply) at most: the model's context or less. */
  readonly context: number;
  /** Prompt tokens per prefill run. */
  readonly prefillChunk: number;
  /**
   * The weights as constant initializers, which onnxruntime prepacks once per session (two sessions: decoding and
   * prefill, each with its packed copy), or as graph inputs (repacked on every call from 2 rows on). Default: as
   * initializers up to 1 GiB of float32 weights (a graph file is one protobuf, under 2 GB), inputs past it.
   */
  readonly initializers: boolean;
}

export interface BatchRequest extends GenerateOptions {
  /** The log-probabilities of this many most likely tokens at each step (0: the chosen token's only). */
  readonly topLogprobs?: number;
  /** Whether to compute log-probabilities at all. */
  readonly logprobs?: boolean;
}

export interface TokenLogprob {
  readonly logprob: number;
  readonly top: readonly { token: number; logprob: number }[];
}

export type BatchEvent =
  /** text: what the token adds ('' while it leaves a character incomplete). */
  | { type: 'token'; token: number; text: string; logprob?: TokenLogprob }
  | { type: 'done'; reason: StopReason; tokens: number[]; text: string; promptTokens: number };

interface Slot {
  readonly prompt: readonly number[];
  readonly o: BatchRequest;
  readonly reply: ReplyText;
  readonly rng: Rng;
  /** Positions the request needs: its prompt and budget, within the context. */
  readonly need: number;
  /** Prompt tokens in the cache so far. */
  prefilled: number;
  /** The next free position: the tokens in the cache. */
  position: number;
  /** The next token's distribution, once prefilled. */
  logits: Float32Array | null;
  /** The token the next decoding step feeds. */
  next: number;
  /** Ended by the consumer or its signal (an 'aborted' done goes out as it leaves), or finished (its done went out). */
  cancelled: boolean;
  finished: boolean;
  push(e: BatchEvent | Error): void;
}

const pow2 = (n: number) => 2 ** Math.ceil(Math.log2(Math.max(1, n)));

export class BatchDecoder {
  private readonly sessions = new Map<string, Promise<EngineSession>>();
  private readonly queue: Slot[] = [];
  private active: Slot[] = [];
  /** The cache: 2 arrays per layer (key, value), each (B, Hkv, L, D). */
  private cache: { B: number; L: number; data: Float32Array[] } | null = null;
  private running: Promise<void> | null = null;
  private readonly layers: number;
  private readonly kvHeads: number;
  private readonly headDim: number;
  private readonly feedsOfWeights: Record<string, Tensor>;
  readonly options: BatchOptions;
  /** Decoding steps run and rows they carried (for the benchmark's occupancy). */
  readonly stats = { steps: 0, rows: 0, prefills: 0 };

  constructor(
    private readonly backend: Backend,
    private readonly model: ModelSpec,
    private readonly weights: Weights,
    private readonly tok: Detokenizer,
    o: Partial<BatchOptions> = {},
  ) {
    const c = model.config;
    const f = familyOf(c);
    const context = Math.min(o.context ?? 1024, f.maxPositions(c));
    const bytes = allParams(model).reduce((n, p) => n + 4 * p.shape.reduce((a, b) => a * b, 1), 0);
    this.options = {
      maxBatch: o.maxBatch ?? 8,
      context,
      prefillChunk: Math.min(o.prefillChunk ?? 32, context),
      initializers: o.initializers ?? bytes <= 2 ** 30,
    };
    this.feedsOfWeights = this.options.initializers ? {} : weightFeeds(backend, allParams(model), weights);
    this.layers = f.layers(c);
    ({ kvHeads: this.kvHeads, headDim: this.headDim } = f.attention(c));
  }

  /** Requests decoding now and waiting for a slot. */
  get load(): { active: number; queued: number } {
    return { active: this.active.length, queued: this.queue.length };
  }

  /**
   * Queues a request and streams its tokens as the batch decodes them, then one 'done'. Ending the iteration early
   * (or the signal) frees its slot before the next step.
   */
  async *generate(prompt: readonly number[], o: BatchRequest): AsyncGenerator<BatchEvent> {
    validateSampling(o);
    const { context } = this.options;
    if (prompt.length === 0) throw new RangeError('the prompt is empty');
    if (prompt.length >= context)
      throw new RangeError(`the prompt has ${prompt.length} tokens; the context holds ${context}, so shorten it`);
    const events: (BatchEvent | Error)[] = [];
    let wake: (() => void) | null = null;
    const slot: Slot = {
      prompt,
      o,
      reply: new ReplyText(this.tok, o.stopStrings),
      rng: new Rng(o.seed ?? 0),
      need: Math.min(context, prompt.length + o.maxNewTokens),
      prefilled: 0,
      position: 0,
      logits: null,
      next: 0,
      cancelled: false,
      finished: false,
      push(e) {
        events.push(e);
        wake?.();
      },
    };
    this.queue.push(slot);
    this.pump();
    try {
      for (;;) {
        if (!events.length) await new Promise<void>((r) => (wake = r));
        wake = null;
        const e = events.shift()!;
        if (e instanceof Error) throw e;
        yield e;
        if (e.type === 'done') return;
      }
    } finally {
      slot.cancelled = true; // a consumer that stops early: the loop drops the slot before its next step
    }
  }

  private pump(): void {
    this.running ??= this.loop()
      .catch((e: Error) => {
        for (const s of [...this.active, ...this.queue.splice(0)]) s.push(e);
        this.active = [];
        this.cache = null;
      })
      .finally(() => {
        this.running = null;
        if (this.queue.length) this.pump();
      });
  }

  private async loop(): Promise<void> {
    while (this.active.length || this.queue.length) {
      while (this.queue.length && this.active.length < this.options.maxBatch) this.admit(this.queue.shift()!);
      for (const s of this.active) if (s.o.signal?.aborted) s.cancelled = true;
      this.drop(this.active.filter((s) => s.cancelled));
      // every request still prefilling feeds one chunk, all in one run
      const prefilling = this.active.filter((s) => s.prefilled < s.prompt.length);
      if (prefilling.length) await this.prefill(prefilling);
      for (const s of this.active) if (s.logits) this.advance(s);
      this.drop(this.active.filter((s) => s.finished));
      const decoding = this.active.filter((s) => s.logits === null && s.prefilled === s.prompt.length);
      if (decoding.length) await this.decode();
      // let the event loop deliver tokens and take new requests between steps
      await new Promise<void>((r) => setImmediate(r));
    }
    this.cache = null;
  }

  /** A request takes the next slot; the cache grows to hold it. */
  private admit(s: Slot): void {
    if (s.cancelled || s.o.signal?.aborted) {
      s.push(this.done(s, 'aborted'));
      return;
    }
    this.active.push(s);
    this.resize(this.active.length, Math.max(this.cache?.L ?? 0, this.bucket(s.need)));
  }

  private bucket(need: number): number {
    return cacheLength(need, this.options.context);
  }

  /** The cache at B' slots (a power of two within maxBatch) of L positions; slots keep their index and contents. */
  private resize(slots: number, L: number): void {
    const B = Math.min(pow2(slots), this.options.maxBatch);
    const old = this.cache;
    if (old && old.B === B && old.L === L) return;
    const [H, D] = [this.kvHeads, this.headDim];
    const data = Array.from({ length: 2 * this.layers }, () => new Float32Array(B * H * L * D));
    if (old) {
      const keep = Math.min(L, old.L) * D;
      for (let a = 0; a < data.length; a++)
        for (let b = 0; b < Math.min(B, old.B, this.active.length); b++)
          for (let h = 0; h < H; h++) {
            const from = (b * H + h) * old.L * D;
            data[a].set(old.data[a].subarray(from, from + keep), (b * H + h) * L * D);
          }
    }
    this.cache = { B, L, data };
  }

  /** Drops finished or cancelled requests: the last slots move into the holes, and the cache shrinks. */
  private drop(gone: Slot[]): void {
    for (const s of gone) {
      const i = this.active.indexOf(s);
      if (i < 0) continue;
      if (!s.finished) s.push(this.done(s, 'aborted'));
      const last = this.active.length - 1;
      if (i !== last) {
        this.moveSlot(last, i);
        this.active[i] = this.active[last];
      }
      this.active.pop();
    }
    if (!this.active.length) this.cache = null;
    else if (this.cache && this.active.length <= this.cache.B / 2) this.resize(this.active.length, this.cache.L);
  }

  private moveSlot(from: number, to: number): void {
    const c = this.cache!;
    const n = this.kvHeads * c.L * this.headDim;
    for (const a of c.data) a.copyWithin(to * n, from * n, (from + 1) * n);
  }

  /** The session for S tokens per row (one for any batch and cache length: their dims are symbolic). */
  private session(S: number): Promise<EngineSession> {
    const key = String(S);
    let s = this.sessions.get(key);
    if (!s) {
      const W = this.options.initializers ? this.weights : undefined;
      const g = buildServeGraph(this.model, { step: S, context: this.options.context }, this.backend.target, W);
      s = this.backend.createSession(g);
      this.sessions.set(key, s);
    }
    return s;
  }

  /**
   * A run's feeds: B rows of S tokens from each row's first position `positions[b]` (the tokens its cache holds,
   * so the past mask shows slots below it), the cache arrays (B, Hkv, L, D), and for a chunk each row's last token.
   */
  private feeds(
    ids: Int32Array,
    positions: Int32Array,
    B: number,
    S: number,
    cache: Float32Array[],
    L: number,
    last?: Int32Array,
  ) {
    const T = this.backend.ort.Tensor;
    const posIds = new Int32Array(B * S);
    const mask = new Float32Array(B * L).fill(-1e9);
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < S; t++) posIds[b * S + t] = positions[b] + t;
      mask.fill(0, b * L, b * L + positions[b]);
    }
    const feeds: Record<string, Tensor> = {
      ...this.feedsOfWeights,
      input_ids: new T('int32', ids, [B, S]),
      position_ids: new T('int32', posIds, [B * S]),
      past_mask: new T('float32', mask, [B, L]),
    };
    if (last)
      feeds.last_index = new T(
        'int32',
        last.map((x, b) => b * S + x),
        [B],
      );
    const dims = [B, this.kvHeads, L, this.headDim];
    for (let i = 0; i < this.layers; i++) {
      feeds[pastName(i, 'key')] = new T('float32', cache[2 * i], dims);
      feeds[pastName(i, 'value')] = new T('float32', cache[2 * i + 1], dims);
    }
    return feeds;
  }

  /**
   * Writes a run's new keys and values (B, Hkv, S, D): for each [b, slot, n], tokens [0, n) of row b into the slot
   * from position positions[b].
   */
  private async writeNew(
    out: Record<string, Tensor>,
    rows: readonly (readonly [number, number, number])[],
    positions: Int32Array,
    S: number,
  ) {
    const { L, data } = this.cache!;
    const [H, D] = [this.kvHeads, this.headDim];
    for (let i = 0; i < this.layers; i++)
      for (const [k, kv] of [
        [0, 'key'],
        [1, 'value'],
      ] as const) {
        const src = await this.backend.download(out[newKvName(i, kv)]);
        const dst = data[2 * i + k];
        for (const [b, slot, n] of rows)
          for (let h = 0; h < H; h++) {
            const from = (b * H + h) * S * D;
            dst.set(src.subarray(from, from + n * D), ((slot * H + h) * L + positions[b]) * D);
          }
      }
  }

  /**
   * One prompt chunk of each request prefilling, in one run of B rows: a lone request reads its slot's rows in place
   * (a view, no copy); several read a copy of their slots (none while every prompt is at its start: empty caches).
   */
  private async prefill(slots: readonly Slot[]): Promise<void> {
    const { L, data } = this.cache!;
    const S = Math.min(this.options.prefillChunk, L);
    const B = Math.min(pow2(slots.length), this.options.maxBatch);
    const n = this.kvHeads * L * this.headDim;
    const at = slots.map((s) => this.active.indexOf(s));
    const fresh = slots.every((s) => s.prefilled === 0);
    const cache =
      slots.length === 1
        ? data.map((a) => a.subarray(at[0] * n, (at[0] + 1) * n))
        : data.map((a) => {
            const rows = new Float32Array(B * n);
            if (!fresh) at.forEach((slot, r) => rows.set(a.subarray(slot * n, (slot + 1) * n), r * n));
            return rows;
          });
    const ids = new Int32Array(B * S).fill(this.tok.eosId);
    const positions = new Int32Array(B);
    const last = new Int32Array(B);
    const chunks = slots.map((s, r) => {
      const chunk = s.prompt.slice(s.prefilled, s.prefilled + S);
      ids.set(chunk, r * S);
      positions[r] = s.prefilled;
      last[r] = chunk.length - 1;
      return chunk.length;
    });
    const out = await (await this.session(S)).run(this.feeds(ids, positions, B, S, cache, L, S > 1 ? last : undefined));
    await this.writeNew(
      out,
      at.map((slot, r) => [r, slot, chunks[r]] as const),
      positions,
      S,
    );
    const logits = await this.backend.download(out.logits);
    const V = logits.length / B;
    slots.forEach((s, r) => {
      s.prefilled += chunks[r];
      s.position = s.prefilled;
      if (s.prefilled === s.prompt.length) s.logits = logits.slice(r * V, (r + 1) * V);
    });
    this.stats.prefills++;
  }

  /** Samples a request's next token from its logits: streams it, or ends the request. */
  private advance(s: Slot): void {
    const logits = s.logits!;
    s.logits = null;
    const end = (reason: StopReason) => {
      s.push(this.done(s, reason));
      s.finished = true;
    };
    const next = sampleToken(logits, s.o, [...s.prompt, ...s.reply.tokens], s.rng);
    if (s.reply.isEnd(next)) return end('eos');
    const text = s.reply.push(next) ?? '';
    s.push({
      type: 'token',
      token: next,
      text,
      ...(s.o.logprobs ? { logprob: logprobsOf(logits, next, s.o.topLogprobs ?? 0) } : {}),
    });
    if (s.reply.stopped) return end('stop-string');
    if (s.reply.tokens.length >= s.o.maxNewTokens) return end('max-tokens');
    if (s.position >= this.options.context) return end('context-full');
    s.next = next;
  }

  private done(s: Slot, reason: StopReason): BatchEvent {
    return { type: 'done', reason, tokens: s.reply.tokens, text: s.reply.final(), promptTokens: s.prompt.length };
  }

  /** One token for every request that is decoding, in one run over the cache's B rows (idle rows are padding). */
  private async decode(): Promise<void> {
    const { B, L, data } = this.cache!;
    const ids = new Int32Array(B).fill(this.tok.eosId);
    const positions = new Int32Array(B);
    const rows: number[] = [];
    this.active.forEach((s, b) => {
      if (s.logits !== null || s.prefilled < s.prompt.length) return;
      ids[b] = s.next;
      positions[b] = s.position;
      rows.push(b);
    });
    const out = await (await this.session(1)).run(this.feeds(ids, positions, B, 1, data, L));
    await this.writeNew(
      out,
      rows.map((b) => [b, b, 1] as const),
      positions,
      1,
    );
    const logits = await this.backend.download(out.logits);
    const V = logits.length / B;
    for (const b of rows) {
      const s = this.active[b];
      s.position++;
      s.logits = logits.slice(b * V, (b + 1) * V);
    }
    this.stats.steps++;
    this.stats.rows += rows.length;
  }

  async release(): Promise<void> {
    await this.running;
    for (const s of this.sessions.values()) await (await s).release();
    this.sessions.clear();
  }
}

/** The chosen token's log-probability under the model and the `k` most likely tokens'. */
export function logprobsOf(logits: Float32Array, chosen: number, k: number): TokenLogprob {
  let max = -Infinity;
  for (const x of logits) if (x > max) max = x;
  let z = 0;
  for (const x of logits) z += Math.exp(x - max);
  const lse = max + Math.log(z);
  return {
    logprob: logits[chosen] - lse,
    top: k > 0 ? topIndices(logits, k).map((t) => ({ token: t, logprob: logits[t] - lse })) : [],
  };
}
