// What a person does in the studio, as steps the specs share.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { expect, type Page } from '@playwright/test';

/** Drops a file on the drop zone, as dragging it from the desktop does. */
export async function dropFile(page: Page, path: string): Promise<void> {
  const text = readFileSync(path, 'utf8');
  const dt = await page.evaluateHandle(({ text, name }) => {
    const d = new DataTransfer();
    d.items.add(new File([text], name, { type: 'application/x-ndjson' }));
    return d;
  }, { text, name: basename(path) });
  await page.getByTestId('drop-zone').dispatchEvent('drop', { dataTransfer: dt });
}

/** Small settings: SwiftShader runs WebGPU on the CPU and the 50257-way head dominates a step. */
export async function setSettings(page: Page, s: Record<string, number>): Promise<void> {
  for (const [k, v] of Object.entries(s)) await page.getByTestId(`set-${k}`).fill(String(v));
}

export async function chartPoints(page: Page): Promise<number> {
  return Number(await page.getByTestId('loss-chart').getAttribute('data-points'));
}

export async function losses(page: Page): Promise<number> {
  return Number(await page.getByTestId('loss').textContent());
}

export async function shootPanels(page: Page, dir: string): Promise<void> {
  for (const p of ['device-panel', 'model-panel', 'data-panel', 'train-panel', 'chat-panel']) {
    await page.getByTestId(p).screenshot({ path: `test-results/panels/${dir}-${p}.png` });
  }
}

export const waitStatus = (page: Page, status: string, timeout = 300_000) => expect(page.getByTestId('status')).toHaveText(status, { timeout });
