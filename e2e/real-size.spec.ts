// GPT-2 at its real size in the browser, as a new user meets it: a 124M-shaped checkpoint (548 MB, the Hub's
// layout, random weights the stand-in Hub makes) downloaded with progress, a cut at 300 MB resumed, cached in
// IndexedDB and loaded back with no request; LoRA at batch 4 x 128 and a full fine-tune with a checkpoint every
// step on WASM, reloaded mid-run and resumed onto the same loss curve, then chat; one LoRA step on WebGPU
// (SwiftShader) with the GPU memory measured; a distilgpt2-shaped checkpoint. One page throughout, so the cache
// the first test fills serves the rest.
import { expect, test, type Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { countParams, gpt2Params, GPT2_124M } from '../src/engine/models/gpt2.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dropFile, setSettings, shootPanels, startAndWait, storedRuns, waitStatus } from './helpers.js';
import { memory, openPersistent, useBackend, type PersistentPage } from './persistent.js';

const HUB = 'http://127.0.0.1:4174';
const requests = async (): Promise<string[]> => (await (await fetch(`${HUB}/__requests`)).json()) as string[];
const MiB = 2 ** 20;
const measured: Record<string, unknown> = {};

test.describe.configure({ mode: 'serial' });
let session: PersistentPage;
let page: Page;
test.beforeAll(async ({ playwright }) => {
  session = await openPersistent(playwright, 'fts-profile-');
  page = session.page;
});
test.afterAll(async () => {
  writeFileSync('test-results/real-size-measurements.json', JSON.stringify(measured, null, 1));
  await session?.close();
});

async function pick(repo: string) {
  await page.getByTestId('hub-endpoint').fill(HUB);
  await page.getByTestId('hub-repo').fill(repo);
}

test('GPT-2 124M: size before download, a cut at 300 MB resumed, then loaded from the cache with no request', async () => {
  await page.goto('/');
  await pick('acme/gpt2');
  await page.getByTestId('inspect-model').click();
  await expect(page.getByTestId('inspection')).toContainText(
    'acme/gpt2@main: 124.4M parameters (GPT-2, 12 layers, 768 wide, 12 heads) · download 523 MiB',
  );
  await expect(page.getByTestId('inspection-memory')).toContainText('Estimated for a full fine-tune'); // the tiny model's quick preset, the default

  await fetch(`${HUB}/__cut?file=model.safetensors&bytes=${300_000_000}`);
  const t0 = Date.now();
  await page.getByTestId('load-model').click();
  await expect(page.getByTestId('download-error')).toContainText(
    /the download of model\.safetensors stopped at \d+ of 548\d{6} bytes.*resumes from there/,
    { timeout: 300_000 },
  );
  await expect(page.getByTestId('cached-model')).toContainText('(partial)');
  await page.getByTestId('load-model').click();
  await expect(page.getByTestId('downloads').locator('progress')).toBeVisible();
  await expect(page.getByTestId('current-model')).toHaveText('acme/gpt2@main', { timeout: 300_000 });
  measured.downloadSeconds = (Date.now() - t0) / 1000;
  const resumedFrom = Number(
    (await requests())
      .filter((r) => r.includes('acme/gpt2') && r.includes('model.safetensors'))
      .at(-1)!
      .match(/bytes=(\d+)-$/)?.[1],
  );
  // what JavaScript had read before the cut was kept (bytes still in flight inside the browser are lost with the socket)
  measured.resumedFromBytes = resumedFrom;
  expect(resumedFrom).toBeGreaterThan(150_000_000);
  expect(resumedFrom).toBeLessThanOrEqual(300_000_000);
  await expect(page.getByTestId('cached-model').filter({ hasText: 'acme/gpt2@main' })).toContainText('524 MiB'); // with the tokenizer files

  const before = (await requests()).length;
  await page.reload();
  await pick('acme/gpt2');
  const t1 = Date.now();
  await page.getByTestId('load-model').click();
  await expect(page.getByTestId('current-model')).toHaveText('acme/gpt2@main', { timeout: 120_000 });
  measured.loadFromCacheSeconds = (Date.now() - t1) / 1000;
  await expect(page.getByTestId('downloads')).toContainText('model.safetensors523 MiB, from the cache');
  expect((await requests()).length).toBe(before);
});

test('GPT-2 124M on WASM: LoRA steps at batch 4 x 128 with the heap measured', async () => {
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
});

test('GPT-2 124M: the LoRA run exports a Hugging Face folder (LoRA merged, 498 MB of weights) and a PEFT adapter', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fts-export-124m-'));
  const zipOf = async (testId: string) => {
    const t0 = Date.now();
    const [dl] = await Promise.all([
      page.waitForEvent('download', { timeout: 300_000 }),
      page.getByTestId(testId).click(),
    ]);
    const zip = join(dir, dl.suggestedFilename());
    await dl.saveAs(zip);
    const seconds = (Date.now() - t0) / 1000;
    const names: Record<string, number> = JSON.parse(
      execFileSync('python3', [
        '-c',
        'import zipfile,sys,json; print(json.dumps({i.filename.split("/",1)[1]: i.file_size for i in zipfile.ZipFile(sys.argv[1]).infolist()}))',
        zip,
      ]).toString(),
    ) as Record<string, number>;
    return { zip, names, seconds };
  };
  const hf = await zipOf('export-hf');
  const weights = 4 * countParams(gpt2Params(GPT2_124M));
  expect(hf.names['model.safetensors']).toBeGreaterThan(weights);
  expect(hf.names['model.safetensors']).toBeLessThan(weights + 64 * 1024);
  for (const f of [
    'config.json',
    'tokenizer.json',
    'tokenizer_config.json',
    'generation_config.json',
    'README.md',
    'loss.svg',
  ])
    expect(hf.names[f], f).toBeGreaterThan(0);
  const adapter = await zipOf('export-adapter');
  expect(adapter.names['adapter_model.safetensors']).toBeLessThan(8 * MiB);
  const cfg = JSON.parse(
    execFileSync('python3', [
      '-c',
      'import zipfile,sys; z=zipfile.ZipFile(sys.argv[1]); print(z.read([n for n in z.namelist() if n.endswith("adapter_config.json")][0]).decode())',
      adapter.zip,
    ]).toString(),
  ) as Record<string, unknown>;
  expect(cfg).toMatchObject({ r: 8, lora_alpha: 16, fan_in_fan_out: true, base_model_name_or_path: 'acme/gpt2' });
  measured.export124m = {
    hfZipMiB: Math.round(statSync(hf.zip).size / MiB),
    hfSeconds: hf.seconds,
    adapterKiB: Math.round(statSync(adapter.zip).size / 1024),
    adapterSeconds: adapter.seconds,
  };
  rmSync(dir, { recursive: true, force: true });
});

