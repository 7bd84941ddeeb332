// llama.cpp on a GGUF file, for the export tests: node run.mjs <model.gguf> <request.json>, the request
// {"tokenize": [texts], "prompt": [ids], "tokens": N}. Prints one JSON line: each text's ids (special tokens parsed,
// no BOS added) and N greedy token ids after the prompt (temperature 0; end tokens included). One process per file,
// so a file llama.cpp rejects (it can abort the process) fails only its own check; llama.cpp's log goes to stderr.
import { readFileSync } from 'node:fs';
import { getLlama, LlamaLogLevel } from 'node-llama-cpp';

const [modelPath, requestPath] = process.argv.slice(2);
const req = JSON.parse(readFileSync(requestPath, 'utf8'));
const llama = await getLlama({
  gpu: false,
  build: 'never',
  logLevel: LlamaLogLevel.warn,
  logger: (level, message) => process.stderr.write(`${message}\n`),
});
const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
const tokenized = (req.tokenize ?? []).map((t) => Array.from(model.tokenize(t, true)));
const greedy = [];
if (req.prompt) {
  const context = await model.createContext({ contextSize: 256, batchSize: 256, threads: 2 });
  for await (const token of context.getSequence().evaluate(req.prompt, { temperature: 0, yieldEogToken: true })) {
    greedy.push(token);
    if (greedy.length >= req.tokens) break;
  }
  await context.dispose();
}
console.log(JSON.stringify({ tokenized, greedy, eos: model.tokens.eos }));
await model.dispose();
await llama.dispose();
