// Vite serves the studio cross-origin isolated (COOP/COEP), so the WASM fallback can use threads; the worker is a
// module worker; onnxruntime-web is not pre-bundled (its .wasm/.mjs are imported as URLs by the worker). The files
// the exports ship unchanged (src/engine/export/shipped.ts: the recipe's train.py, the chat page, transformers.js and
// its onnxruntime-web files) are served as they are on disk (dev) and copied unhashed (build) under their set's URL.
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { defineConfig, type Plugin } from 'vite';
import react from '@vitejs/plugin-react';
import { SHIPPED } from './src/engine/export/shipped.js';

const isolation = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

const TYPES: Record<string, string> = {
  '.wasm': 'application/wasm',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
};

function shipped(): Plugin {
  const files = SHIPPED.flatMap((s) => s.files.map((f) => ({ url: `${s.url}${f.name}`, from: f.from })));
  return {
    name: 'shipped-files',
    // before Vite's own middlewares, so its .html and .js transforms never touch these files
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const f = files.find((x) => req.url?.split('?')[0] === `/${x.url}`);
        if (!f) return next();
        res.setHeader('Content-Type', TYPES[extname(f.from)] ?? 'application/octet-stream');
        res.end(readFileSync(f.from));
      });
    },
    generateBundle() {
      for (const f of files) this.emitFile({ type: 'asset', fileName: f.url, source: readFileSync(f.from) });
    },
  };
}

export default defineConfig({
  plugins: [react(), shipped()],
  server: { headers: isolation, host: '127.0.0.1', port: 5173 },
  preview: { headers: isolation, host: '127.0.0.1', port: 4173 },
  worker: { format: 'es' },
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  // bench.html: the browser benchmark (npm run bench:browser), on the studio's worker
  build: {
    target: 'es2022',
    chunkSizeWarningLimit: 4096,
    rollupOptions: { input: { main: 'index.html', bench: 'bench.html' } },
  },
});
