// Loading the Llama family's Hub layouts (llama-fixtures.ts: SmolLM2, Qwen2.5, Qwen3, Llama 3.2 shaped) through the
// stand-in Hub and from a local folder: the config, every weight as written, the tokenizer and its chat template
// wherever the repo keeps it, the end ids, shards streamed; and each refusal with its message, before the weights
// are downloaded where it can be, and with nothing already cached lost.
import { Template } from '@huggingface/jinja';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Tokenizer } from '../data/tokenizer.js';
import { gpt2TokenizerFromPackage } from '../data/tokenizer.node.js';
import { caught } from '../testing/caught.js';
import { hubCheckpoint } from '../testing/checkpoint.js';
import { startStandInHub, type StandInHub } from '../testing/hub-server.js';
import {
  folderFiles,
  LLAMA_VARIANTS,
  specialIds,
  TINY_DIMS,
  writeLlamaFixture,
  type LlamaFixture,
  type LlamaVariant,
} from '../testing/llama-fixtures.js';
import { FsHubCache } from './cache.node.js';
import { HubClient, type Progress } from './client.js';
import { folderSource, loadFolderModel } from './folder.node.js';
import { loadCachedModel, loadHubModel, loadModelFiles, type ModelFiles } from './model.js';

const CHUNK = 16 * 1024;
let root: string;
let hub: StandInHub;
const fx = {} as Record<LlamaVariant, LlamaFixture>;
const files: Record<string, Uint8Array> = {};
const serve = (repo: string, f: Record<string, Uint8Array>) => {
  for (const [name, b] of Object.entries(f)) files[`${repo}@main/${name}`] = b;
};
const enc = (x: unknown) => new TextEncoder().encode(JSON.stringify(x));

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'fts-llama-load-'));
  for (const v of LLAMA_VARIANTS) {
    fx[v] = await writeLlamaFixture(join(root, v), v, { seed: 3 });
    serve(`t/${v}`, await folderFiles(fx[v].dir));
  }
  const smol = await folderFiles(fx.smollm2.dir);
  const llama3 = await folderFiles(fx.llama3.dir);
  const config = JSON.parse(new TextDecoder().decode(smol['config.json'])) as Record<string, unknown>;
  serve('t/mistral', { ...smol, 'config.json': enc({ ...config, model_type: 'mistral' }) });
  serve('t/bad-heads', { ...smol, 'config.json': enc({ ...config, num_key_value_heads: 3 }) });
  const { 'tokenizer.json': _, ...noTokenizer } = smol;
  serve('t/no-tokenizer', noTokenizer);
  const { 'model-00002-of-00002.safetensors': __, ...lostShard } = llama3;
  serve('t/lost-shard', lostShard);
  hub = await startStandInHub({ files });
});
afterAll(async () => {
  await hub?.close();
  await rm(root, { recursive: true, force: true });
});

const client = () =>
  new HubClient(new FsHubCache(join(root, `cache-${Math.random()}`)), { endpoint: hub.url, chunkBytes: CHUNK });
const sameBytes = (a: Float32Array | undefined, b: Float32Array) =>
  !!a && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

/** The model is the fixture: config, every weight bit for bit, tokenizer, template, end ids. */
function expectFixture(m: ModelFiles, f: LlamaFixture) {
  expect(m.config).toEqual(f.config);
  expect(Object.keys(m.weights).sort()).toEqual(Object.keys(f.weights).sort());
  for (const [k, w] of Object.entries(f.weights)) expect(sameBytes(m.weights[k], w), k).toBe(true);
  expect(m.tokenizer.config.chat_template).toBe(f.chatTemplate);
  expect(m.eosIds).toEqual(f.eosIds);
}

/** A conversation rendered with the loaded template, tokenized: special tokens as single ids, decoded back. */
function expectConversation(m: ModelFiles, v: LlamaVariant) {
  const tok = new Tokenizer(m.tokenizer);
  const c = m.tokenizer.config;
  const text = new Template(c.chat_template as string).render({
    messages: [
      { role: 'user', content: 'Hi! What is 2 + 2?' },
      { role: 'assistant', content: 'It is 4.' },
    ],
    add_generation_prompt: false,
    bos_token: c.bos_token ?? '',
    eos_token: c.eos_token,
  });
  const ids = tok.encode(text);
  const s = specialIds(v, TINY_DIMS.tokens);
  const turnStart = v === 'llama3' ? '<|start_header_id|>' : '<|im_start|>';
  const turnEnd = v === 'llama3' ? '<|eot_id|>' : '<|im_end|>';
  expect(ids.filter((i) => i === s[turnStart]).length).toBe(v === 'llama3' || v === 'qwen3' ? 2 : 3); // + a default system turn
  expect(ids.filter((i) => i === s[turnEnd]).length).toBe(v === 'llama3' || v === 'qwen3' ? 2 : 3);
  expect(tok.eosId).toBe(s[turnEnd]);
  expect(tok.decode(ids)).toBe(text);
  expect(text).toContain(v === 'llama3' ? 'assistant<|end_header_id|>\n\nIt is 4.<|eot_id|>' : 'It is 4.<|im_end|>');
  if (v === 'smollm2') expect(text).toContain('You are a helpful AI assistant named SmolLM');
  if (v === 'qwen2') expect(text).toContain('You are Qwen, created by Alibaba Cloud.');
}

