// What a person does in the studio, as steps the specs share.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { basename, extname, join, normalize } from 'node:path';
import AxeBuilder from '@axe-core/playwright';
import { expect, type Page } from '@playwright/test';

/** Drops a file on the drop zone, as dragging it from the desktop does. */
export async function dropFile(page: Page, path: string): Promise<void> {
  const text = readFileSync(path, 'utf8');
  const dt = await page.evaluateHandle(
    ({ text, name }) => {
      const d = new DataTransfer();
      d.items.add(new File([text], name, { type: 'application/x-ndjson' }));
      return d;
    },
    { text, name: basename(path) },
  );
  await page.getByTestId('drop-zone').dispatchEvent('drop', { dataTransfer: dt });
}

/** Small settings: SwiftShader runs WebGPU on the CPU and the 50257-way head dominates a step. */
export async function setSettings(page: Page, s: Record<string, number>): Promise<void> {
  await page.getByTestId('advanced').evaluate((d) => ((d as HTMLDetailsElement).open = true)); // folded away unless the preset is custom
  for (const [k, v] of Object.entries(s)) await page.getByTestId(`set-${k}`).fill(String(v));
}

export async function chartPoints(page: Page): Promise<number> {
  return Number(await page.getByTestId('loss-chart').getAttribute('data-points'));
}

export async function losses(page: Page): Promise<number> {
  return Number(await page.getByTestId('loss').textContent());
}

export async function shootPanels(page: Page, dir: string): Promise<void> {
  for (const p of ['device-panel', 'model-panel', 'data-panel', 'settings-panel', 'train-panel', 'chat-panel']) {
    await page.getByTestId(p).screenshot({ path: `test-results/panels/${dir}-${p}.png` });
  }
}

export const waitStatus = (page: Page, status: string, timeout = 300_000) =>
  expect(page.getByTestId('status')).toHaveText(status, { timeout });

/** Starts a run and waits until that run (not the one shown before it) has finished with `status`. */
export async function startAndWait(page: Page, status = 'completed', timeout = 600_000): Promise<string> {
  const before = new Set((await storedRuns(page)).map((r) => r.id));
  await page.getByTestId('start').click();
  let id = '';
  await expect
    .poll(async () => (id = (await storedRuns(page)).find((r) => !before.has(r.id))?.id ?? ''), { timeout: 120_000 })
    .not.toBe('');
  await expect(page.getByTestId('run-status')).toHaveAttribute('data-run-id', id, { timeout: 120_000 });
  await waitStatus(page, status, timeout);
  return id;
}

/** The runs stored in this browser's IndexedDB (fts-runs), oldest first: the full loss curves, exact. */
export async function storedRuns(
  page: Page,
): Promise<
  { id: string; createdAt: number; steps: { step: number; loss: number }[]; checkpointStep: number; status: string }[]
> {
  const runs = await page.evaluate(
    () =>
      new Promise<unknown[]>((resolve, reject) => {
        const open = indexedDB.open('fts-runs');
        open.onerror = () => reject(open.error ?? new Error('indexedDB.open failed'));
        open.onsuccess = () => {
          const req = open.result.transaction('runs').objectStore('runs').getAll();
          req.onsuccess = () => resolve(req.result);
          req.onerror = () => reject(req.error ?? new Error('getAll failed'));
        };
      }),
  );
  return (runs as { createdAt: number }[]).sort((a, b) => a.createdAt - b.createdAt) as never;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
};

/** A plain static file server (no special headers), as someone would use to host an exported chat page. */
export function serveFolder(root: string): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const path = normalize(join(root, decodeURIComponent(new URL(req.url!, 'http://x').pathname)));
    const file = path.endsWith('/') ? join(path, 'index.html') : path;
    if (!path.startsWith(root) || !existsSync(file) || statSync(file).isDirectory()) {
      res.statusCode = 404;
      return res.end();
    }
    res.setHeader('Content-Type', TYPES[extname(file)] ?? 'application/octet-stream');
    res.end(readFileSync(file));
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ url: `http://127.0.0.1:${(server.address() as { port: number }).port}/`, server }),
    ),
  );
}

/** Clicks an export button, saves the zip into `dir` and unzips it with Python's zipfile (not our own reader). */
export async function downloadZip(page: Page, testId: string, dir: string): Promise<{ zip: string; folder: string }> {
  const [dl] = await Promise.all([
    page.waitForEvent('download', { timeout: 300_000 }),
    page.getByTestId(testId).click(),
  ]);
  const zip = join(dir, dl.suggestedFilename());
  await dl.saveAs(zip);
  const out = join(dir, dl.suggestedFilename().replace(/\.zip$/, ''));
  execFileSync('python3', ['-c', 'import zipfile,sys; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])', zip, out]);
  return { zip, folder: join(out, dl.suggestedFilename().replace(/\.zip$/, '')) };
}

/** The unzipped folder of an export. */
export async function download(page: Page, testId: string, dir: string): Promise<string> {
  return (await downloadZip(page, testId, dir)).folder;
}

/** axe-core over the whole page: no serious or critical violation (the list printed when there is one). */
export async function axe(page: Page, state: string): Promise<void> {
  const { violations } = await new AxeBuilder({ page }).analyze();
  const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(
    bad.map(
      (v) =>
        `${state}: ${v.id} (${v.impact}): ${v.help} at ${v.nodes
          .map((n) => n.target.join(' '))
          .slice(0, 3)
          .join(', ')}`,
    ),
  ).toEqual([]);
}
