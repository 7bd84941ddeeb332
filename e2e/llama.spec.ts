// The Llama family in the studio, as a person uses it, on small checkpoints in the Hub's layouts (the stand-in Hub):
// the family and size read before the download, the data preview in the model's own ChatML with its default system
// prompt and each reply's <|im_end|> trained, LoRA on WASM and on WebGPU (weights resident, nothing on the CPU),
// chat and compare through the template, exports of the run (the HF folder with the repo's tokenizer and template,
// the PEFT adapter with the family's modules, the chat page answering in chromium), a sharded repo with an eos list,
// the imports of the HF zip (a model that trains) and of the adapter (onto its base only), and Qwen3's
// chat_template.jinja.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import {
  axe,
  chartPoints,
  download,
  downloadZip,
  dropFile,
  serveFolder,
  setSettings,
  startAndWait,
  waitStatus,
} from './helpers.js';

const HUB = 'http://127.0.0.1:4174';
const requests = async (): Promise<string[]> => (await (await fetch(`${HUB}/__requests`)).json()) as string[];

async function useHubModel(page: Page, repo: string, expectInspection: string) {
  await page.getByTestId('hub-endpoint').fill(HUB);
  await page.getByTestId('hub-repo').fill(repo);
  await page.getByTestId('inspect-model').click();
  await expect(page.getByTestId('inspection')).toContainText(expectInspection);
  await page.getByTestId('load-model').click();
  await expect(page.getByTestId('current-model')).toHaveText(`${repo}@main`, { timeout: 120_000 });
}

const SMALL = { batch: 2, seq: 128, warmupSteps: 1, evalEvery: 3, sampleEvery: 3, checkpointEvery: 3, lr: 0.003 };