describe.each(LLAMA_VARIANTS)('the %s layout', (v) => {
  it('loads through the Hub: config, every weight, tokenizer, chat template, end ids; then from the cache', async () => {
    const c = client();
    const events: Progress[] = [];
    const m = await loadHubModel(c, `t/${v}`, 'main', { onProgress: (p) => events.push(p) });
    expectFixture(m, fx[v]);
    expectConversation(m, v);
    const done = events.filter((e) => e.status === 'done').map((e) => e.file);
    expect(done.slice(0, 3)).toEqual(['config.json', 'tokenizer.json', 'tokenizer_config.json']);
    for (const f of fx[v].files) expect(done, f).toContain(f);
    const before = hub.requests.length;
    expectFixture(await loadHubModel(c, `t/${v}`), fx[v]);
    expect(hub.requests.length).toBe(before); // every file the repo has was cached; none it lacks is asked for
  });

  it('loads from the cache alone once downloaded (loadCachedModel: no client, no request)', async () => {
    const c = client();
    await loadHubModel(c, `t/${v}`);
    const before = hub.requests.length;
    const cache = (c as unknown as { cache: FsHubCache }).cache;
    expectFixture(await loadCachedModel(cache, hub.url, `t/${v}`, 'main'), fx[v]);
    expect(hub.requests.length).toBe(before);
  });

  it('loads from a local folder: the same model', async () => {
    const m = await loadFolderModel(fx[v].dir);
    expect(m).toMatchObject({ repo: v, revision: 'local' });
    expectFixture(m, fx[v]);
    expectConversation(m, v);
  });
});