test('GPT-2 124M on WASM: a full fine-tune checkpointed every step, reloaded mid-run and resumed onto the same curve; then chat', async () => {
  const settings = {
    steps: 4,
    batch: 1,
    seq: 32,
    lr: 0.0001,
    warmupSteps: 1,
    evalEvery: 0,
    sampleEvery: 0,
    checkpointEvery: 1,
    loraRank: 0,
  };
  await setSettings(page, settings);
  await startAndWait(page);
  measured.wasmFull1x32 = await memory(page);
  await expect(page.getByTestId('checkpoint-step')).toHaveText('4'); // every checkpoint saved (1.4 GiB each)
  await expect(page.getByTestId('checkpoint-error')).toHaveCount(0);
  const straight = (await storedRuns(page)).at(-1)!;
  expect(straight.status).toBe('completed');
  expect(straight.steps.map((p) => p.step)).toEqual([1, 2, 3, 4]);

  const before = (await storedRuns(page)).length;
  await page.getByTestId('start').click();
  await expect.poll(async () => (await storedRuns(page)).length, { timeout: 120_000 }).toBe(before + 1);
  await expect(page.getByTestId('checkpoint-step')).toHaveText('2', { timeout: 240_000 });
  await page.reload(); // mid-run: steps 3 and 4 are still to come
  await waitStatus(page, 'interrupted', 120_000);
  const at = Number(await page.getByTestId('checkpoint-step').textContent());
  expect(at).toBeGreaterThanOrEqual(2);
  expect(at).toBeLessThan(4);
  await useBackend(page, 'WASM fallback');
  await page.getByTestId('resume').click();
  await waitStatus(page, 'completed', 600_000);
  const resumed = (await storedRuns(page)).at(-1)!;
  expect(resumed.id).not.toBe(straight.id);
  expect(resumed.steps.map((p) => p.step)).toEqual([1, 2, 3, 4]);
  const diffs = resumed.steps.map((p, i) => Math.abs(p.loss - straight.steps[i].loss));
  measured.resumeMaxLossDiff = Math.max(...diffs);
  for (const d of diffs) expect(d).toBeLessThan(1e-4);

  await page.getByTestId('chat-input').fill('hello');
  await page.getByTestId('chat-send').click();
  await expect(page.getByTestId('chat-speed')).toBeVisible({ timeout: 300_000 });
  // compared with the base weights at this size: a second copy of the 124M weights in the WASM heap beside the run's
  await page.getByText('System prompt and sampling').click();
  await page.getByLabel('Max new tokens').fill('8');
  await page.getByTestId('chat-compare').check();
  await page.getByTestId('chat-input').fill('hello again');
  await page.getByTestId('chat-input').press('Enter');
  await expect(page.getByTestId('msg-pair').getByTestId('msg-base').getByTestId('reply-text')).toHaveText(/\S/, {
    timeout: 300_000,
  });
  // the tuned reply: text, or (four steps of random weights on short chats) the end token at once, said as such
  await expect(page.getByTestId('chat-stop')).toBeDisabled({ timeout: 300_000 });
  const tuned = page.getByTestId('msg-pair').getByTestId('msg-assistant');
  if (!(await tuned.getByTestId('reply-text').textContent())?.trim())
    await expect(tuned.getByTestId('reply-empty')).toBeVisible();
  await expect(page.getByTestId('error-banner')).toHaveCount(0);
  await shootPanels(page, 'real-size-wasm');
});

