// The Llama family's generation graph (llama-cache.ts) against the independent TypeScript forward
// (llama.reference.ts) on onnxruntime's CPU EP: prompts prefilled in one chunk, in chunks with a padded tail (even
// one running past the last slot), then tokens decoded one at a time give the reference's logits at every position
// within 1e-4, for each variant and each target's graph (ScatterND, Where, the WebGPU target's Einsum forms).
import { beforeAll, describe, expect, it } from 'vitest';
import { WEBGPU_TARGET } from '../artifacts/counts.js';
import { pastName, presentName } from '../artifacts/model.js';
import { Graph, type GraphOptions } from '../onnx/graph.js';
import { serializeModel } from '../onnx/proto.js';
import type { BuiltGraph } from '../artifacts/model.js';
import type { Backend, EngineSession, Feeds } from '../runtime/backend.js';
import { createNodeBackend } from '../runtime/node.js';
import { llama3Scaling, llamaTestWeights, nodesOffWebGpu, tinyLlama } from '../testing/llama-configs.js';
import type { Weights } from './init.js';
import { llamaGenerateGraphBody } from './llama-cache.js';
import { llamaParams, parseLlamaConfig, type LlamaConfig } from './llama-config.js';
import { llamaReferenceLogits } from './llama.reference.js';

let cpu: Backend;
beforeAll(async () => {
  cpu = await createNodeBackend('node-cpu', { threads: 1 });
});

const V = 29;
const variants: [string, LlamaConfig][] = [
  ['llama: 4 heads on 2 KV heads, tied head', tinyLlama('smollm2', { vocab_size: V, rms_norm_eps: 1e-5 })],
  [
    'qwen2: q/k/v biases, 4 heads on 1 KV head, untied head',
    tinyLlama('qwen2', { vocab_size: V, intermediate_size: 40, num_key_value_heads: 1, rope_theta: 1e6 }),
  ],
  ['qwen3: q/k norms, head_dim 16 (not 32 / 4), 4 heads on 2 KV heads', tinyLlama('qwen3', { vocab_size: V })],
  [
    'llama 3: llama3 RoPE scaling, attention_bias, hidden 64, 4 heads on 4 KV heads',
    tinyLlama('llama3', {
      vocab_size: V,
      hidden_size: 64,
      intermediate_size: 96,
      num_key_value_heads: 4,
      attention_bias: true,
      tie_word_embeddings: false,
      // original 8: wavelens from 2 pi to ~2 pi 500000^(7/8) span high (8 / 4 = 2) to low (8): smoothed and divided
      rope_scaling: llama3Scaling(8, 8),
    }),
  ],
];

const targets: [string, GraphOptions][] = [
  ['CPU target (ScatterND)', { scatterAdd: true }],
  ['no-scatter target (Where)', {}],
  ['WebGPU target (Einsum)', WEBGPU_TARGET],
];

const testWeights = (c: LlamaConfig, seed: number) => llamaTestWeights(c, seed, { matrix: 0.25, norm: 0.2, bias: 0.2 });

const L = 12;
const PAD = 7; // what the generator pads a chunk with (its end-of-text): a real token, so its keys are garbage
const seq = [3, 17, 4, 1, 25, 9, 2, 26, 5, 3, 11, 28]; // L tokens: positions 0..11