test('a SmolLM2-layout model: its ChatML in the preview, LoRA on WASM, chat and compare, exports', async ({
  page,
  browser,
}) => {
  const dir = mkdtempSync(join(tmpdir(), 'fts-e2e-llama-'));
  await page.goto('/');
  await page.getByTestId('backend-wasm').check();
  await useHubModel(page, 'acme/tiny-smollm2', 'Llama, 2 layers, 64 wide, 4 heads (2 KV)');
  await expect(page.getByTestId('model-panel')).toContainText('context 8192');
  await expect(page.getByTestId('template')).toHaveValue(/<\|im_start\|>system/); // the model's own template
  await page.getByTestId('suggested').locator('summary').click();
  await expect(page.getByTestId('suggested-model')).toHaveCount(6);
  await axe(page, 'a Llama model, the suggestions open');
  await page.getByTestId('model-panel').screenshot({ path: 'test-results/panels/llama-model-panel.png' });

  await dropFile(page, 'e2e/fixtures/short-chats.jsonl');
  const preview = page.getByTestId('preview').first();
  // the template's default system prompt, as it renders it; the reply and its end token trained, the prompt not
  await expect(preview).toContainText('<|im_start|>system\nYou are a helpful AI assistant named SmolLM');
  const trained = (await preview.locator('.trained').allTextContents()).join('');
  expect(trained).toContain('hello! how can I help?<|im_end|>');
  expect(trained).not.toContain('<|im_start|>user');

  await setSettings(page, { ...SMALL, steps: 6, loraRank: 4 });
  await page.getByTestId('start').click();
  await waitStatus(page, 'completed', 300_000);
  expect(await chartPoints(page)).toBe(6);
  await expect(page.getByTestId('samples').locator('li').first()).toBeVisible(); // sample replies, through the template

  // chat through the template, compared with the base model (the adapter off)
  await page.getByTestId('chat-compare').check();
  await page.getByTestId('chat-input').fill('hi');
  await page.getByTestId('chat-input').press('Enter');
  const pair = page.getByTestId('msg-pair').last();
  await expect(page.getByTestId('chat-speed')).toBeVisible({ timeout: 120_000 });
  await expect(pair.getByTestId('msg-assistant')).toContainText('Tuned (adapter on):');
  await expect(pair.getByTestId('msg-base')).toContainText('Base');
  await expect(pair.getByTestId('msg-base')).not.toHaveAttribute('aria-busy', 'true', { timeout: 120_000 });

  // the exports: the HF folder with the repo's tokenizer and template, the PEFT adapter with Llama's modules
  const hf = await download(page, 'export-hf', dir);
  const cfg = JSON.parse(readFileSync(join(hf, 'config.json'), 'utf8')) as Record<string, unknown>;
  expect(cfg).toMatchObject({ model_type: 'llama', num_key_value_heads: 2, tie_word_embeddings: true });
  const tokCfg = JSON.parse(readFileSync(join(hf, 'tokenizer_config.json'), 'utf8')) as { chat_template: string };
  expect(tokCfg.chat_template).toContain('<|im_start|>');
  const adapter = await download(page, 'export-adapter', dir);
  const ac = JSON.parse(readFileSync(join(adapter, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
  expect(ac).toMatchObject({ peft_type: 'LORA', r: 4, fan_in_fan_out: false });
  expect(ac.target_modules).toEqual(
    expect.arrayContaining(['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj']),
  );

  // the chat page: transformers.js runs the exported Llama package with the model's template, on WASM
  const chat = await download(page, 'export-chat-page', dir);
  const { url, server } = await serveFolder(chat);
  try {
    const p = await browser.newPage();
    p.on('console', (m) => m.type() === 'error' && console.log(`[chat page] ${m.text()}`));
    await p.goto(`${url}?device=wasm`);
    await expect(p.locator('#status')).toHaveAttribute('data-state', 'ready', { timeout: 180_000 });
    await p.locator('#prompt').fill('hi');
    await p.locator('#prompt').press('Enter');
    await expect(p.locator('.msg.assistant').last()).toHaveAttribute('data-state', 'done', { timeout: 180_000 });
    await expect(p.locator('#status')).toContainText(/tokens\/s/);
    await p.close();
  } finally {
    server.close();
  }

  // the exports come back in: the HF zip as a model of its own (the family, its template), which trains; the adapter
  // folder only onto the base it was trained on, merged
  const zip = (await downloadZip(page, 'export-hf', dir)).zip;
  await page.getByTestId('import-zip').setInputFiles(zip);
  await expect(page.getByTestId('import-done')).toContainText('(imported)');
  await expect(page.getByTestId('current-model')).toContainText('-hf (imported)');
  await expect(page.getByTestId('model-panel')).toContainText('Llama, 2 layers, 64 wide, 4 heads (2 KV)');
  await expect(page.getByTestId('template')).toHaveValue(/<\|im_start\|>system/);
  // a new run on the imported model (the chat panel talks to a run's weights, so a run proves it loads and trains)
  await setSettings(page, { steps: 2, evalEvery: 0, sampleEvery: 0, checkpointEvery: 2 });
  await startAndWait(page);
  await page.getByTestId('import-folder').setInputFiles(adapter);
  await expect(page.getByTestId('import-error')).toContainText('this adapter was trained on acme/tiny-smollm2');
  await page
    .getByTestId('cached-model')
    .filter({ hasText: 'acme/tiny-smollm2@main' })
    .getByTestId('use-cached')
    .click();
  await expect(page.getByTestId('current-model')).toHaveText('acme/tiny-smollm2@main', { timeout: 60_000 });
  await page.getByTestId('import-folder').setInputFiles(adapter);
  await expect(page.getByTestId('import-done')).toContainText('the adapter, merged into the base model');
  await expect(page.getByTestId('current-model')).toContainText('-adapter (imported)');
  await axe(page, 'a Llama model imported from its adapter');
  await page.getByTestId('model-panel').screenshot({ path: 'test-results/panels/llama-import.png' });
});

test('a sharded repo with an eos list: the size of every shard before, then a reload loads it with no request', async ({
  page,
}) => {
  await page.goto('/');
  // a file read with the tiny GPT-2's plain template, then re-read with the new model's own template and tokenizer
  await dropFile(page, 'e2e/fixtures/short-chats.jsonl');
  await expect(page.getByTestId('preview').first()).toContainText('User: hi');
  await useHubModel(page, 'acme/tiny-llama3', 'Llama, 2 layers, 64 wide, 4 heads (2 KV)');
  await expect(page.getByTestId('preview').first()).toContainText('<|start_header_id|>user<|end_header_id|>');
  await expect(page.getByTestId('downloads')).toContainText('model-00001-of-00002.safetensors');
  await expect(page.getByTestId('downloads')).toContainText('model-00002-of-00002.safetensors');
  const before = (await requests()).length;
  await page.reload();
  await page.getByTestId('cached-model').filter({ hasText: 'acme/tiny-llama3@main' }).getByTestId('use-cached').click();
  await expect(page.getByTestId('current-model')).toHaveText('acme/tiny-llama3@main', { timeout: 60_000 });
  expect((await requests()).length).toBe(before);
  // its template is Llama 3's header / eot turns
  await expect(page.getByTestId('template')).toHaveValue(/<\|start_header_id\|>/);
  await dropFile(page, 'e2e/fixtures/short-chats.jsonl');
  await axe(page, 'a Llama 3 model and its data preview');
  const trained = (await page.getByTestId('preview').first().locator('.trained').allTextContents()).join('');
  expect(trained).toContain('hello! how can I help?<|eot_id|>');
});

test('Qwen3 (chat_template.jinja, q/k norms) trains a step of LoRA on WebGPU with its weights on the GPU', async ({
  page,
}) => {
  await page.goto('/');
  await useHubModel(page, 'acme/tiny-qwen3', 'Qwen3, 2 layers, 64 wide, 4 heads (2 KV)');
  await expect(page.getByTestId('template')).toHaveValue(/<\|im_start\|>/); // from chat_template.jinja
  await dropFile(page, 'e2e/fixtures/short-chats.jsonl');
  await setSettings(page, { ...SMALL, steps: 2, evalEvery: 0, sampleEvery: 0, checkpointEvery: 2, loraRank: 4 });
  await page.getByTestId('start').click();
  await waitStatus(page, 'completed', 300_000);
  // weights stay on the GPU: every weight tensor in a GPU buffer, only the loss and the gradient norm read back
  await expect(page.getByTestId('residency')).toContainText(
    /weights in GPU buffers: (\d+)\/\1 tensors · read back to the CPU in the last step: 8 bytes/,
  );
});
