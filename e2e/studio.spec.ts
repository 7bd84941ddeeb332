// A person's whole path through the studio on WebGPU (SwiftShader in CI), the WASM fallback, and a malformed file.
import { readdirSync } from 'node:fs';
import { expect, test } from '@playwright/test';
import { chartPoints, dropFile, losses, setSettings, shootPanels, waitStatus } from './helpers.js';

const SMALL = { batch: 2, seq: 24, warmupSteps: 2, evalEvery: 3, sampleEvery: 3, checkpointEvery: 3, loraRank: 0 }; // a full fine-tune

test('train on WebGPU, watch it learn, pause, reload, resume, then chat', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByTestId('webgpu-adapter')).toBeVisible();
  await expect(page.getByTestId('backend-description')).toContainText('WebGPU');

  await dropFile(page, 'e2e/fixtures/short-chats.jsonl');
  await expect(page.getByTestId('dataset-summary')).toContainText('30 conversations');
  await setSettings(page, { ...SMALL, steps: 12, lr: 0.003 });
  await page.getByTestId('start').click();

  // the chart gains points as steps arrive
  await expect(page.getByTestId('step')).toHaveText('2', { timeout: 300_000 });
  const firstLoss = await losses(page);
  await expect.poll(() => chartPoints(page), { timeout: 300_000 }).toBeGreaterThanOrEqual(6);
  await expect(page.getByTestId('samples').locator('li').first()).toBeVisible();
  // weights stay on the GPU: every weight tensor in a GPU buffer, only the two scalars read back per step
  await expect(page.getByTestId('residency')).toContainText(
    /weights in GPU buffers: (\d+)\/\1 tensors · read back to the CPU in the last step: 8 bytes/,
  );
  await page.getByTestId('pause').click();
  await waitStatus(page, 'paused');
  const pausedAt = Number(await page.getByTestId('step').textContent());
  expect(pausedAt).toBeGreaterThanOrEqual(6);
  expect(await losses(page)).toBeLessThan(firstLoss);
  await expect(page.getByTestId('checkpoint-step')).toHaveText(String(pausedAt)); // pausing saves
  await shootPanels(page, 'paused');

  // a reload restores the run from IndexedDB: chart, step, status
  await page.reload();
  await waitStatus(page, 'interrupted', 60_000);
  await expect(page.getByTestId('step')).toHaveText(String(pausedAt));
  expect(await chartPoints(page)).toBe(pausedAt);
  await expect(page.getByTestId('dataset-summary')).toContainText('short-chats.jsonl');

  await page.getByTestId('resume').click();
  await waitStatus(page, 'completed', 400_000);
  await expect(page.getByTestId('step')).toHaveText('12');
  expect(await chartPoints(page)).toBe(12);
  expect(await losses(page)).toBeLessThan(firstLoss);

  // chat on the tuned weights: streamed text arrives
  await page.getByTestId('chat-input').fill('hi');
  await page.getByTestId('chat-send').click();
  await expect(page.getByTestId('msg-assistant').last().getByTestId('reply-text')).toHaveText(/\S/, {
    timeout: 120_000,
  });
  await expect(page.getByTestId('chat-speed')).toBeVisible({ timeout: 120_000 });
  await shootPanels(page, 'done');
});

test('the same training on the WASM fallback', async ({ page }) => {
  const fetched: string[] = [];
  page.on('request', (r) => fetched.push(new URL(r.url()).pathname));
  await page.goto('/');
  await page.getByTestId('backend-wasm').check();
  await expect(page.getByTestId('backend-description')).toContainText('WebAssembly, 2 threads');
  await dropFile(page, 'e2e/fixtures/short-chats.jsonl');
  await setSettings(page, { ...SMALL, steps: 6 });
  await page.getByTestId('start').click();
  await waitStatus(page, 'completed', 300_000);
  expect(await chartPoints(page)).toBe(6);
  // a full fine-tune compared with its base weights (from the model, uploaded once): two replies side by side
  await page.getByTestId('chat-compare').check();
  await page.getByTestId('chat-input').fill('hi');
  await page.getByTestId('chat-input').press('Enter');
  await expect(page.getByTestId('msg-pair').getByTestId('msg-assistant')).toContainText('Tuned:');
  await expect(page.getByTestId('msg-pair').getByTestId('msg-assistant').getByTestId('reply-text')).toHaveText(/\S/, {
    timeout: 120_000,
  });
  await expect(page.getByTestId('msg-pair').getByTestId('msg-base')).toContainText('Base:');
  await expect(page.getByTestId('msg-pair').getByTestId('msg-base').getByTestId('reply-text')).toHaveText(/\S/, {
    timeout: 120_000,
  });
  await shootPanels(page, 'wasm');
  // the page fetched one onnxruntime WASM binary, the one it runs (the chat page's copy only goes into exports)
  expect(readdirSync('dist/assets').filter((f) => f.endsWith('.wasm'))).toHaveLength(1); // and the build ships only that one
  expect(fetched.filter((p) => p.endsWith('.wasm'))).toEqual([
    expect.stringMatching(/^\/assets\/ort-wasm-simd-threaded\.asyncify-[\w-]+\.wasm$/),
  ]);
});

