// The standalone chat page: index.html, the transformers.js package of the tuned model (model/), and the
// transformers.js bundle with onnxruntime-web's WASM files (vendor/), so the folder runs from any static file
// server with no network: WebGPU where the browser has it, WASM otherwise (?device=wasm|webgpu forces one). It uses
// the chat template and sampling defaults the model was exported with (tokenizer_config.json,
// generation_config.json), so replies read as they did in the studio.
import { textFile, under, type OutFile } from './files.js';
import { hfFolderFiles, type ExportSource } from './hf.js';
import { CHAT_VENDOR, shippedFiles, type ShippedBytes } from './shipped.js';

export function chatPageFiles(src: ExportSource, vendor: ShippedBytes<typeof CHAT_VENDOR>): OutFile[] {
  return [
    textFile('index.html', chatPageHtml(src)),
    ...under('model', hfFolderFiles(src, { onnx: true })),
    ...shippedFiles(CHAT_VENDOR, vendor, { prefix: 'vendor' }),
    textFile(
      'README.md',
      `# Chat with your fine-tuned GPT-2\n\nServe this folder with any static file server and open it, e.g.\n\n    python3 -m http.server 8000   # then http://localhost:8000\n\n(Opening index.html from disk does not work: browsers do not let pages read files next to them.)\nIt runs WebGPU where the browser has it and WASM otherwise; add ?device=wasm or ?device=webgpu to choose.\nNothing is sent anywhere: the model is in model/, the runtime in vendor/.\n`,
    ),
  ];
}

function chatPageHtml(src: ExportSource): string {
  const title = `Chat: ${src.run.base.repo ?? src.run.base.name} fine-tuned`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>${title.replace(/</g, '&lt;')}</title>
<style>
  body { font: 15px/1.45 system-ui, sans-serif; max-width: 760px; margin: 0 auto; padding: 16px; color: #1b1b1b; }
  #log { border: 1px solid #ccc; border-radius: 6px; min-height: 300px; padding: 8px; overflow-y: auto; }
  .msg { margin: 6px 0; white-space: pre-wrap; }
  .user b { color: #08519c; } .assistant b { color: #a63603; }
  form { display: flex; gap: 8px; margin-top: 8px; } input { flex: 1; padding: 8px; font: inherit; }
  #status { color: #555; font-size: 13px; margin: 8px 0; }
</style>
</head>
<body>
<h1>${title.replace(/</g, '&lt;')}</h1>
<p id="status" role="status" data-state="loading">Loading the model…</p>
<div id="log" aria-live="polite"></div>
<form id="form"><label for="prompt" hidden>Message</label><input id="prompt" autocomplete="off" placeholder="Say something" disabled><button id="send" disabled>Send</button></form>
<script type="module">
import { env, AutoTokenizer, AutoModelForCausalLM, TextStreamer } from './vendor/transformers.min.js';

const here = new URL('./', location.href);
env.allowRemoteModels = false;
env.allowLocalModels = true;
env.useBrowserCache = false;
env.localModelPath = here.pathname;
env.backends.onnx.wasm.wasmPaths = {
  mjs: new URL('vendor/ort-wasm-simd-threaded.asyncify.mjs', here).href,
  wasm: new URL('vendor/ort-wasm-simd-threaded.asyncify.wasm', here).href,
};
const status = document.getElementById('status');
const log = document.getElementById('log');
const input = document.getElementById('prompt');
const send = document.getElementById('send');
const say = (text, state) => { status.textContent = text; if (state) status.dataset.state = state; };

async function pickDevice() {
  const asked = new URLSearchParams(location.search).get('device');
  if (asked === 'wasm' || asked === 'webgpu') return asked;
  try { if (navigator.gpu && (await navigator.gpu.requestAdapter())) return 'webgpu'; } catch {}
  return 'wasm';
}

let tok, model, gen, device;
const messages = [];
try {
  device = await pickDevice();
  tok = await AutoTokenizer.from_pretrained('model');
  model = await AutoModelForCausalLM.from_pretrained('model', { device, dtype: 'fp32' });
  gen = await (await fetch(new URL('model/generation_config.json', here))).json();
  document.body.dataset.device = device;
  say(\`Ready on \${device === 'webgpu' ? 'WebGPU' : 'WASM'}.\`, 'ready');
  input.disabled = send.disabled = false;
  input.focus();
} catch (e) {
  say(\`The model could not be loaded: \${e.message ?? e}\`, 'error');
  throw e;
}

function bubble(role, text) {
  const d = document.createElement('div');
  d.className = \`msg \${role}\`;
  d.dataset.role = role;
  d.innerHTML = \`<b>\${role === 'user' ? 'You' : 'Model'}:</b> <span></span>\`;
  d.querySelector('span').textContent = text;
  log.append(d);
  log.scrollTop = log.scrollHeight;
  return d.querySelector('span');
}

document.getElementById('form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const text = input.value.trim();
  if (!text) return;
  input.value = '';
  input.disabled = send.disabled = true;
  messages.push({ role: 'user', content: text });
  bubble('user', text);
  const out = bubble('assistant', '');
  out.parentElement.dataset.state = 'streaming';
  say('Thinking…', 'busy');
  let reply = '';
  const stop = '\\nUser:';
  const streamer = new TextStreamer(tok, { skip_prompt: true, skip_special_tokens: true, callback_function: (t) => {
    reply += t;
    const cut = reply.indexOf(stop);
    out.textContent = (cut >= 0 ? reply.slice(0, cut) : reply).trim();
  } });
  try {
    const prompt = tok.apply_chat_template(messages, { tokenize: false, add_generation_prompt: true });
    const inputs = tok(prompt, { add_special_tokens: false });
    const started = performance.now();
    const ids = await model.generate({ ...inputs, ...gen, streamer });
    const n = ids.dims[1] - inputs.input_ids.dims[1];
    const cut = reply.indexOf(stop);
    reply = (cut >= 0 ? reply.slice(0, cut) : reply).trim();
    out.textContent = reply;
    messages.push({ role: 'assistant', content: reply });
    say(\`Ready on \${device === 'webgpu' ? 'WebGPU' : 'WASM'} · \${n} tokens, \${(n / ((performance.now() - started) / 1000)).toFixed(1)} tokens/s\`, 'ready');
  } catch (e) {
    say(\`Generation failed: \${e.message ?? e}\`, 'error');
  } finally {
    out.parentElement.dataset.state = 'done';
    input.disabled = send.disabled = false;
    input.focus();
  }
});
</script>
</body>
</html>
`;
}