/** A decoder over one cache of L slots: sessions per step size S, the cache carried from run to run. */
class Decoder {
  private sessions = new Map<number, EngineSession>();
  cache: Feeds = {};
  constructor(
    readonly c: LlamaConfig,
    readonly W: Weights,
    readonly target: GraphOptions,
    readonly be: Backend = cpu,
  ) {
    this.reset();
  }
  reset() {
    const dims = [1, this.c.num_key_value_heads, L, this.c.head_dim];
    for (let i = 0; i < this.c.num_hidden_layers; i++)
      for (const kv of ['key', 'value'] as const)
        this.cache[pastName(i, kv)] = new cpu.ort.Tensor(
          'float32',
          new Float32Array(dims.reduce((a, b) => a * b)),
          dims,
        );
  }
  /** The generate graph for S new tokens. */
  graph(S: number): BuiltGraph {
    const g = new Graph(`generate_s${S}`, this.target);
    const P = Object.fromEntries(llamaParams(this.c).map((p) => [p.name, g.input(p.name, 'float32', p.shape)]));
    const ids = g.input('input_ids', 'int32', [1, S]);
    llamaGenerateGraphBody(
      g,
      this.c,
      P,
      ids,
      g.input('position', 'int32', [1]),
      g.input('last_index', 'int32', [1]),
      L,
    );
    return { name: g.name, bytes: serializeModel(g), inputs: [], outputs: g.outputs.map((o) => g.nameOf(o)) };
  }
  private async session(S: number) {
    let s = this.sessions.get(S);
    if (!s) this.sessions.set(S, (s = await this.be.createSession(this.graph(S))));
    return s;
  }
  /** The weights and the cache as feeds. */
  feeds(): Feeds {
    const Tn = this.be.ort.Tensor;
    return {
      ...Object.fromEntries(llamaParams(this.c).map((p) => [p.name, new Tn('float32', this.W[p.name], p.shape)])),
      ...this.cache,
    };
  }
  /** Logits (V) of the last of `ids` fed at `position` in a chunk of S (padded); the cache moves on only if `keep`. */
  async feed(ids: number[], position: number, S = ids.length, keep = true): Promise<Float32Array> {
    const Tn = this.be.ort.Tensor;
    const s = await this.session(S);
    const out = await s.run({
      ...this.feeds(),
      input_ids: new Tn(
        'int32',
        Int32Array.from({ length: S }, (_, i) => ids[i] ?? PAD),
        [1, S],
      ),
      position: new Tn('int32', Int32Array.of(position), [1]),
      last_index: new Tn('int32', Int32Array.of(ids.length - 1), [1]),
    });
    for (let i = 0; i < this.c.num_hidden_layers; i++)
      for (const kv of ['key', 'value'] as const) {
        const t = out[presentName(i, kv)];
        expect(t.dims).toEqual([1, this.c.num_key_value_heads, L, this.c.head_dim]);
        if (keep) this.cache[pastName(i, kv)] = t;
      }
    expect(out.logits.dims).toEqual([1, V]);
    return out.logits.data as Float32Array;
  }
  /** Whether slot p of layer 0's keys holds anything. */
  written(p: number): boolean {
    const D = this.c.head_dim;
    const k = this.cache[pastName(0, 'key')].data as Float32Array;
    return k.subarray(p * D, (p + 1) * D).some((x) => x !== 0);
  }
  async release() {
    for (const s of this.sessions.values()) await s.release();
  }
}

/** A check of logits at position t against the reference, keeping the largest difference. */
function checker(ref: Float64Array[]) {
  const st = { maxDiff: 0, maxAbs: 0 };
  const check = (logits: Float32Array, t: number, what: string) => {
    let d = 0;
    ref[t].forEach((v, k) => {
      st.maxAbs = Math.max(st.maxAbs, Math.abs(v));
      d = Math.max(d, Math.abs(v - logits[k]));
    });
    expect(d, `${what}: position ${t}`).toBeLessThan(1e-4);
    st.maxDiff = Math.max(st.maxDiff, d);
  };
  return { st, check };
}

describe('Llama-family generation with a KV cache of KV heads gives the reference logits at every position', () => {
  const cases = variants.flatMap(([name, c]) => targets.map(([t, o]) => [`${name}; ${t}`, c, o] as const));
  it.each(cases)('%s', async (name, c, target) => {
    const W = testWeights(c, 5);
    const ref = llamaReferenceLogits(c, W, seq); // (L, V): causal, so each prefix's logits are its rows
    const { st, check } = checker(ref);
    const dec = new Decoder(c, W, target);
    const decodeFrom = async (p: number) => {
      for (let t = p; t < L; t++) check(await dec.feed([seq[t]], t), t, 'decoded');
    };

    // one chunk of 6: the logits at each row (last_index 0..5, the cache left as it was), then tokens 6..11
    for (let t = 0; t < 6; t++) check(await dec.feed(seq.slice(0, t + 1), 0, 6, t === 5), t, 'one chunk');
    await decodeFrom(6);

    // chunks of 4: [0..3], then [4, 5, pad, pad], whose padded keys at slots 6 and 7 the decoded tokens overwrite
    dec.reset();
    check(await dec.feed(seq.slice(0, 4), 0), 3, 'first chunk');
    check(await dec.feed(seq.slice(4, 6), 4, 4), 5, 'padded chunk');
    expect(dec.written(7), 'the padded tail wrote slot 7').toBe(true);
    expect(dec.written(8)).toBe(false);
    await decodeFrom(6);

    // chunks of 5 over 11 tokens: the last, [10, pad x 4] at positions 10..14, runs past the last slot (11)
    dec.reset();
    check(await dec.feed(seq.slice(0, 5), 0), 4, 'first chunk');
    check(await dec.feed(seq.slice(5, 10), 5), 9, 'second chunk');
    check(await dec.feed(seq.slice(10, 11), 10, 5), 10, 'chunk past the end');
    await decodeFrom(11);

    await dec.release();
    console.log(`${name}: max |logit| ${st.maxAbs.toFixed(2)}, max difference ${st.maxDiff.toExponential(2)}`);
    expect(st.maxAbs).toBeGreaterThan(1);
  });
});

