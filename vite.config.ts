// Vite serves the studio cross-origin isolated (COOP/COEP), so the WASM fallback can use threads; the worker is a
// module worker; onnxruntime-web is not pre-bundled (its .wasm/.mjs are imported as URLs by the worker). The chat
// page export ships transformers.js and its onnxruntime-web files: they are served (dev) and copied (build) under
// chat-vendor/, unhashed, from the npm packages.
import { readFileSync } from 'node:fs';
import { defineConfig, type Plugin } from 'vite';
import react from '@vitejs/plugin-react';
import { CHAT_VENDOR, CHAT_VENDOR_URL } from './src/engine/export/chat-page.js';

const isolation = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

function chatVendor(): Plugin {
  return {
    name: 'chat-vendor',
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const v = CHAT_VENDOR.find((x) => req.url?.split('?')[0] === `/${CHAT_VENDOR_URL}${x.name}`);
        if (!v) return next();
        res.setHeader('Content-Type', v.name.endsWith('.wasm') ? 'application/wasm' : 'text/javascript');
        res.end(readFileSync(v.from));
      });
    },
    generateBundle() {
      for (const v of CHAT_VENDOR)
        this.emitFile({ type: 'asset', fileName: `${CHAT_VENDOR_URL}${v.name}`, source: readFileSync(v.from) });
    },
  };
}

export default defineConfig({
  plugins: [react(), chatVendor()],
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
