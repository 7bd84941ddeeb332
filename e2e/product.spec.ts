// The studio as a product: "Try it" in one click, the dashboard in view while training at laptop and desktop sizes
// and usable on a phone, base-vs-tuned chat, runs overlaid, invalid settings blocking Start, a keyboard-only path,
// and zero serious or critical axe-core violations in each state. Screenshots of each state: test-results/product/.
import { expect, test, type Page } from '@playwright/test';
import { axe, dropFile, setSettings, storedRuns, waitStatus } from './helpers.js';

const shot = (page: Page, name: string) => page.screenshot({ path: `test-results/product/${name}.png` });

/** The element's box lies inside the viewport (nothing to scroll to see it). */
async function inView(page: Page, testId: string): Promise<void> {
  const box = (await page.getByTestId(testId).first().boundingBox())!;
  const vp = page.viewportSize()!;
  expect(box, testId).not.toBeNull();
  expect(box.y, `${testId} top`).toBeGreaterThanOrEqual(0);
  expect(box.x, `${testId} left`).toBeGreaterThanOrEqual(0);
  expect(box.y + box.height, `${testId} bottom (viewport ${vp.height})`).toBeLessThanOrEqual(vp.height);
  expect(box.x + box.width, `${testId} right (viewport ${vp.width})`).toBeLessThanOrEqual(vp.width);
}

const step = async (page: Page) => Number((await page.getByTestId('step').textContent()) ?? 0);