describe('Llama-family generation on the WebGPU EP', () => {
  let gpu: Backend;
  beforeAll(async () => {
    gpu = await createNodeBackend('node-webgpu');
  });
  // qwen3 (q/k norms, grouped heads, head_dim apart) and qwen2 (biases, an untied head): each ~10-20 s on
  // SwiftShader, mostly compiling shaders
  it.each([variants[2], variants[1]])(
    "%s: the reference's logits through a padded chunk and decoding, every node on the GPU",
    async (name, c) => {
      const W = testWeights(c, 5);
      const { st, check } = checker(llamaReferenceLogits(c, W, seq));
      const dec = new Decoder(c, W, gpu.target, gpu);
      check(await dec.feed(seq.slice(0, 4), 0), 3, 'first chunk');
      check(await dec.feed(seq.slice(4, 6), 4, 4), 5, 'padded chunk');
      for (let t = 6; t < 9; t++) check(await dec.feed([seq[t]], t), t, 'decoded');
      await dec.release();
      console.log(`${name} on WebGPU: max difference ${st.maxDiff.toExponential(2)}`);
      const Tn = gpu.ort.Tensor;
      for (const S of [1, 4]) {
        const feeds = {
          ...dec.feeds(),
          input_ids: new Tn('int32', new Int32Array(S).fill(PAD), [1, S]),
          position: new Tn('int32', Int32Array.of(8), [1]),
          last_index: new Tn('int32', Int32Array.of(0), [1]),
        };
        expect(await nodesOffWebGpu(gpu, dec.graph(S), feeds), `step ${S}: nodes off the WebGPU EP`).toEqual([]);
      }
    },
  );
});

describe('Llama-family generation: nodes per generated token (each a GPU dispatch on WebGPU)', () => {
  // SmolLM2-135M's shape; the count is per layer, so a 2- and a 3-layer graph tell it without building 30 layers
  const smol = (layers: number, extra: object = {}) =>
    parseLlamaConfig({
      model_type: 'llama',
      hidden_size: 576,
      intermediate_size: 1536,
      num_hidden_layers: layers,
      num_attention_heads: 9,
      num_key_value_heads: 3,
      vocab_size: 49152,
      tie_word_embeddings: true,
      ...extra,
    });
  const nodes = (c: LlamaConfig, target: GraphOptions) => {
    const g = new Graph('count', target);
    const P = Object.fromEntries(llamaParams(c).map((p) => [p.name, g.input(p.name, 'float32', p.shape)]));
    const [ids, pos, last] = [g.input('i', 'int32', [1, 1]), g.input('p', 'int32', [1]), g.input('l', 'int32', [1])];
    llamaGenerateGraphBody(g, c, P, ids, pos, last, 256);
    return g.nodes.length;
  };
  it.each([
    ['Llama, WebGPU target', {}, WEBGPU_TARGET, 31],
    ['Qwen2 (q/k/v bias Adds), WebGPU target', { model_type: 'qwen2' }, WEBGPU_TARGET, 34],
    ['Qwen3 (q/k norms), WebGPU target', { model_type: 'qwen3', head_dim: 64 }, WEBGPU_TARGET, 39],
    ['Llama, CPU target', {}, { scatterAdd: true }, 46],
  ] as const)('%s: %d nodes a layer', (_name, extra, target, perLayer) => {
    expect(nodes(smol(3, extra), target) - nodes(smol(2, extra), target)).toBe(perLayer);
  });
});
