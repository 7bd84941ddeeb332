// Vitest runs the engine's unit tests in Node. The WebGPU tests use onnxruntime-node's WebGPU EP; on a machine
// without a GPU its Vulkan loader and SwiftShader driver come from Debian's chromium package. The dynamic loader
// reads LD_LIBRARY_PATH at process start, so it is set here, before the test workers are forked.
import { defineConfig } from 'vitest/config';
import { useSwiftShader } from './scripts/chromium.js';

useSwiftShader();

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'cli/**/*.test.ts', 'workers/**/*.test.ts', 'scripts/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 300_000,
    hookTimeout: 300_000,
  },
});
