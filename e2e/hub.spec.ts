// A GPT-2 from the Hub (a local stand-in with the Hub's URL layout): size and memory before downloading, a download
// with visible progress, a reload that loads from the cache with no request to the Hub, a download cut halfway and
// resumed, and deleting the cached model.
import { expect, test, type Page } from '@playwright/test';
import { chartPoints, dropFile, setSettings, shootPanels, waitStatus } from './helpers.js';

const HUB = 'http://127.0.0.1:4174';
const requests = async (): Promise<string[]> => (await (await fetch(`${HUB}/__requests`)).json()) as string[];

async function pickHubModel(page: Page) {
  await page.getByTestId('hub-endpoint').fill(HUB);
  await page.getByTestId('hub-repo').fill('acme/small-gpt2');
}

test('download with progress, then a reload loads it from the cache with no request to the Hub', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByTestId('current-model')).toContainText('tiny GPT-2');
  await pickHubModel(page);
  await page.getByTestId('inspect-model').click();
  await expect(page.getByTestId('inspection')).toContainText(
    'acme/small-gpt2@main: 1.6M parameters (GPT-2, 1 layers, 32 wide, 2 heads) · download 6 MiB',
  );
  await page.getByTestId('load-model').click();
  await expect(page.getByTestId('downloads').locator('progress')).toBeVisible(); // model.safetensors under way
  await expect(page.getByTestId('current-model')).toHaveText('acme/small-gpt2@main', { timeout: 120_000 });
  await expect(page.getByTestId('downloads')).toContainText('model.safetensors6 MiB, downloaded');
  await expect(page.getByTestId('cached-model')).toContainText('acme/small-gpt2@main');

  const before = (await requests()).length;
  await page.reload();
  await pickHubModel(page);
  await page.getByTestId('load-model').click();
  await expect(page.getByTestId('current-model')).toHaveText('acme/small-gpt2@main', { timeout: 60_000 });
  await expect(page.getByTestId('downloads')).toContainText('model.safetensors6 MiB, from the cache');
  expect((await requests()).length).toBe(before);

  // and it trains: LoRA adapters on the downloaded base
  await dropFile(page, 'e2e/fixtures/short-chats.jsonl');
  await setSettings(page, {
    steps: 3,
    batch: 2,
    seq: 24,
    warmupSteps: 1,
    evalEvery: 0,
    sampleEvery: 0,
    checkpointEvery: 3,
    loraRank: 4,
  });
  await page.getByTestId('start').click();
  await waitStatus(page, 'completed');
  expect(await chartPoints(page)).toBe(3);
  await shootPanels(page, 'hub');
});

test('a download cut halfway resumes where it stopped; a cached model can be deleted', async ({ page }) => {
  await page.goto('/');
  await pickHubModel(page);
  await fetch(`${HUB}/__cut?file=model.safetensors&bytes=${3 * 2 ** 20}`);
  await page.getByTestId('load-model').click();
  await expect(page.getByTestId('download-error')).toContainText(
    /the download of model\.safetensors stopped at \d+ of \d+ bytes.*resumes from there/,
    { timeout: 120_000 },
  );
  await expect(page.getByTestId('cached-model')).toContainText('(partial)');
  await page.getByTestId('load-model').click();
  await expect(page.getByTestId('current-model')).toHaveText('acme/small-gpt2@main', { timeout: 120_000 });
  const resumed = (await requests()).filter((r) => r.includes('model.safetensors')).at(-1)!;
  expect(Number(resumed.match(/bytes=(\d+)-$/)?.[1])).toBeGreaterThan(2 * 2 ** 20);

  const row = page.getByTestId('cached-model');
  await expect(row).not.toContainText('(partial)');
  await row.getByRole('button', { name: 'Delete' }).click();
  await expect(page.getByTestId('cached-model')).toHaveCount(0);
});
