// The chat page's program: loads the fine-tuned model from model/ with transformers.js from vendor/ (no network),
// on WebGPU where the browser has it and WASM otherwise (?device=wasm|webgpu forces one), and streams replies with
// the model's chat template and sampling defaults (tokenizer_config.json, generation_config.json). The page's own
// settings (its title) come from chat-config.json, which Fine-Tune Studio writes beside this file.
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
const say = (text, state) => {
  status.textContent = text;
  if (state) status.dataset.state = state;
};

async function readJson(path) {
  const r = await fetch(new URL(path, here));
  if (!r.ok) throw new Error(`${path} could not be read (${r.status}); serve the whole exported folder`);
  return r.json();
}

async function pickDevice() {
  const asked = new URLSearchParams(location.search).get('device');
  if (asked === 'wasm' || asked === 'webgpu') return asked;
  try {
    if (navigator.gpu && (await navigator.gpu.requestAdapter())) return 'webgpu';
  } catch (e) {
    console.warn('WebGPU is there but gave no adapter; running on WASM', e);
  }
  return 'wasm';
}

let tok, model, gen, device;
const messages = [];
try {
  const settings = await readJson('chat-config.json');
  document.title = settings.title;
  document.getElementById('title').textContent = settings.title;
  device = await pickDevice();
  tok = await AutoTokenizer.from_pretrained('model');
  model = await AutoModelForCausalLM.from_pretrained('model', { device, dtype: 'fp32' });
  gen = await readJson('model/generation_config.json');
  document.body.dataset.device = device;
  say(`Ready on ${device === 'webgpu' ? 'WebGPU' : 'WASM'}.`, 'ready');
  input.disabled = send.disabled = false;
  input.focus();
} catch (e) {
  say(`The model could not be loaded: ${e.message ?? e}`, 'error');
  throw e;
}

function bubble(role, text) {
  const d = document.createElement('div');
  d.className = `msg ${role}`;
  d.dataset.role = role;
  d.innerHTML = `<b>${role === 'user' ? 'You' : 'Model'}:</b> <span></span>`;
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
  const stop = '\nUser:';
  const streamer = new TextStreamer(tok, {
    skip_prompt: true,
    skip_special_tokens: true,
    callback_function: (t) => {
      reply += t;
      const cut = reply.indexOf(stop);
      out.textContent = (cut >= 0 ? reply.slice(0, cut) : reply).trim();
    },
  });
  try {
    // as training rendered it: Qwen3's template in its non-thinking mode (other templates ignore the variable)
    const prompt = tok.apply_chat_template(messages, {
      tokenize: false,
      add_generation_prompt: true,
      enable_thinking: false,
    });
    const inputs = tok(prompt, { add_special_tokens: false });
    const started = performance.now();
    const ids = await model.generate({ ...inputs, ...gen, streamer });
    const n = ids.dims[1] - inputs.input_ids.dims[1];
    const cut = reply.indexOf(stop);
    reply = (cut >= 0 ? reply.slice(0, cut) : reply).trim();
    out.textContent = reply;
    messages.push({ role: 'assistant', content: reply });
    const rate = (n / ((performance.now() - started) / 1000)).toFixed(1);
    say(`Ready on ${device === 'webgpu' ? 'WebGPU' : 'WASM'} · ${n} tokens, ${rate} tokens/s`, 'ready');
  } catch (e) {
    say(`Generation failed: ${e.message ?? e}`, 'error');
  } finally {
    out.parentElement.dataset.state = 'done';
    input.disabled = send.disabled = false;
    input.focus();
  }
});
