// The Data panel as a person uses it: formats detected, stats and a highlighted preview, the template edited with a
// live preview, which tokens train, bad records skipped on request, CSV columns.
import { expect, test } from '@playwright/test';
import { dropFile, setSettings, shootPanels } from './helpers.js';

test('a Chinese ShareGPT file: stats, histogram, trained tokens highlighted, template and loss mode live', async ({
  page,
}) => {
  await page.goto('/');
  await setSettings(page, { seq: 256 }); // Chinese costs GPT-2 several tokens a character
  await dropFile(page, 'public/sample-support-zh.json');
  const summary = page.getByTestId('dataset-summary');
  await expect(summary).toContainText('sample-support-zh.json (sharegpt): 40 conversations, 140 turns');
  await expect(page.getByTestId('histogram')).toBeVisible();
  const preview = page.getByTestId('preview').first();
  await expect(preview).toContainText('你是“明灯”网店的客服助手');
  await expect(preview).toContainText('User: 我的订单到哪里了？');
  await expect(preview.locator('.trained').first()).toHaveText(
    ' 您可以在“我的账户 > 订单”里查看物流信息，一般三个工作日内送达。<|endoftext|>',
  );
  await expect(preview.locator('.trained').nth(1)).toHaveText(' 不客气，祝您使用愉快！<|endoftext|>');

  await page.getByText('Chat template (Jinja').click();
  const tpl = page.getByTestId('template');
  await tpl.fill((await tpl.inputValue()).replaceAll('Assistant:', 'Bot:'));
  await expect(preview).toContainText('Bot:', { timeout: 10_000 });

  const counts = async () =>
    (await summary.textContent())!
      .match(/(\d+) tokens, (\d+) trained/)!
      .slice(1)
      .map(Number);
  const [, trainedBefore] = await counts();
  await page.getByTestId('opt-loss').selectOption('all');
  await expect.poll(async () => (await counts())[1]).toBeGreaterThan(trainedBefore);
  const [total, trained] = await counts();
  expect(trained).toBe(total);
  await shootPanels(page, 'data-zh');
});

test('bad records can be skipped and counted; CSV columns can be picked', async ({ page }) => {
  await page.goto('/');
  await page.getByTestId('file-input').setInputFiles('e2e/fixtures/bad.jsonl');
  await expect(page.getByTestId('data-errors')).toContainText('bad.jsonl:2: messages[1].content');
  await page.getByLabel('skip bad records').check();
  await page.getByTestId('file-input').setInputFiles({
    name: 'bad2.jsonl',
    mimeType: 'application/x-ndjson',
    buffer: Buffer.from(
      `${'{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}\n'.repeat(3)}{"messages": 7}\n`,
    ),
  });
  await expect(page.getByTestId('dataset-summary')).toContainText(
    'bad2.jsonl (chat): 3 conversations, 6 turns, 1 skipped',
  );
  await dropFile(page, 'e2e/fixtures/faq.csv');
  await expect(page.getByTestId('dataset-summary')).toContainText('faq.csv (csv): 2 conversations');
  await expect(page.getByText('Prompt column')).toBeVisible();
  await expect(page.getByTestId('preview').first()).toContainText('User: How do I reset my password?');
});
