// Every export, loaded by the library people would use: transformers.js (in Node, remote models off) generates
// what the studio's own generator does; the Hugging Face folder reads back to the same logits; the PEFT adapter has
// PEFT's names and applied to the base gives the merged folder; tokenizer_config.json's template renders what
// training rendered; a resumed run exports bit for bit what an uninterrupted one does; a refused or cancelled export
// leaves nothing behind. The recipe and the chat page, which need no trained model, are in recipe.test.ts and
// chat-page.test.ts.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AutoModelForCausalLM, AutoTokenizer, env } from '@huggingface/transformers';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildEvalGraph } from '../artifacts/build.js';
import { allParams, type ModelSpec } from '../artifacts/model.js';
import { textRows } from '../data/rows.js';
import type { Row } from '../data/batches.js';
import { ChatTemplate, DEFAULT_CHAT_TEMPLATE, type Message } from '../data/template.js';
import { Generator } from '../generate/generator.js';
import { GREEDY } from '../generate/sampling.js';
import { readSafetensors } from '../hub/safetensors.js';
import { gpt2WeightsFromTensors, parseGpt2Config } from '../models/hf.js';
import { initGpt2, initLora, type Weights } from '../models/init.js';
import type { LoraConfig } from '../models/lora.js';
import { weightFeeds } from '../runtime/feeds.js';
import { createNodeBackend } from '../runtime/node.js';
import type { Backend } from '../runtime/backend.js';
import { config, data, file, json, LORA, source, tok, trainCfg } from '../testing/export-run.js';
import { materialize, type Checkpoint } from '../train/checkpoint.js';
import { Trainer } from '../train/trainer.js';
import { joined, type OutFile } from '../util/files.js';
import { hfFolderFiles } from './hf.js';
import { peftAdapterFiles } from './peft.js';
import type { ExportSource } from './source.js';
import { ExportSpaceError, writeFolder } from './write.node.js';
import { ExportCancelled, zipBlob } from './zip.js';

const template = new ChatTemplate();
const dir = mkdtempSync(join(tmpdir(), 'fts-export-'));
let cpu: Backend;

async function train(
  lora: LoraConfig | undefined,
  steps: number,
  opts: { resume?: Checkpoint; checkpointEvery?: number; backend?: Backend; rows?: Row[] } = {},
) {
  const model: ModelSpec = { config, lora };
  const base = initGpt2(config, 7);
  const weights = { ...base, ...(lora ? initLora(config, lora, 7) : {}) };
  const rows = opts.rows ?? data.train;
  const cfg = {
    ...trainCfg(steps),
    checkpointEvery: opts.checkpointEvery ?? 0,
    ...(opts.rows ? { batch: 2, seq: rows[0].tokens.length - 1 } : {}),
  };
  const t = new Trainer({
    backend: opts.backend ?? cpu,
    model,
    weights,
    train: rows,
    validation: [],
    config: cfg,
    padId: tok.eosId,
    resume: opts.resume,
  });
  const checkpoints: Checkpoint[] = [];
  const losses: { step: number; loss: number }[] = [];
  for await (const e of t.run()) {
    if (e.type === 'checkpoint') checkpoints.push(await materialize(e.checkpoint));
    if (e.type === 'step') losses.push({ step: e.step, loss: e.loss });
  }
  await t.release();
  const last = checkpoints[checkpoints.length - 1];
  return { W: { ...weights, ...last.trainable }, checkpoints, losses };
}

const runs: Record<'full' | 'lora', { src: ExportSource; folder: string; files: OutFile[] }> = {} as never;

beforeAll(async () => {
  cpu = await createNodeBackend('node-cpu');
  for (const kind of ['full', 'lora'] as const) {
    const lora = kind === 'lora' ? LORA : undefined;
    const { W, losses } = await train(lora, 150);
    const src = source(lora, W, losses);
    const files = hfFolderFiles(src, { onnx: true });
    const folder = join(dir, kind);
    await writeFolder(folder, files);
    runs[kind] = { src, folder, files };
  }
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = `${dir}/`;
}); // vitest.config.ts's 300 s: two 150-step runs took over 120 s on a busy 2-core machine

async function ourGreedy(src: ExportSource, prompt: number[], n: number): Promise<number[]> {
  const model: ModelSpec = { config: src.config, lora: src.run.lora };
  const feeds = weightFeeds(cpu, allParams(model), src.weights);
  const gen = new Generator(cpu, model, () => feeds, { eosId: -1, decode: (ids) => tok.decode(ids) }, { cache: 64 }); // past end-of-text too
  let out: number[] = [];
  for await (const ev of gen.stream(prompt, { ...GREEDY, maxNewTokens: n })) if (ev.type === 'done') out = ev.tokens;
  await gen.release();
  return out;
}

