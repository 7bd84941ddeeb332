// Where the tests find Debian's chromium: the browser Playwright drives (CHROMIUM_PATH, else /usr/bin/chromium) and
// the Vulkan loader and SwiftShader driver beside it that give onnxruntime-node's WebGPU EP a device without a GPU.
// One place for the Playwright config, the Vitest config, the browser benchmark and the preflight check.
import { existsSync } from 'node:fs';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Debian's chromium keeps its libraries (libvulkan, SwiftShader) here. */
export const CHROMIUM_LIB = '/usr/lib/chromium';
export const SWIFTSHADER_ICD = `${CHROMIUM_LIB}/vk_swiftshader_icd.json`;

export const CHROMIUM_ARGS = [
  '--enable-unsafe-webgpu',
  '--use-angle=swiftshader',
  '--enable-unsafe-swiftshader',
  '--use-webgpu-adapter=swiftshader',
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** Points the Vulkan loader of this process's children at SwiftShader (read by the dynamic loader at their start). */
export function useSwiftShader(env: NodeJS.ProcessEnv = process.env): boolean {
  if (!existsSync(SWIFTSHADER_ICD)) return false;
  env.VK_ICD_FILENAMES ??= SWIFTSHADER_ICD;
  env.LD_LIBRARY_PATH = [CHROMIUM_LIB, env.LD_LIBRARY_PATH].filter(Boolean).join(':');
  return true;
}