test.describe('at 1366 x 768', () => {
  test.use({ viewport: { width: 1366, height: 768 } });

  test('"Try it" trains on WebGPU in one click: loss points, a sample reply, the dashboard in view; then base vs tuned', async ({
    page,
  }) => {
    await page.goto('/');
    await expect(page.getByTestId('backend-description')).toContainText('WebGPU');
    await expect(page.getByTestId('empty-run')).toBeVisible();
    await axe(page, 'empty');
    await shot(page, '1366-empty');

    const clicked = Date.now();
    await page.getByTestId('try-it').click();
    await expect(page.getByTestId('guide')).toContainText(/Getting ready|Training/);
    await expect(page.getByTestId('dataset-summary')).toContainText('sample-support.jsonl');
    await expect(page.getByTestId('preset-quick')).toBeChecked();
    await waitStatus(page, 'training', 120_000);
    await expect.poll(() => step(page), { timeout: 300_000, intervals: [250] }).toBeGreaterThanOrEqual(1);
    const firstLoss = (Date.now() - clicked) / 1000;
    await expect(page.getByTestId('loss-chart')).not.toHaveAttribute('data-points', '0');
    await expect(page.getByTestId('guide')).toContainText('Look at:');
    // during training, the chart, the tiles and the chat input are on screen without scrolling
    for (const id of ['loss-chart', 'tiles', 'chat-input', 'step', 'loss']) await inView(page, id);
    expect(await page.evaluate(() => document.scrollingElement!.scrollHeight)).toBeLessThanOrEqual(768); // the window itself does not scroll
    await expect(page.getByTestId('chart-summary')).toContainText(/Loss chart: \d+ steps; training loss/);
    await expect(page.getByTestId('samples').locator('li').first()).toContainText(/step 5/, { timeout: 300_000 }); // the quick preset samples every 5 steps
    const firstSample = (Date.now() - clicked) / 1000;
    // reported, not asserted (SwiftShader runs WebGPU on the CPU; speed is the benchmarks' business)
    test.info().annotations.push({
      type: 'try-it (SwiftShader WebGPU)',
      description: `first loss point ${firstLoss.toFixed(1)} s, first sample reply ${firstSample.toFixed(1)} s after the click`,
    });
    console.log(
      `try-it on SwiftShader WebGPU: first loss point ${firstLoss.toFixed(1)} s, first sample reply ${firstSample.toFixed(1)} s after the click`,
    );
    await axe(page, 'training');
    await shot(page, '1366-training');
    await page.screenshot({ path: 'docs/studio.png' }); // README.md's picture

    await page.getByTestId('stop').click();
    await waitStatus(page, 'stopped', 300_000);
    await expect(page.getByTestId('time-estimate')).toContainText('Estimated time: ~'); // measured on this backend now
    await expect(page.getByTestId('preset-quick-estimate')).toContainText(/MiB · ~/);

    // base vs tuned: the same message, two replies side by side (a full fine-tune: the base weights)
    await page.getByText('System prompt and sampling').click();
    await page.getByTestId('system-prompt').fill('You are a support agent.');
    await page.getByLabel('Max new tokens').fill('12');
    await page.getByTestId('chat-compare').check();
    await page.getByTestId('chat-input').fill('Where is my order?');
    await page.getByTestId('chat-input').press('Enter');
    const pair = page.getByTestId('msg-pair').last();
    await expect(pair.getByTestId('msg-assistant')).toContainText('Tuned:');
    await expect(pair.getByTestId('msg-assistant').getByTestId('reply-text')).toHaveText(/\S/, { timeout: 180_000 });
    await expect(pair.getByTestId('msg-base')).toContainText('Base:');
    await expect(pair.getByTestId('msg-base').getByTestId('reply-text')).toHaveText(/\S/, { timeout: 180_000 });
    await expect(page.getByTestId('chat-send')).toBeDisabled(); // nothing typed
    await expect(page.getByTestId('chat-stop')).toBeDisabled({ timeout: 180_000 });
    await axe(page, 'chat');
    await shot(page, '1366-chat-compare');
    // regenerate replaces the last reply; clear empties the log
    await page.getByTestId('chat-compare').uncheck();
    await page.getByTestId('chat-regenerate').click();
    await expect(page.getByTestId('msg-assistant')).toHaveCount(1);
    await expect(page.getByTestId('chat-stop')).toBeDisabled({ timeout: 180_000 });
    await expect(page.getByTestId('msg-user')).toHaveCount(1);
    await page.getByTestId('chat-clear').click();
    await expect(page.getByTestId('msg-user')).toHaveCount(0);
  });

  test('advanced settings, once opened, stay open while a field goes wrong and right again', async ({ page }) => {
    await page.goto('/');
    await expect(page.getByTestId('preset-quick')).toBeChecked();
    const advanced = page.getByTestId('advanced');
    await expect(advanced).not.toHaveAttribute('open');
    await advanced.locator('summary').click();
    const steps = page.getByTestId('set-steps');
    const v = await steps.inputValue();
    await steps.fill(''); // wrong: the panel is held open by the problem (and the preset is now custom)
    await expect(page.getByTestId('invalid-steps')).toBeVisible();
    await steps.fill(v); // right again, and the quick preset's values once more
    await expect(page.getByTestId('preset-quick')).toBeChecked();
    await expect(page.getByTestId('invalid-steps')).toHaveCount(0);
    await page.waitForTimeout(300);
    await expect(advanced).toHaveAttribute('open');
    await expect(steps).toBeVisible();
    await advanced.locator('summary').click(); // and closing it is the person's to do
    await expect(advanced).not.toHaveAttribute('open');
  });

  test('invalid settings are named at the field and block Start; nothing is sent', async ({ page }) => {
    await page.goto('/');
    await page.getByTestId('file-input').setInputFiles('e2e/fixtures/faq.csv'); // 2 records: no validation rows
    await expect(page.getByTestId('dataset-summary')).toContainText('0 validation rows');
    await axe(page, 'data loaded');
    await shot(page, '1366-data-loaded');
    await setSettings(page, { seq: 2048, batch: 0, lr: -0.001, steps: 10, warmupSteps: 20, evalEvery: 5 });
    await expect(page.getByTestId('invalid-seq')).toHaveText(
      "The model's context is 256 tokens: a sequence of 2048 does not fit (at most 256).",
    );
    await expect(page.getByTestId('invalid-batch')).toHaveText('The batch must be at least 1 (got 0).');
    await expect(page.getByTestId('invalid-lr')).toHaveText('The learning rate must be above 0 (got -0.001).');
    await expect(page.getByTestId('invalid-warmupSteps')).toHaveText(
      'Warmup (20 steps) is longer than the run (10 steps).',
    );
    await expect(page.getByTestId('invalid-evalEvery')).toContainText('no validation rows');
    await expect(page.getByTestId('set-seq')).toHaveAttribute('aria-invalid', 'true');
    await expect(page.getByTestId('start')).toBeDisabled();
    await expect(page.getByTestId('start-blocked')).toContainText('Warmup (20 steps) is longer than the run');
    await page.getByTestId('start').click({ force: true }); // a disabled button sends nothing
    await axe(page, 'invalid settings');
    await shot(page, '1366-invalid');
    await page.waitForTimeout(1000);
    expect(await storedRuns(page)).toHaveLength(0);
    // fixed one by one, Start comes back
    await setSettings(page, { seq: 32, batch: 2, lr: 0.003, warmupSteps: 2, evalEvery: 0 });
    await expect(page.getByTestId('start-blocked')).toHaveCount(0);
    await expect(page.getByTestId('start')).toBeEnabled();
    // the time a run would take, from two timed steps of this model at these settings (nothing stored)
    await expect(page.getByTestId('time-estimate')).toContainText('not known until');
    await page.getByTestId('measure-speed').click();
    await expect(page.getByTestId('time-estimate')).toContainText(/Estimated time: ~\d+/, { timeout: 180_000 });
    expect(await storedRuns(page)).toHaveLength(0);
  });
});