describe('transformers.js package', () => {
  for (const kind of ['full', 'lora'] as const) {
    it(`generates greedily the same 20 tokens as the studio's generator (${kind === 'lora' ? 'LoRA run, merged' : 'full fine-tune'})`, async () => {
      const { src } = runs[kind];
      const tjsTok = await AutoTokenizer.from_pretrained(kind);
      const model = await AutoModelForCausalLM.from_pretrained(kind, { device: 'cpu' });
      const messages = [{ role: 'user', content: 'Tell me a story' }];
      const prompt = tjsTok.apply_chat_template(messages, { tokenize: false, add_generation_prompt: true });
      const ids = tok.encode(prompt);
      const inputs = tjsTok(prompt, { add_special_tokens: false });
      expect(Array.from(inputs.input_ids.data as BigInt64Array, Number)).toEqual(ids);
      const out = (await model.generate({
        ...inputs,
        max_new_tokens: 20,
        do_sample: false,
        repetition_penalty: 1,
        eos_token_id: -1,
      })) as { data: BigInt64Array };
      const theirs = Array.from(out.data, Number).slice(ids.length);
      const ours = await ourGreedy(src, ids, 20);
      expect(theirs).toHaveLength(20);
      expect(theirs).toEqual(ours);
      expect(new Set(ours).size).toBeGreaterThan(2); // a tuned model saying something, not one token over and over
      await model.dispose();
    }, 60_000);
  }

  it('is a Hugging Face folder whose weights read back to the same logits (ONNX too), with config and generation defaults', async () => {
    const { src, files, folder } = runs.lora;
    const cfg = parseGpt2Config(json(files, 'config.json'));
    expect(cfg).toMatchObject({ n_embd: config.n_embd, n_layer: config.n_layer, n_positions: 64 });
    expect(json(files, 'config.json')['transformers.js_config']).toEqual({
      dtype: 'fp32',
      use_external_data_format: { 'model.onnx': 1 },
    });
    expect(json(files, 'generation_config.json')).toEqual({
      bos_token_id: 50256,
      eos_token_id: 50256,
      pad_token_id: 50256,
      do_sample: true,
      temperature: 0.8,
      top_k: 50,
      top_p: 0.95,
      repetition_penalty: 1.1,
      max_new_tokens: 64,
    });
    const back = gpt2WeightsFromTensors(cfg, readSafetensors(file(files, 'model.safetensors')));
    // logits of the merged folder (plain GPT-2) against the run's LoRA model, on the engine's eval graph
    const ids = tok.encode('User: Hi there\nAssistant: Hello!');
    const T = ids.length;
    const logits = async (m: ModelSpec, W: Weights) => {
      const s = await cpu.createSession(buildEvalGraph(m, { batch: 1, seq: T }, { logits: true }));
      const Tn = cpu.ort.Tensor;
      const out = await s.run({
        ...weightFeeds(cpu, allParams(m), W),
        input_ids: new Tn('int32', Int32Array.from(ids), [1, T]),
        labels: new Tn('int32', new Int32Array(T), [1, T]),
        loss_mask: new Tn('float32', new Float32Array(T), [1, T]),
      });
      await s.release();
      return out.logits.data as Float32Array;
    };
    const a = await logits({ config, lora: LORA }, src.weights);
    const b = await logits({ config }, back);
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
    expect(worst).toBeLessThan(1e-4);
    // the ONNX file transformers.js runs, fed directly
    const s = await ort.InferenceSession.create(join(folder, 'onnx', 'model.onnx'));
    const D = config.n_embd / config.n_head;
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, T]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(T).fill(1n), [1, T]),
      position_ids: new ort.Tensor(
        'int64',
        BigInt64Array.from({ length: T }, (_, i) => BigInt(i)),
        [1, T],
      ),
    };
    for (let i = 0; i < config.n_layer; i++)
      for (const kv of ['key', 'value'])
        feeds[`past_key_values.${i}.${kv}`] = new ort.Tensor('float32', new Float32Array(0), [1, config.n_head, 0, D]);
    const o = (await s.run(feeds)).logits.data as Float32Array;
    worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - o[i]));
    expect(worst).toBeLessThan(1e-4);
    await s.release();
  });

  it("carries the training template: transformers.js's apply_chat_template renders what training rendered", async () => {
    const tjsTok = await AutoTokenizer.from_pretrained('lora');
    const convs: Message[][] = [
      [
        { role: 'user', content: 'Hi there' },
        { role: 'assistant', content: 'Hello!' },
      ],
      [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Two\nlines' },
        { role: 'assistant', content: 'Ok.' },
        { role: 'user', content: 'Thanks' },
      ],
    ];
    for (const m of convs) {
      for (const gen of [false, true])
        expect(tjsTok.apply_chat_template(m as never, { tokenize: false, add_generation_prompt: gen })).toBe(
          template.render(m, gen),
        );
    }
    expect(json(runs.lora.files, 'tokenizer_config.json').chat_template).toBe(DEFAULT_CHAT_TEMPLATE);
  });

  it('writes a model card with base, revision, data, settings, final losses and the loss curve', () => {
    const card = new TextDecoder().decode(file(runs.lora.files, 'README.md'));
    expect(card).toContain('base_model: acme/gpt2');
    expect(card).toContain('revision `v1`');
    expect(card).toContain('LoRA r=4, alpha=8, targets attn.c_attn, mlp.c_fc');
    expect(card).toContain(`final training loss: ${runs.lora.src.run.losses.at(-1)!.loss.toFixed(4)} (step 150)`);
    expect(card).toContain('final validation loss: 2.5000 (step 150)');
    expect(card).toContain('![loss curve](loss.svg)');
    const svg = new TextDecoder().decode(file(runs.lora.files, 'loss.svg'));
    expect(svg).toMatch(/^<svg[^>]+xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(svg.match(/<path /g)).toHaveLength(2);
    expect(svg).toContain('<circle');
  });
});

