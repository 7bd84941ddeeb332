// Importing from disk: an exported folder, the same as a zip, a chat-page zip (the model nested in model/), a PEFT
// adapter applied to its base; and what is refused (another base, a truncated file, a folder with no model), each
// leaving nothing stored.
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CHAT_TEMPLATE } from '../data/template.js';
import { gpt2TokenizerFromPackage } from '../data/tokenizer.node.js';
import { DEFAULT_ADAMW } from '../artifacts/build.js';
import { joined, type OutFile } from '../util/files.js';
import { hfFolderFiles } from '../export/hf.js';
import { peftAdapterFiles } from '../export/peft.js';
import type { ExportSource } from '../export/source.js';
import { mergeLora } from '../models/lora.js';
import { zipBlob } from '../export/zip.js';
import { initGpt2, initLora, TINY_GPT2 } from '../models/init.js';
import type { LoraConfig } from '../models/lora.js';
import { Rng } from '../util/rng.js';
import { IdbHubCache } from './cache.js';
import { importModel, ImportError, LOCAL_ENDPOINT } from './import.js';
import { caught } from '../testing/caught.js';

const tok = gpt2TokenizerFromPackage(DEFAULT_CHAT_TEMPLATE);
const config = { ...TINY_GPT2, n_positions: 64 };
const LORA: LoraConfig = { rank: 2, alpha: 4, targets: ['attn.c_attn', 'mlp.c_proj'] };
const base = initGpt2(config, 5);
const adapters = initLora(config, LORA, 5);
const r = new Rng(9);
for (const v of Object.values(adapters)) for (let i = 0; i < v.length; i++) v[i] = 0.05 * r.normal(); // a trained adapter: B no longer zero
const TEMPLATE = "{% for m in messages %}{{ m['role'] }}> {{ m['content'] }}\n{% endfor %}";
const src: ExportSource = {
  config,
  weights: { ...base, ...adapters },
  tokenizer: tok.files,
  eosId: tok.eosId,
  sampling: { temperature: 0.7, topK: 40, topP: 0.95, repetitionPenalty: 1.15, maxNewTokens: 64 },
  run: {
    base: { name: 'acme/gpt2@v1', repo: 'acme/gpt2', revision: 'v1' },
    dataset: {
      file: 'c.jsonl',
      format: 'chat',
      kind: 'chat',
      records: 1,
      trainRows: 1,
      validationRows: 0,
      trainedTokens: 1,
      totalTokens: 1,
      truncated: 0,
      skipped: 0,
    },
    data: { lossOn: 'assistant', overflow: 'drop-oldest', pack: false, template: TEMPLATE },
    train: {
      steps: 1,
      lr: 1e-3,
      batch: 1,
      seq: 16,
      accumulation: 1,
      warmupSteps: 0,
      schedule: 'cosine',
      minLrRatio: 0.1,
      seed: 1,
      adamw: DEFAULT_ADAMW,
    },
    lora: LORA,
    step: 1,
    losses: [{ step: 1, loss: 3 }],
    evals: [],
  },
};
const merged = mergeLora(config, LORA, src.weights);
const asInputs = (files: OutFile[], root: string) =>
  files.map((f) => ({ path: `${root}/${f.path}`, blob: new Blob([joined(f) as Uint8Array<ArrayBuffer>]) }));
const same = (a: Float32Array | undefined, b: Float32Array) =>
  !!a && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
let n = 0;
const fresh = () => new IdbHubCache(`import-test-${n++}`);
const baseModel = {
  repo: 'acme/gpt2',
  config,
  weights: base,
  tokenizer: { ...tok.files, config: { ...tok.files.config, chat_template: DEFAULT_CHAT_TEMPLATE } },
  eosId: tok.eosId,
};

