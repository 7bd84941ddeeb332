// The browser benchmark page (what npm run bench:browser drives): the studio's worker trains and generates on
// random weights, on WebGPU (SwiftShader here) and WASM, and reports finite timings and the device memory held.
import { expect, test } from '@playwright/test';

for (const backend of ['wasm', 'webgpu'] as const) {
  test(`bench.html measures a tiny LoRA step and generation on ${backend}`, async ({ page }) => {
    await page.goto(`/bench.html?backend=${backend}&shape=tiny&batch=2&seq=16&steps=2&tokens=3`);
    const handle = await page.waitForFunction(() => (window as unknown as { __bench?: unknown }).__bench, null, {
      timeout: 300_000,
    });
    const { result, error } = (await handle.jsonValue()) as { result?: Record<string, unknown>; error?: string };
    expect(error).toBeUndefined();
    const r = result as {
      stepSeconds: number;
      tokensPerSec: number;
      generateMsPerToken: number;
      deviceBytesPeak: number;
      description: string;
      graphNodes: Record<string, number>;
    };
    expect(r.description).toMatch(backend === 'webgpu' ? /WebGPU/ : /WebAssembly/);
    for (const k of ['stepSeconds', 'tokensPerSec', 'generateMsPerToken', 'deviceBytesPeak'] as const) {
      expect(Number.isFinite(r[k]) && r[k] > 0, `${k} = ${r[k]}`).toBe(true);
    }
    expect(r.graphNodes.generateToken).toBeGreaterThan(10);
    await expect(page.locator('#out')).toContainText('stepSeconds');
  });
}
