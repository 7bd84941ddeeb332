// The PEFT LoRA adapter: adapter_config.json (fan_in_fan_out for GPT-2's Conv1D layers, not for nn.Linear) and
// adapter_model.safetensors with PEFT's key names, as PeftModel.save_pretrained writes them.
import { safetensorsParts } from '../hub/safetensors.js';
import { familyOf } from '../models/family.js';
import { loraSites } from '../models/lora.js';
import { jsonFile, textFile, type OutFile } from '../util/files.js';
import { adapterCard } from './model-card.js';
import type { ExportSource } from './source.js';

/** PEFT's names for LoRA tensors ("default" adapter, as save_pretrained writes them). */
export const peftKey = (name: string) => `base_model.model.${name}`;

/** The PEFT LoRA adapter: adapter_config.json and adapter_model.safetensors. */
export function peftAdapterFiles(src: ExportSource): OutFile[] {
  const l = src.run.lora;
  if (!l)
    throw new Error(
      'this run fine-tuned all weights: there is no LoRA adapter to export (export the Hugging Face folder instead)',
    );
  const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
  const expect = (name: string, shape: number[]) => {
    const data = src.weights[name];
    if (!data) throw new Error(`the run has no tensor ${name}`);
    tensors[peftKey(name)] = { shape, data };
  };
  for (const s of loraSites(src.config, l)) {
    expect(s.A, [l.rank, s.din]);
    expect(s.B, [s.dout, l.rank]);
  }
  const base = src.run.base.repo ?? src.run.base.name;
  return [
    jsonFile('adapter_config.json', {
      peft_type: 'LORA',
      task_type: 'CAUSAL_LM',
      base_model_name_or_path: base,
      revision: src.run.base.revision ?? null,
      r: l.rank,
      lora_alpha: l.alpha,
      lora_dropout: 0,
      target_modules: [...l.targets],
      // GPT-2's Conv1D stores [in, out]: PEFT must transpose; nn.Linear (Llama) does not
      fan_in_fan_out: familyOf(src.config).lora.weightLayout === 'in-out',
      bias: 'none',
      inference_mode: true,
      init_lora_weights: true,
      use_rslora: false,
      use_dora: false,
      modules_to_save: null,
      layers_to_transform: null,
    }),
    { path: 'adapter_model.safetensors', parts: safetensorsParts(tensors) },
    textFile('README.md', adapterCard(src)),
  ];
}