test.describe('at 1920 x 1080', () => {
  test.use({ viewport: { width: 1920, height: 1080 } });

  test('keyboard only: from "Try it" to a chat reply, focus always visible', async ({ page }) => {
    await page.goto('/');
    await expect(page.getByTestId('backend-description')).toContainText('WebGPU');
    await page.locator('body').focus();
    const focused = () =>
      page.evaluate(() => document.activeElement?.getAttribute('data-testid') ?? document.activeElement?.tagName ?? '');
    const tabTo = async (testId: string) => {
      for (let i = 0; i < 300 && (await focused()) !== testId; i++) await page.keyboard.press('Tab');
      expect(await focused()).toBe(testId);
      const outline = await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle);
      expect(outline, `${testId} shows where the focus is`).not.toBe('none');
    };
    // the CPU fallback (the same path, faster on a machine without a GPU), chosen with the arrow keys
    await tabTo('backend-webgpu');
    await page.keyboard.press('ArrowDown');
    await expect(page.getByTestId('backend-wasm')).toBeChecked();
    await expect(page.getByTestId('backend-description')).toContainText('WebAssembly');
    await tabTo('try-it');
    const clicked = Date.now();
    await page.keyboard.press('Enter');
    await waitStatus(page, 'training', 120_000);
    await expect.poll(() => step(page), { timeout: 300_000, intervals: [250] }).toBeGreaterThanOrEqual(1);
    const firstLoss = (Date.now() - clicked) / 1000;
    for (const id of ['loss-chart', 'tiles', 'chat-input']) await inView(page, id);
    await shot(page, '1920-training');
    await tabTo('chat-input');
    await page.keyboard.type('Hello, my order is late');
    await page.keyboard.press('Shift+Enter'); // a new line, not a send
    await page.keyboard.type('Can you help?');
    await expect(page.getByTestId('chat-input')).toHaveValue('Hello, my order is late\nCan you help?');
    await page.keyboard.press('Enter');
    await expect(page.getByTestId('msg-user')).toHaveText('You: Hello, my order is late\nCan you help?');
    await expect(page.getByTestId('msg-assistant').last().getByTestId('reply-text')).toHaveText(/\S/, {
      timeout: 180_000,
    });
    await expect(page.getByTestId('chat-input')).toHaveValue('');
    await expect(page.getByTestId('samples').locator('li').first()).toBeVisible({ timeout: 300_000 });
    console.log(
      `try-it on WASM: first loss point ${firstLoss.toFixed(1)} s, a sample reply by ${((Date.now() - clicked) / 1000).toFixed(1)} s after Enter`,
    );
    await waitStatus(page, 'completed', 400_000);
    await axe(page, 'finished');
    await shot(page, '1920-finished');
  });

  test('two runs overlaid, renamed, in the runs list with their best validation loss', async ({ page }) => {
    await page.goto('/');
    await page.getByTestId('backend-wasm').check();
    await expect(page.getByTestId('backend-description')).toContainText('WebAssembly');
    await dropFile(page, 'e2e/fixtures/short-chats.jsonl');
    await page.getByTestId('preset-quick').check();
    await setSettings(page, { steps: 4, evalEvery: 2, sampleEvery: 0, checkpointEvery: 4, warmupSteps: 1 });
    await page.getByTestId('start').click();
    await waitStatus(page, 'completed');
    await setSettings(page, { loraRank: 4 });
    const before = (await storedRuns(page)).length;
    await page.getByTestId('start').click();
    await expect.poll(async () => (await storedRuns(page)).length).toBe(before + 1);
    await waitStatus(page, 'completed');
    // LoRA compared with its base: the adapter on and off, side by side
    await page.getByTestId('chat-compare').check();
    await page.getByTestId('chat-input').fill('Where is my order?');
    await page.getByTestId('chat-send').click();
    await expect(page.getByTestId('msg-pair').getByTestId('msg-assistant')).toContainText('Tuned (adapter on):');
    await expect(page.getByTestId('msg-pair').getByTestId('msg-assistant').getByTestId('reply-text')).toHaveText(/\S/, {
      timeout: 120_000,
    });
    await expect(page.getByTestId('msg-pair').getByTestId('msg-base')).toContainText('Base (adapter off):');
    await expect(page.getByTestId('msg-pair').getByTestId('msg-base').getByTestId('reply-text')).toHaveText(/\S/, {
      timeout: 120_000,
    });
    const rows = page.getByTestId('run-row');
    await expect(rows).toHaveCount(2);
    await expect(rows.first()).toContainText(/\d\.\d{3} \(step [24]\)/); // best validation loss and its step
    await expect(rows.first()).toContainText('tiny GPT-2 (offline) · LoRA 4');
    await expect(rows.nth(1)).toContainText('tiny GPT-2 (offline) · full');
    // rename: kept in storage, shown after a reload
    await rows.first().getByTestId('run-name').fill('lora 4');
    await rows.first().getByTestId('run-name').press('Enter');
    await rows.nth(1).getByTestId('run-name').fill('full');
    await rows.nth(1).getByTestId('run-name').press('Enter');
    await page.getByTestId('overlay-run').nth(0).check();
    await page.getByTestId('overlay-run').nth(1).check();
    await expect(page.getByTestId('overlay-chart')).toHaveAttribute('data-series', '2');
    await expect(page.getByTestId('overlay-chart')).toHaveAttribute(
      'aria-label',
      /Training loss of 2 runs: lora 4: \d+\.\d{3} at step 4; full: \d+\.\d{3} at step 4\./,
    );
    await page.getByTestId('runs-panel').scrollIntoViewIfNeeded();
    await axe(page, 'runs overlaid');
    await page.getByTestId('runs-panel').screenshot({ path: 'test-results/product/1920-runs-overlay.png' });
    await page.reload();
    await expect(page.getByTestId('run-name').first()).toHaveValue('lora 4');
    // "Export" opens the run and brings its exports into view
    await page.getByTestId('run-row').nth(1).getByRole('button', { name: 'Export' }).click();
    await expect(page.getByTestId('run-status')).toHaveAttribute(
      'data-run-id',
      (await page.getByTestId('run-row').nth(1).getAttribute('data-run-id'))!,
    );
    await expect(page.getByTestId('export-panel')).toBeInViewport();
  });
});

test.describe('on a 390-px phone', () => {
  test.use({ viewport: { width: 390, height: 844 }, colorScheme: 'dark' });

  test('stacked, nothing wider than the screen, dark theme from the system', async ({ page }) => {
    await page.goto('/');
    await expect(page.getByTestId('device-panel')).toBeVisible();
    await dropFile(page, 'e2e/fixtures/short-chats.jsonl');
    await expect(page.getByTestId('dataset-summary')).toContainText('30 conversations');
    expect(await page.evaluate(() => document.scrollingElement!.scrollWidth)).toBeLessThanOrEqual(390);
    const bg = await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
    expect(bg).toBe('rgb(18, 21, 28)'); // --bg of the dark theme
    for (const id of ['try-it', 'start', 'chat-input']) await expect(page.getByTestId(id)).toBeVisible();
    await axe(page, 'phone, dark');
    await page.screenshot({ path: 'test-results/product/390-dark.png', fullPage: true });
  });
});