describe('PEFT adapter', () => {
  it("has PEFT's key names, shapes and config, and applied to the base as PEFT does equals the merged folder", () => {
    const { src, files } = runs.lora;
    const ad = peftAdapterFiles(src);
    expect(json(ad, 'adapter_config.json')).toMatchObject({
      peft_type: 'LORA',
      task_type: 'CAUSAL_LM',
      r: 4,
      lora_alpha: 8,
      target_modules: ['attn.c_attn', 'mlp.c_fc'],
      fan_in_fan_out: true,
      base_model_name_or_path: 'acme/gpt2',
      revision: 'v1',
      bias: 'none',
    });
    const tensors = readSafetensors(file(ad, 'adapter_model.safetensors'));
    const C = config.n_embd;
    expect([...tensors.keys()].sort()).toEqual(
      [0, 1]
        .flatMap((i) =>
          ['attn.c_attn', 'mlp.c_fc'].flatMap((t) =>
            ['lora_A', 'lora_B'].map((ab) => `base_model.model.transformer.h.${i}.${t}.${ab}.weight`),
          ),
        )
        .sort(),
    );
    expect(tensors.get('base_model.model.transformer.h.0.attn.c_attn.lora_A.weight')!.shape).toEqual([4, C]);
    expect(tensors.get('base_model.model.transformer.h.0.attn.c_attn.lora_B.weight')!.shape).toEqual([3 * C, 4]);
    expect(tensors.get('base_model.model.transformer.h.1.mlp.c_fc.lora_B.weight')!.shape).toEqual([4 * C, 4]);
    // PEFT's merge for fan_in_fan_out Conv1D: W[in, out] += scale * (B @ A)^T, written out independently here
    const merged = gpt2WeightsFromTensors(config, readSafetensors(file(files, 'model.safetensors')));
    const base = initGpt2(config, 7);
    let worst = 0;
    for (let i = 0; i < 2; i++) {
      for (const t of ['attn.c_attn', 'mlp.c_fc']) {
        const A = tensors.get(`base_model.model.transformer.h.${i}.${t}.lora_A.weight`)!;
        const B = tensors.get(`base_model.model.transformer.h.${i}.${t}.lora_B.weight`)!;
        const [out, r] = B.shape;
        const inn = A.shape[1];
        const W = base[`transformer.h.${i}.${t}.weight`];
        const M = merged[`transformer.h.${i}.${t}.weight`];
        for (let o = 0; o < out; o++) {
          for (let k = 0; k < inn; k++) {
            let ba = 0;
            for (let j = 0; j < r; j++) ba += B.data[o * r + j] * A.data[j * inn + k];
            worst = Math.max(worst, Math.abs(W[k * out + o] + (8 / 4) * ba - M[k * out + o]));
          }
        }
      }
    }
    expect(worst).toBeLessThan(1e-6);
    // the other tensors are the base's, untouched
    expect(merged['transformer.h.0.attn.c_proj.weight']).toEqual(base['transformer.h.0.attn.c_proj.weight']);
  });

  it('is refused for a full fine-tune, saying why', () => {
    expect(() => peftAdapterFiles(runs.full.src)).toThrow(/fine-tuned all weights: there is no LoRA adapter/);
  });
});

