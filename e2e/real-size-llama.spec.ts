// SmolLM2-135M at its real size in the browser: a checkpoint of its shape (30 layers, 576 wide, 9/3 heads, a
// 49,152-row tied embedding, BF16: 269 MB; the Hub's layout, random weights the stand-in Hub makes) picked from the
// suggestions, sized before the download, downloaded with progress, loaded back from IndexedDB with no request;
// LoRA at 4 x 128 on WASM with the heap measured against the estimate; one LoRA step on WebGPU (SwiftShader) at
// 1 x 32 with the GPU memory measured; a full fine-tune checkpointed every step, reloaded mid-run and resumed onto
// the same losses; chat and compare; the transformers.js package exported from the run generating in Node the
// studio's greedy reply. One page throughout, so the cache the first test fills serves the rest.
import { expect, test, type Page } from '@playwright/test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { localTransformers } from '../src/engine/testing/llama-configs.js';
import { download, dropFile, setSettings, shootPanels, startAndWait, storedRuns, waitStatus } from './helpers.js';
import { memory, openPersistent, useBackend, type PersistentPage } from './persistent.js';

const HUB = 'http://127.0.0.1:4174';
const REPO = 'HuggingFaceTB/SmolLM2-135M-Instruct';
const requests = async (): Promise<string[]> => (await (await fetch(`${HUB}/__requests`)).json()) as string[];
const measured: Record<string, unknown> = {};

test.describe.configure({ mode: 'serial' });
let session: PersistentPage;
let page: Page;
test.beforeAll(async ({ playwright }) => {
  session = await openPersistent(playwright, 'fts-profile-llama-');
  page = session.page;
});
test.afterAll(async () => {
  writeFileSync('test-results/real-size-llama-measurements.json', JSON.stringify(measured, null, 1));
  await session?.close();
});

test('SmolLM2-135M: picked from the suggestions, sized before download, then loaded from the cache with no request', async () => {
  await page.goto('/');
  await page.getByTestId('hub-endpoint').fill(HUB);
  const suggested = page.getByTestId('suggested');
  await suggested.locator('summary').click();
  const row = suggested.locator(`[data-repo="${REPO}"]`);
  await expect(row).toContainText('135M');
  await expect(row).toContainText('257 MiB');
  await expect(row.getByTestId('suggested-fit')).toHaveCount(2);
  await row.getByRole('button', { name: `Pick ${REPO}` }).click();
  await expect(page.getByTestId('hub-repo')).toHaveValue(REPO);
  // the repo's own config and a HEAD of its weights: the same figures as the suggestion's
  await expect(page.getByTestId('inspection')).toContainText(
    `${REPO}@main: 134.5M parameters (Llama, 30 layers, 576 wide, 9 heads (3 KV)) · download 257 MiB`,
  );
  await page.screenshot({ path: 'test-results/panels/suggested-models.png' });

  const t0 = Date.now();
  await page.getByTestId('load-model').click();
  await expect(page.getByTestId('downloads').locator('progress')).toBeVisible();
  await expect(page.getByTestId('current-model')).toHaveText(`${REPO}@main`, { timeout: 300_000 });
  measured.downloadSeconds = (Date.now() - t0) / 1000;
  await expect(page.getByTestId('template')).toHaveValue(/<\|im_start\|>/);

  const before = (await requests()).length;
  await page.reload();
  await page
    .getByTestId('cached-model')
    .filter({ hasText: `${REPO}@main` })
    .getByTestId('use-cached')
    .click();
  const t1 = Date.now();
  await expect(page.getByTestId('current-model')).toHaveText(`${REPO}@main`, { timeout: 120_000 });
  measured.loadFromCacheSeconds = (Date.now() - t1) / 1000;
  await expect(page.getByTestId('downloads')).toContainText('model.safetensors257 MiB, from the cache');
  expect((await requests()).length).toBe(before);
});

