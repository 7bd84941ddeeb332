// Runs first in `npm test`: what the tests need that npm cannot install. Missing something, it prints one line
// saying what to install and exits 1, before the slow parts start (instead of failing deep inside Playwright and
// the WebGPU unit tests).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { CHROMIUM_PATH, SWIFTSHADER_ICD } from './chromium.js';

const missing: string[] = [];
if (!existsSync(CHROMIUM_PATH))
  missing.push(`a Chromium at ${CHROMIUM_PATH} (apt-get install chromium, or set CHROMIUM_PATH)`);
if (!existsSync(SWIFTSHADER_ICD))
  missing.push(`SwiftShader's Vulkan driver ${SWIFTSHADER_ICD} (apt-get install chromium)`);
try {
  execFileSync('/usr/bin/python3', ['-m', 'pyflakes', '--version'], { stdio: 'ignore' });
} catch {
  missing.push('/usr/bin/python3 with pyflakes (apt-get install python3 python3-pyflakes)');
}
try {
  execFileSync('go', ['version'], { stdio: 'ignore' });
} catch {
  missing.push(
    "Go (apt-get install golang-go: the GGUF tests render the Ollama Modelfile's template with Go's text/template)",
  );
}
if (missing.length) {
  console.error(`npm test needs ${missing.join('; ')}. .ci/run installs them.`);
  process.exit(1);
}