describe('export of a resumed run', () => {
  it('equals, bit for bit on the CPU backend, the export of the same run never interrupted', async () => {
    const straight = await train(LORA, 8);
    const first = await train(LORA, 8, { checkpointEvery: 4 });
    const at4 = first.checkpoints.find((c) => c.step === 4)!;
    const resumed = await train(LORA, 8, { resume: at4 });
    const a = file(hfFolderFiles(source(LORA, straight.W, straight.losses)), 'model.safetensors');
    const b = file(hfFolderFiles(source(LORA, resumed.W, straight.losses)), 'model.safetensors');
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    expect(
      Buffer.from(
        file(peftAdapterFiles(source(LORA, straight.W, straight.losses)), 'adapter_model.safetensors'),
      ).equals(
        Buffer.from(file(peftAdapterFiles(source(LORA, resumed.W, straight.losses)), 'adapter_model.safetensors')),
      ),
    ).toBe(true);
  }, 60_000);

  it('on WebGPU (onnxruntime-node, SwiftShader) within 1e-6 of the uninterrupted run (measured: identical)', async () => {
    const gpu = await createNodeBackend('node-webgpu');
    const rows = textRows(tok.encode('User: Hi there\nAssistant: Hello! How can I help?<|endoftext|>\n'.repeat(8)), 12);
    const straight = await train(LORA, 4, { backend: gpu, rows });
    const first = await train(LORA, 4, { backend: gpu, rows, checkpointEvery: 2 });
    const resumed = await train(LORA, 4, { backend: gpu, rows, resume: first.checkpoints.find((c) => c.step === 2)! });
    const a = readSafetensors(file(hfFolderFiles(source(LORA, straight.W, straight.losses)), 'model.safetensors'));
    const b = readSafetensors(file(hfFolderFiles(source(LORA, resumed.W, straight.losses)), 'model.safetensors'));
    let worst = 0;
    for (const [k, t] of a)
      for (let i = 0; i < t.data.length; i++) worst = Math.max(worst, Math.abs(t.data[i] - b.get(k)!.data[i]));
    console.log(`WebGPU export, resumed vs uninterrupted: max |diff| ${worst}`);
    expect(worst).toBeLessThan(1e-6);
  }, 300_000);
});

describe('writing an export', () => {
  const files = () => hfFolderFiles(runs.full.src);
  it('refuses one larger than the free space, writing nothing', async () => {
    const out = join(dir, 'too-big');
    await expect(writeFolder(out, files(), { free: () => Promise.resolve(1000) })).rejects.toThrow(ExportSpaceError);
    await expect(writeFolder(out, files(), { free: () => Promise.resolve(1000) })).rejects.toThrow(
      /needs \d+ MiB, but only 1 MiB is free there; nothing was written/,
    );
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(dir).filter((n) => n.startsWith('too-big'))).toEqual([]);
  });

  it('cancelled half way leaves neither the folder nor a partial one, and an existing export untouched', async () => {
    const out = join(dir, 'cancelled');
    await writeFolder(out, [{ path: 'keep.txt', parts: [new TextEncoder().encode('earlier export')] }]);
    const ac = new AbortController();
    let seen = 0;
    const watched = files().map((f) => ({
      path: f.path,
      get parts() {
        if (++seen === 4) ac.abort();
        return f.parts;
      },
    }));
    await expect(writeFolder(out, watched, { signal: ac.signal })).rejects.toThrow(ExportCancelled);
    expect(readdirSync(dir).filter((n) => n.startsWith('cancelled'))).toEqual(['cancelled']);
    expect(readFileSync(join(out, 'keep.txt'), 'utf8')).toBe('earlier export');
  });

  it('zips as a stream that unzip reads back byte for byte, and a cancelled zip is no Blob', async () => {
    const fs = files();
    const blob = await zipBlob(fs, 'model');
    const zpath = join(dir, 'model.zip');
    writeFileSync(zpath, new Uint8Array(await blob.arrayBuffer()));
    const unz = join(dir, 'unzipped');
    execFileSync('python3', [
      '-c',
      'import zipfile,sys; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])',
      zpath,
      unz,
    ]);
    for (const f of fs)
      expect(Buffer.from(readFileSync(join(unz, 'model', f.path))).equals(Buffer.from(joined(f))), f.path).toBe(true);
    const ac = new AbortController();
    ac.abort();
    await expect(zipBlob(fs, 'model', { signal: ac.signal })).rejects.toThrow(ExportCancelled);
  });
});