test('SmolLM2-135M on WASM: LoRA steps at batch 4 x 128 with the heap measured; the exported transformers.js package gives the studio greedy reply in Node', async () => {
  await useBackend(page, 'WASM fallback');
  await dropFile(page, 'e2e/fixtures/short-chats.jsonl');
  await setSettings(page, {
    steps: 2,
    batch: 4,
    seq: 128,
    lr: 0.001,
    warmupSteps: 1,
    evalEvery: 0,
    sampleEvery: 0,
    checkpointEvery: 2,
    loraRank: 8,
  });
  await startAndWait(page);
  await expect(page.getByTestId('device-memory')).toContainText('WASM heap');
  measured.wasmLora4x128 = await memory(page);
  const m = measured.wasmLora4x128 as { ratio: number };
  expect(m.ratio).toBeGreaterThan(0.75);
  expect(m.ratio).toBeLessThan(1.25);

  // a greedy reply from the tuned weights (LoRA merged into the export below)
  await page.getByText('System prompt and sampling').click();
  await page.getByLabel('Temperature').fill('0');
  await page.getByLabel('Repetition penalty').fill('1');
  await page.getByLabel('Max new tokens').fill('8');
  await page.getByTestId('chat-input').fill('hello');
  await page.getByTestId('chat-send').click();
  await expect(page.getByTestId('chat-stop')).toBeDisabled({ timeout: 300_000 });
  const studioReply = (await page.getByTestId('msg-assistant').last().getByTestId('reply-text').textContent()) ?? '';

  // the transformers.js package of this run, in Node: the same greedy reply to the same conversation
  const dir = mkdtempSync(join(tmpdir(), 'fts-export-smollm2-'));
  try {
    const folder = await download(page, 'export-transformers-js', dir);
    const tjs = await localTransformers(join(folder, '..'));
    const name = folder.split('/').at(-1)!;
    const tok = await tjs.tokenizer(name);
    const model = await tjs.model(name);
    // the prompt as the studio renders it: the template's text, tokenized without added special tokens
    const prompt = tok.apply_chat_template([{ role: 'user', content: 'hello' }], {
      add_generation_prompt: true,
      tokenize: false,
    });
    if (typeof prompt !== 'string') throw new Error('apply_chat_template with tokenize: false gave no text');
    const { input_ids, attention_mask } = tok(prompt, { add_special_tokens: false });
    const n = input_ids.dims[1];
    const out = (await model.generate({
      input_ids,
      attention_mask,
      max_new_tokens: 8,
      do_sample: false,
      repetition_penalty: 1,
    })) as { tolist(): bigint[][] };
    await model.dispose();
    const generated = out.tolist()[0].slice(n).map(Number);
    const text = tok.decode(generated, { skip_special_tokens: true });
    measured.exportedReply = { studio: studioReply, transformersJs: text, tokens: generated.length };
    expect(studioReply.length).toBeGreaterThan(0); // a reply, not the end token at once
    expect(text).toBe(studioReply);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('SmolLM2-135M on WASM: a full fine-tune checkpointed every step, reloaded mid-run and resumed onto the same losses; chat and compare', async () => {
  await setSettings(page, {
    steps: 3,
    batch: 1,
    seq: 64,
    lr: 0.0001,
    warmupSteps: 1,
    evalEvery: 0,
    sampleEvery: 0,
    checkpointEvery: 1,
    loraRank: 0,
  });
  await startAndWait(page);
  measured.wasmFull1x64 = await memory(page);
  await expect(page.getByTestId('checkpoint-step')).toHaveText('3');
  await expect(page.getByTestId('checkpoint-error')).toHaveCount(0);
  const straight = (await storedRuns(page)).at(-1)!;
  expect(straight.steps.map((p) => p.step)).toEqual([1, 2, 3]);

  const before = (await storedRuns(page)).length;
  await page.getByTestId('start').click();
  await expect.poll(async () => (await storedRuns(page)).length, { timeout: 120_000 }).toBe(before + 1);
  await expect(page.getByTestId('checkpoint-step')).toHaveText('1', { timeout: 240_000 });
  await page.reload(); // mid-run: steps 2 and 3 are still to come (each checkpoint is 1.6 GB)
  await waitStatus(page, 'interrupted', 120_000);
  const at = Number(await page.getByTestId('checkpoint-step').textContent());
  expect(at).toBeGreaterThanOrEqual(1);
  expect(at).toBeLessThan(3);
  await useBackend(page, 'WASM fallback');
  await page.getByTestId('resume').click();
  await waitStatus(page, 'completed', 600_000);
  const resumed = (await storedRuns(page)).at(-1)!;
  expect(resumed.id).not.toBe(straight.id);
  expect(resumed.steps.map((p) => p.step)).toEqual([1, 2, 3]);
  const diffs = resumed.steps.map((p, i) => Math.abs(p.loss - straight.steps[i].loss));
  measured.resumeMaxLossDiff = Math.max(...diffs);
  for (const d of diffs) expect(d).toBeLessThan(1e-4);

  // chat with the tuned weights, compared with the base
  await page.getByTestId('chat-compare').check();
  await page.getByTestId('chat-input').fill('hello again');
  await page.getByTestId('chat-input').press('Enter');
  await expect(page.getByTestId('msg-pair').last().getByTestId('msg-base')).toContainText('Base');
  await expect(page.getByTestId('chat-stop')).toBeDisabled({ timeout: 300_000 });
  await expect(page.getByTestId('error-banner')).toHaveCount(0);
  await shootPanels(page, 'real-size-llama-wasm');
});

// chats with a short system prompt of their own: SmolLM2's default one alone takes ~20 tokens, after which no chat
// keeps a trained token in 32
test('SmolLM2-135M on WebGPU: one LoRA step at batch 1 x 32, its GPU memory measured and shown', async () => {
  await useBackend(page, 'WebGPU');
  await dropFile(page, 'e2e/fixtures/short-system-chats.jsonl');
  await expect(page.getByTestId('preview').first()).toContainText('<|im_start|>system\nBe brief.<|im_end|>');
  await setSettings(page, {
    steps: 1,
    batch: 1,
    seq: 32,
    lr: 0.001,
    warmupSteps: 0,
    evalEvery: 0,
    sampleEvery: 0,
    checkpointEvery: 1,
    loraRank: 8,
  });
  await startAndWait(page);
  await expect(page.getByTestId('device-memory')).toContainText('GPU buffers');
  await expect(page.getByTestId('residency')).toContainText(
    /weights in GPU buffers: (\d+)\/\1 tensors · read back to the CPU in the last step: 8 bytes/,
  );
  measured.webgpuLora1x32 = await memory(page);
  const m = measured.webgpuLora1x32 as { ratio: number };
  expect(m.ratio).toBeGreaterThan(0.75);
  expect(m.ratio).toBeLessThan(1.25);
  await shootPanels(page, 'real-size-llama-webgpu');
});
