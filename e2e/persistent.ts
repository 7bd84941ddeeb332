// What the real-size specs share: one page on a browser profile on disk, as a person's browser has (Playwright's
// default contexts are incognito, where Chromium keeps IndexedDB in memory and refuses a 1.5 GB checkpoint with
// QuotaExceededError whatever quota it reports), the backend picked as a person picks it, and the device memory a
// run measured against the page's estimate.
import { expect, type BrowserContext, type Page, type PlaywrightWorkerArgs } from '@playwright/test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../scripts/chromium.js';

export interface PersistentPage {
  readonly page: Page;
  /** Closes the browser and removes its profile. */
  close(): Promise<void>;
}

/** A fresh profile under the temporary folder (`prefix` names it), with one page of the studio's preview. */
export async function openPersistent(
  playwright: PlaywrightWorkerArgs['playwright'],
  prefix: string,
): Promise<PersistentPage> {
  const profile = mkdtempSync(join(tmpdir(), prefix));
  const context: BrowserContext = await playwright.chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    args: CHROMIUM_ARGS,
    baseURL: 'http://127.0.0.1:4173',
  });
  return {
    page: context.pages()[0] ?? (await context.newPage()),
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export async function useBackend(page: Page, name: 'WebGPU' | 'WASM fallback'): Promise<void> {
  await page.getByRole('radio', { name }).check();
  await expect(page.getByTestId('backend-description')).toContainText(name === 'WebGPU' ? 'WebGPU' : 'WebAssembly', {
    timeout: 60_000,
  });
}

const MiB = 2 ** 20;

/** The run's measured device-memory peak against the page's estimate for the settings in force. */
export async function memory(page: Page): Promise<{ peakMiB: number; estimateMiB: number; ratio: number }> {
  const peak = Number(await page.getByTestId('device-memory').getAttribute('data-peak-bytes'));
  const estimate = Number(await page.getByTestId('run-memory').getAttribute('data-training-bytes'));
  return {
    peakMiB: Math.round(peak / MiB),
    estimateMiB: Math.round(estimate / MiB),
    ratio: +(estimate / peak).toFixed(3),
  };
}
