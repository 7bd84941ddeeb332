// transformers.js on a package of the same weights, the anchor of the generation benchmarks (npm run bench, npm run
// bench:serve): the export's ONNX with past key values on onnxruntime-node's CPU EP, written to a temporary
// folder, generating greedily from token ids.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFolder } from '../src/engine/export/write.node.js';
import { isLlama, type ModelConfig } from '../src/engine/models/config.js';
import { familyOf } from '../src/engine/models/family.js';
import { gpt2OnnxFiles } from '../src/engine/models/gpt2.js';
import { TRANSFORMERS_JS_CONFIG } from '../src/engine/models/optimum.js';
import { gpt2ConfigJson } from '../src/engine/models/hf.js';
import type { Weights } from '../src/engine/models/init.js';
import { llamaConfigJson } from '../src/engine/models/llama-hf.js';
import { llamaOnnxFiles, llamaTransformersJsConfig } from '../src/engine/models/llama-onnx.js';
import { jsonFile, type OutFile } from '../src/engine/util/files.js';

/** The config.json of the shape, as the exports write it (the PyTorch reference builds its model from it too). */
export const configJson = (c: ModelConfig) =>
  isLlama(c) ? llamaConfigJson(c, { bos_token_id: 0, eos_token_id: 0 }) : gpt2ConfigJson(c);

/** A transformers.js package of the weights, as the export writes it for the family. */
function packageFiles(c: ModelConfig, W: Weights): OutFile[] {
  if (!isLlama(c))
    return [
      jsonFile('config.json', { ...configJson(c), 'transformers.js_config': TRANSFORMERS_JS_CONFIG }),
      jsonFile('generation_config.json', { bos_token_id: 50256, eos_token_id: 50256 }),
      ...gpt2OnnxFiles(c, W),
    ];
  const tjs = llamaTransformersJsConfig(c, { bos: 0, eos: [0] }); // SmolLM2's <|endoftext|>
  return [
    jsonFile('config.json', { ...configJson(c), ...tjs.config }),
    jsonFile('generation_config.json', tjs.generation),
    ...llamaOnnxFiles(c, W),
  ];
}

/** The weights loaded in transformers.js; generate() runs n greedy tokens after `prompt` (no end token stops it). */
export async function openTransformersJs(c: ModelConfig, W: Weights) {
  const dir = mkdtempSync(join(tmpdir(), 'bench-tjs-'));
  const name = familyOf(c).modelType(c);
  await writeFolder(join(dir, name), packageFiles(c, W));
  const { AutoModelForCausalLM, Tensor, env } = await import('@huggingface/transformers');
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = `${dir}/`;
  const model = await AutoModelForCausalLM.from_pretrained(name, { device: 'cpu' });
  return {
    async generate(prompt: readonly number[], n: number) {
      const ids = new Tensor('int64', BigInt64Array.from(prompt, BigInt), [1, prompt.length]);
      const mask = new Tensor('int64', new BigInt64Array(prompt.length).fill(1n), [1, prompt.length]);
      const t0 = performance.now();
      const out = (await model.generate({
        input_ids: ids,
        attention_mask: mask,
        max_new_tokens: n,
        min_new_tokens: n,
        do_sample: false,
        repetition_penalty: 1,
        eos_token_id: -1,
      })) as { data: BigInt64Array };
      return { seconds: (performance.now() - t0) / 1000, tokens: Array.from(out.data, Number).slice(prompt.length) };
    },
    async dispose() {
      await model.dispose();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