test('GPT-2 124M on WebGPU: one LoRA step at batch 1 x 32, its GPU memory measured and shown', async () => {
  await useBackend(page, 'WebGPU');
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
  // 148 base tensors and the 48 LoRA tensors packed in 2 flat groups (artifacts/flat.ts), all in GPU buffers
  await expect(page.getByTestId('residency')).toContainText('weights in GPU buffers: 150/150 tensors');
  measured.webgpuLora1x32 = await memory(page);
  const m = measured.webgpuLora1x32 as { ratio: number };
  expect(m.ratio).toBeGreaterThan(0.75);
  expect(m.ratio).toBeLessThan(1.25);
  await shootPanels(page, 'real-size-webgpu');
});

test('a distilgpt2-shaped checkpoint: size before download, downloaded and cached beside GPT-2', async () => {
  await pick('acme/distilgpt2');
  await page.getByTestId('inspect-model').click();
  await expect(page.getByTestId('inspection')).toContainText(
    'acme/distilgpt2@main: 81.9M parameters (GPT-2, 6 layers, 768 wide, 12 heads) · download 336 MiB',
  );
  await page.getByTestId('load-model').click();
  await expect(page.getByTestId('current-model')).toHaveText('acme/distilgpt2@main', { timeout: 300_000 });
  await expect(page.getByTestId('cached-model')).toHaveCount(2);
});
