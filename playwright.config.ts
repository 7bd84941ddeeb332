// Playwright drives Debian's chromium (never a downloaded browser) against the built app served by `vite preview`
// on 127.0.0.1, with real WebGPU through SwiftShader in headless mode.
import { defineConfig } from '@playwright/test';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './scripts/chromium.js';

export default defineConfig({
  testDir: 'e2e',
  timeout: 600_000,
  expect: { timeout: 120_000 },
  workers: 1,
  reporter: [['list'], ['html', { open: 'never', outputFolder: 'playwright-report' }]],
  outputDir: 'test-results',
  use: {
    baseURL: 'http://127.0.0.1:4173',
    browserName: 'chromium',
    launchOptions: { executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS },
    screenshot: 'only-on-failure',
    trace: 'retain-on-failure',
  },
  webServer: [
    {
      command: 'npx vite preview --strictPort',
      url: 'http://127.0.0.1:4173',
      reuseExistingServer: false,
      timeout: 60_000,
    },
    // a local stand-in for the Hugging Face Hub serving a checkpoint the tests make (no test downloads weights)
    {
      command: 'npx tsx e2e/stand-in-hub.ts',
      url: 'http://127.0.0.1:4174/__requests',
      reuseExistingServer: false,
      timeout: 240_000,
    },
  ],
});
