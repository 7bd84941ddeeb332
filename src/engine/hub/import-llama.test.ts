// Importing the Llama family from disk: a Hub-layout folder (sharded, with chat_template.jinja) stored and loaded
// back whole; a PEFT adapter (nn.Linear: fan_in_fan_out false) applied to a Llama base as PEFT merges it; and the
// refusals that name the file and the field (an adapter saved for Conv1D, a folder without its tokenizer.json).
import 'fake-indexeddb/auto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Tokenizer } from '../data/tokenizer.js';
import { peftAdapterFiles } from '../export/peft.js';
import type { ExportSource } from '../export/source.js';
import { initLora } from '../models/init.js';
import { mergeLora, type LoraConfig } from '../models/lora.js';
import { caught } from '../testing/caught.js';
import { folderFiles, writeLlamaFixture } from '../testing/llama-fixtures.js';
import { joined } from '../util/files.js';
import { Rng } from '../util/rng.js';
import { IdbHubCache } from './cache.js';
import { importModel, ImportError } from './import.js';

const dir = mkdtempSync(join(tmpdir(), 'fts-import-llama-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const fresh = () => new IdbHubCache(`import-llama-${n++}`);
const inputsOf = (files: Record<string, Uint8Array>, root: string) =>
  Object.entries(files).map(([name, bytes]) => ({
    path: `${root}/${name}`,
    blob: new Blob([bytes as Uint8Array<ArrayBuffer>]),
  }));

describe('importing a Llama-family model', () => {
  it('takes a sharded folder with its chat_template.jinja: every weight, the template, the end ids', async () => {
    const fx = await writeLlamaFixture(join(dir, 'l3'), 'llama3', { seed: 2 });
    expect(fx.files.some((f) => f.endsWith('.index.json'))).toBe(true);
    const got = await importModel(fresh(), inputsOf(await folderFiles(fx.dir), 'my-llama'), { revision: 'r1' });
    expect(got).toMatchObject({ kind: 'model', repo: 'my-llama' });
    expect(got.model.config).toEqual(fx.config);
    for (const [k, v] of Object.entries(fx.weights)) expect(got.model.weights[k], k).toEqual(v);
    expect(got.model.tokenizer.config.chat_template).toBe(fx.chatTemplate);
    expect(new Set(got.model.eosIds)).toEqual(new Set(fx.eosIds));
  });

  it('refuses a folder without its tokenizer.json, storing nothing', async () => {
    const fx = await writeLlamaFixture(join(dir, 'q3'), 'qwen3', { seed: 2 });
    const files = await folderFiles(fx.dir);
    delete files['tokenizer.json'];
    const cache = fresh();
    const e = await caught(importModel(cache, inputsOf(files, 'q3')));
    expect(e).toBeInstanceOf(ImportError);
    expect(e.message).toBe('q3 has no tokenizer.json: a qwen3 model needs its own');
    expect(await cache.list()).toEqual([]);
  });

  describe('a PEFT adapter on a SmolLM2-like base', async () => {
    const fx = await writeLlamaFixture(join(dir, 'smol'), 'smollm2', { seed: 4 });
    const LORA: LoraConfig = { rank: 2, alpha: 4, targets: ['q_proj', 'v_proj', 'down_proj'] };
    const adapters = initLora(fx.config, LORA, 5);
    const r = new Rng(3);
    for (const v of Object.values(adapters)) for (let i = 0; i < v.length; i++) v[i] = 0.05 * r.normal();
    const tok = new Tokenizer(fx.tokenizer, { endIds: fx.eosIds });
    const src = {
      config: fx.config,
      weights: { ...fx.weights, ...adapters },
      tokenizer: fx.tokenizer,
      eosId: tok.eosId,
      run: { base: { name: 'acme/smol', repo: 'acme/smol' }, lora: LORA },
    } as unknown as ExportSource; // the adapter reads the config, the weights, the base and the LoRA only
    const base = {
      repo: 'acme/smol',
      config: fx.config,
      weights: fx.weights,
      tokenizer: fx.tokenizer,
      eosId: tok.eosId,
    };
    const adapterInputs = () =>
      peftAdapterFiles(src).map((f) => ({
        path: `smol-adapter/${f.path}`,
        blob: new Blob([joined(f) as Uint8Array<ArrayBuffer>]),
      }));

    it('merges it as PEFT does, stored as a model of its own with the base tokenizer', async () => {
      const got = await importModel(fresh(), adapterInputs(), { base });
      expect(got).toMatchObject({ kind: 'adapter', repo: 'smol+smol-adapter' });
      const merged = mergeLora(fx.config, LORA, src.weights);
      for (const [k, v] of Object.entries(merged)) expect(got.model.weights[k], k).toEqual(v);
      expect(got.model.weights['model.layers.0.mlp.down_proj.weight']).not.toEqual(
        fx.weights['model.layers.0.mlp.down_proj.weight'],
      );
      expect(got.model.config).toEqual(fx.config);
    });

    it('refuses one saved for Conv1D layers (fan_in_fan_out true), naming the file', async () => {
      const inputs = adapterInputs();
      const cfg = inputs.find((i) => i.path.endsWith('adapter_config.json'))!;
      const json = JSON.parse(await cfg.blob.text()) as Record<string, unknown>;
      cfg.blob = new Blob([JSON.stringify({ ...json, fan_in_fan_out: true })]);
      const e = await caught(importModel(fresh(), inputs, { base }));
      expect(e.message).toBe(
        "smol-adapter/adapter_config.json: fan_in_fan_out is true, but Llama's layers are nn.Linear (PEFT's false)",
      );
    });
  });
});