test('a malformed file gives line-numbered errors and keeps the dataset already loaded', async ({ page }) => {
  await page.goto('/');
  await dropFile(page, 'e2e/fixtures/short-chats.jsonl');
  await expect(page.getByTestId('dataset-summary')).toContainText('short-chats.jsonl');
  await page.getByTestId('file-input').setInputFiles('e2e/fixtures/bad.jsonl');
  const errors = page.getByTestId('data-errors');
  await expect(errors).toContainText('bad.jsonl was not loaded (still using short-chats.jsonl)');
  await expect(errors).toContainText('bad.jsonl:2: messages[1].content: is missing');
  await expect(errors).toContainText('bad.jsonl:3: invalid JSON');
  await expect(page.getByTestId('dataset-summary')).toContainText('short-chats.jsonl (chat): 30 conversations');
  await shootPanels(page, 'malformed');
});

test('a full storage quota is reported, training goes on, and the stored checkpoint survives a reload', async ({
  page,
  baseURL,
}) => {
  await page.goto('/');
  await dropFile(page, 'e2e/fixtures/short-chats.jsonl');
  await setSettings(page, { ...SMALL, steps: 8, evalEvery: 0, sampleEvery: 0, checkpointEvery: 2 });
  await page.getByTestId('start').click();
  await expect(page.getByTestId('checkpoint-step')).toHaveText('2', { timeout: 300_000 });
  // now the quota is what is already used: the next checkpoint (40 MB of weights and moments) cannot fit
  const cdp = await page.context().newCDPSession(page);
  const usage = await page.evaluate(async () => (await navigator.storage.estimate()).usage ?? 0);
  await cdp.send('Storage.overrideQuotaForOrigin', {
    origin: new URL(baseURL!).origin,
    quotaSize: usage + 1024 * 1024,
  });
  // refused before writing when the browser's estimate already shows it, else the write's QuotaExceededError
  // (Chromium updates estimate() lazily): either way shown with the run, with the step a reload would resume from
  const why =
    /(the checkpoint at step \d needs \d+ MiB of storage, but only \d+ MiB is free in this browser; nothing was written|the browser's storage quota is full, so the checkpoint at step \d was not saved \(what was saved before is intact\))/;
  const failed = new RegExp(`step (\\d) was not saved: ${why.source}.*A reload would resume from step (\\d)\\.`);
  await expect(page.getByTestId('checkpoint-error')).toContainText(failed, { timeout: 300_000 });
  await expect(page.getByTestId('storage')).toContainText(why);
  // the last save that fit (step 2, or 4 when it landed before the quota changed) is what stays
  const kept = (await page.getByTestId('checkpoint-error').textContent())!.match(failed)![3];
  expect(Number(kept)).toBeGreaterThanOrEqual(2);
  await expect(page.getByTestId('checkpoint-step')).toHaveText(kept);
  await waitStatus(page, 'completed');
  await expect(page.getByTestId('checkpoint-error')).toContainText(`step 8 was not saved`);
  await expect(page.getByTestId('checkpoint-step')).toHaveText(kept); // later saves failed, the earlier one is intact
  await shootPanels(page, 'quota');
  await page.reload();
  await expect(page.getByTestId('run-status')).toBeVisible({ timeout: 60_000 });
  await expect(page.getByTestId('checkpoint-step')).toHaveText(kept);
  // the run can still be removed from the list
  page.on('dialog', (d) => void d.accept());
  const rows = page.getByTestId('runs-panel').locator('tbody tr');
  const before = await rows.count();
  await rows.first().getByRole('button', { name: 'Delete' }).click();
  await expect(rows).toHaveCount(before - 1);
});

test('a lost GPU device is reported, and the run resumes from its checkpoint on a new device', async ({ page }) => {
  await page.goto('/');
  await dropFile(page, 'e2e/fixtures/short-chats.jsonl');
  await setSettings(page, { ...SMALL, steps: 8, evalEvery: 0, sampleEvery: 0, checkpointEvery: 2 });
  await page.getByTestId('start').click();
  await expect(page.getByTestId('checkpoint-step')).toHaveText('2', { timeout: 300_000 });
  // the fault drill: the worker destroys its GPUDevice, which the browser reports as a lost device
  const engine = page.workers().find((w) => w.url().includes('engine.worker'))!;
  await engine.evaluate(() =>
    (self as unknown as { ftsFaults: { loseDevice(): Promise<void> } }).ftsFaults.loseDevice(),
  );
  await expect(page.getByTestId('error-banner')).toContainText('The GPU device was lost', { timeout: 120_000 });
  await waitStatus(page, 'failed', 120_000);
  const at = Number(await page.getByTestId('checkpoint-step').textContent());
  expect(at).toBeGreaterThanOrEqual(2);
  await page.getByTestId('resume').click();
  await waitStatus(page, 'completed');
  expect(await chartPoints(page)).toBe(8);
  await expect(page.getByTestId('residency')).toContainText(/weights in GPU buffers: (\d+)\/\1 tensors/);
});
