// Vite serves the studio cross-origin isolated (COOP/COEP), so the WASM fallback can use threads; the worker is a
// module worker; onnxruntime-web is not pre-bundled (its .wasm/.mjs are imported as URLs by the worker).
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

const isolation = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

export default defineConfig({
  plugins: [react()],
  server: { headers: isolation, host: '127.0.0.1', port: 5173 },
  preview: { headers: isolation, host: '127.0.0.1', port: 4173 },
  worker: { format: 'es' },
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  build: { target: 'es2022', chunkSizeWarningLimit: 4096 },
});