describe('importing a model', () => {
  it('takes an exported Hugging Face folder: the same weights, template and tokenizer, stored under "local"', async () => {
    const cache = fresh();
    const got = await importModel(cache, asInputs(hfFolderFiles(src), 'my-run-hf'), { revision: 'r1' });
    expect(got).toMatchObject({ kind: 'model', repo: 'my-run-hf', revision: 'r1' });
    for (const [k, v] of Object.entries(merged)) expect(same(got.model.weights[k], v), k).toBe(true);
    expect(got.model.tokenizer.config.chat_template).toBe(TEMPLATE);
    expect((await cache.list()).every((f) => f.key.startsWith(`${LOCAL_ENDPOINT}/my-run-hf@r1/`) && f.complete)).toBe(
      true,
    );
  });

  it('takes the same as a zip, and a chat-page zip with the model inside model/', async () => {
    for (const [files, root] of [
      [hfFolderFiles(src, { onnx: true }), 'run-hf'],
      [
        [
          ...hfFolderFiles(src, { onnx: true }).map((f) => ({ ...f, path: `model/${f.path}` })),
          { path: 'index.html', parts: [new TextEncoder().encode('<!doctype html>')] },
        ],
        'run-chat-page',
      ],
    ] as const) {
      const zip = await zipBlob(files, root);
      const got = await importModel(fresh(), [{ path: `${root}.zip`, blob: zip }]);
      expect(got.repo).toBe(root === 'run-hf' ? 'run-hf' : 'model');
      for (const [k, v] of Object.entries(merged)) expect(same(got.model.weights[k], v), k).toBe(true);
    }
  });

  it('applies a PEFT adapter to its base as PEFT merges it, stored as a model of its own', async () => {
    const cache = fresh();
    const got = await importModel(cache, asInputs(peftAdapterFiles(src), 'support-adapter'), { base: baseModel });
    expect(got).toMatchObject({ kind: 'adapter', repo: 'gpt2+support-adapter' });
    for (const [k, v] of Object.entries(merged)) expect(same(got.model.weights[k], v), k).toBe(true);
    expect(got.model.tokenizer.config.chat_template).toBe(DEFAULT_CHAT_TEMPLATE); // the base's
  });

  it('refuses an adapter for another base, naming both, and stores nothing', async () => {
    const cache = fresh();
    const err = await caught(
      importModel(cache, asInputs(peftAdapterFiles(src), 'a'), {
        base: { ...baseModel, repo: 'other/gpt2-medium' },
      }),
    );
    expect(err).toBeInstanceOf(ImportError);
    expect(err.message).toBe(
      'a/adapter_config.json: this adapter was trained on acme/gpt2, but the current model is other/gpt2-medium; load acme/gpt2 first',
    );
    expect(await cache.list()).toEqual([]);
  });

  it('refuses a truncated model.safetensors and removes every file it had stored', async () => {
    const cache = fresh();
    const inputs = asInputs(hfFolderFiles(src), 'cut').map((f) =>
      f.path.endsWith('model.safetensors') ? { ...f, blob: f.blob.slice(0, f.blob.size - 100) } : f,
    );
    const err = await caught(importModel(cache, inputs));
    expect(err).toBeInstanceOf(ImportError);
    expect(err.message).toMatch(/^cut could not be imported: .*model\.safetensors/);
    expect(await cache.list()).toEqual([]);
  });

  it('says what a folder without a model holds, and refuses an unsupported model before storing', async () => {
    const cache = fresh();
    const err = await caught(importModel(cache, [{ path: 'notes/readme.txt', blob: new Blob(['hi']) }]));
    expect(err.message).toBe(
      'notes/readme.txt holds no model (config.json + model.safetensors, or its shards + model.safetensors.index.json) and no PEFT adapter (adapter_config.json + adapter_model.safetensors); it has notes/readme.txt',
    );
    const mistral = asInputs(hfFolderFiles(src), 'mistral').map((f) =>
      f.path.endsWith('config.json') && !f.path.includes('_')
        ? { ...f, blob: new Blob([JSON.stringify({ model_type: 'mistral' })]) }
        : f,
    );
    await expect(importModel(cache, mistral)).rejects.toThrow(
      'mistral/config.json: field "model_type" is "mistral"; supported: "gpt2", "llama", "qwen2", "qwen3"',
    );
    expect(await cache.list()).toEqual([]);
  });

  it('refuses a malformed adapter_config.json naming the field, and stores nothing', async () => {
    const cache = fresh();
    const withConfig = (edit: (c: Record<string, unknown>) => void) =>
      asInputs(peftAdapterFiles(src), 'bad').map((f) => {
        if (!f.path.endsWith('adapter_config.json')) return f;
        const c = JSON.parse(new TextDecoder().decode(joined(peftAdapterFiles(src)[0]))) as Record<string, unknown>;
        edit(c);
        return { ...f, blob: new Blob([JSON.stringify(c)]) };
      });
    await expect(
      importModel(
        cache,
        withConfig((c) => (c.r = '8')),
        { base: baseModel },
      ),
    ).rejects.toThrow('bad/adapter_config.json: r: expected a positive integer, got "8"');
    await expect(
      importModel(
        cache,
        withConfig((c) => (c.lora_alpha = 0)),
        { base: baseModel },
      ),
    ).rejects.toThrow('bad/adapter_config.json: lora_alpha: expected a positive number, got 0');
    await expect(
      importModel(
        cache,
        withConfig((c) => (c.peft_type = 'IA3')),
        { base: baseModel },
      ),
    ).rejects.toThrow(
      'bad/adapter_config.json: peft_type: expected "LORA" (only LoRA adapters can be applied), got "IA3"',
    );
    expect(await cache.list()).toEqual([]);
  });
});