describe('layouts', () => {
  it('qwen2: vocab_size past the tokenizer, biases and an untied head; qwen3: head_dim apart, q/k norms', () => {
    expect(fx.qwen2.config).toMatchObject({ vocab_size: 1088, tie_word_embeddings: false, qkv_bias: true });
    expect(fx.qwen2.weights['lm_head.weight']).toHaveLength(1088 * 64);
    expect(fx.qwen2.weights['model.layers.1.self_attn.v_proj.bias']).toHaveLength(32);
    expect(fx.qwen3.config).toMatchObject({ head_dim: 32, num_attention_heads: 4, hidden_size: 64, qk_norm: true });
    expect(fx.qwen3.weights['model.layers.0.self_attn.q_norm.weight']).toHaveLength(32);
    expect(fx.qwen3.files).toContain('chat_template.jinja');
    expect(fx.qwen3.tokenizer.config.chat_template).toBeUndefined();
    expect(fx.llama3.config.rope_scaling).toMatchObject({ rope_type: 'llama3', factor: 32 });
  });

  it('BF16 weights are rounded as stored; keepWeights false regenerates each from the seed', async () => {
    const w = fx.smollm2.weights['model.layers.0.mlp.up_proj.weight'];
    expect(new Uint32Array(w.buffer, w.byteOffset, w.length).every((u) => (u & 0xffff) === 0)).toBe(true);
    const f = await writeLlamaFixture(join(root, 'lean'), 'qwen2', { seed: 3, dtype: 'BF16', keepWeights: false });
    expect(f.weights).toEqual({});
    const m = await loadFolderModel(f.dir);
    for (const k of Object.keys(m.weights)) expect(sameBytes(m.weights[k], f.weight(k)), k).toBe(true);
  });

  it('reads every safetensors file as a stream, shard by shard, never whole', async () => {
    const src = folderSource(fx.llama3.dir);
    const whole: string[] = [];
    const opened: { file: string; chunks: number }[] = [];
    const m = await loadModelFiles(
      {
        get: (file, optional) => (whole.push(file), src.get(file, optional)),
        open: async (file, optional) => {
          const r = await src.open(file, optional);
          if (!r) return null;
          const entry = { file, chunks: 0 };
          opened.push(entry);
          return {
            size: r.size,
            async *chunks() {
              for await (const c of r.chunks())
                for (let o = 0; o < c.length; o += 4096) {
                  entry.chunks++;
                  yield c.subarray(o, o + 4096);
                }
            },
          };
        },
      },
      't/llama3',
      'main',
    );
    expectFixture(m, fx.llama3);
    expect(whole.filter((f) => f.endsWith('.safetensors'))).toEqual([]);
    expect(opened.map((o) => o.file)).toEqual(['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
    expect(opened.every((o) => o.chunks > 10)).toBe(true);
  });

  it('still loads a GPT-2, with its end id', async () => {
    const cfg = { vocab_size: 50257, n_positions: 64, n_embd: 32, n_layer: 1, n_head: 2, layer_norm_epsilon: 1e-5 };
    serve('t/gpt2', hubCheckpoint(cfg, gpt2TokenizerFromPackage().files));
    const m = await loadHubModel(client(), 't/gpt2');
    expect(m.config).toMatchObject({ n_embd: 32 });
    expect(m.eosIds).toEqual([50256]);
  });
});

describe('refusals', () => {
  const weightRequests = (from: number) => hub.requests.slice(from).filter((r) => r.includes('.safetensors'));

  it('an unsupported model_type, naming the supported ones, before any weight is downloaded', async () => {
    const before = hub.requests.length;
    await expect(loadHubModel(client(), 't/mistral')).rejects.toThrow(
      't/mistral/config.json: field "model_type" is "mistral"; supported: "gpt2", "llama", "qwen2", "qwen3"',
    );
    expect(weightRequests(before)).toEqual([]);
  });

  it('heads that do not divide, from config.json', async () => {
    await expect(loadHubModel(client(), 't/bad-heads')).rejects.toThrow(
      't/bad-heads/config.json: num_attention_heads 4 is not divisible by num_key_value_heads 3',
    );
  });

  it('a Llama-family repo without tokenizer.json, naming the file, before any weight is downloaded', async () => {
    const before = hub.requests.length;
    await expect(loadHubModel(client(), 't/no-tokenizer')).rejects.toThrow(
      "t/no-tokenizer has no tokenizer.json; a llama model needs it (the tokenizer's vocabulary, merges and added tokens)",
    );
    expect(weightRequests(before)).toEqual([]);
  });

  it('a shard the index names but the folder lacks, naming the index and the shard', async () => {
    const dir = join(root, 'lost-shard');
    await cp(fx.llama3.dir, dir, { recursive: true });
    await rm(join(dir, 'model-00002-of-00002.safetensors'));
    const err = await caught(loadFolderModel(dir));
    expect(err.message).toMatch(
      new RegExp(
        `^${dir}/model\\.safetensors\\.index\\.json: weight_map puts \\d+ tensor\\(s\\) \\(model\\.layers\\.\\S+, \\.\\.\\.\\) in model-00002-of-00002\\.safetensors, but ${dir} has no file model-00002-of-00002\\.safetensors$`,
      ),
    );
  });

  it('a tensor the index puts in a shard that lacks it', async () => {
    const dir = join(root, 'moved');
    await cp(fx.llama3.dir, dir, { recursive: true });
    const indexPath = join(dir, 'model.safetensors.index.json');
    const index = JSON.parse(await readFile(indexPath, 'utf8')) as { weight_map: Record<string, string> };
    index.weight_map['model.norm.weight'] = 'model-00001-of-00002.safetensors'; // it is in shard 2
    await writeFile(indexPath, JSON.stringify(index));
    await expect(loadFolderModel(dir)).rejects.toThrow(
      `${dir}/model-00001-of-00002.safetensors: has no tensor model.norm.weight, though model.safetensors.index.json puts it in this shard`,
    );
  });

  it('a failed load loses nothing already cached, and keeps what it downloaded for the next try', async () => {
    const c = client();
    const cache = (c as unknown as { cache: FsHubCache }).cache;
    await loadHubModel(c, 't/llama3');
    const cached = await cache.list();
    expect(cached.every((f) => f.complete)).toBe(true);
    const err = await caught(loadHubModel(c, 't/lost-shard'));
    expect(err.message).toMatch(
      /^t\/lost-shard\/model\.safetensors\.index\.json: weight_map puts .* but t\/lost-shard has no file model-00002-of-00002\.safetensors$/,
    );
    const after = await cache.list();
    for (const f of cached) expect(after).toContainEqual(f);
    expect(
      after
        .filter((f) => f.key.includes('t/lost-shard@main/'))
        .map((f) => f.key.split('/').pop())
        .sort(),
    ).toEqual([
      'config.json',
      'generation_config.json',
      'model-00001-of-00002.safetensors',
      'model.safetensors.index.json',
      'tokenizer.json',
      'tokenizer_config.json',
    ]);
    const before = hub.requests.length;
    expectFixture(await loadHubModel(c, 't/llama3'), fx.llama3);
    expect(hub.requests.length).toBe(before);
  });
});
