// The README.md model cards: the Hugging Face folder's (base model and revision, data, settings, final losses, the
// loss curve, how to load it) and the PEFT adapter's.
import { familyOf } from '../models/family.js';
import type { ExportSource } from './source.js';

export interface CardOptions {
  /** The folder also holds the transformers.js files (onnx/). */
  onnx?: boolean;
  /** model.safetensors' dtype, when not the trained float32. */
  dtype?: 'F32' | 'BF16' | 'F16';
}

const fmt = (x: number) => (Number.isFinite(x) ? x.toFixed(4) : String(x));
const last = <T>(xs: readonly T[]) => xs[xs.length - 1];

function settingsTable(src: ExportSource): string {
  const r = src.run;
  const t = r.train;
  const rows: [string, string][] = [
    [
      'method',
      r.lora
        ? `LoRA r=${r.lora.rank}, alpha=${r.lora.alpha}, targets ${r.lora.targets.join(', ')} (merged into these weights)`
        : 'full fine-tune',
    ],
    ['steps', `${r.step} of ${t.steps}`],
    [
      'batch x sequence',
      `${t.batch} x ${t.seq} tokens${t.accumulation > 1 ? `, ${t.accumulation} micro-batches per step` : ''}`,
    ],
    ['learning rate', `${t.lr}, ${t.schedule} to ${t.minLrRatio} x after ${t.warmupSteps} warmup steps`],
    [
      'optimizer',
      `AdamW (betas ${t.adamw.beta1}, ${t.adamw.beta2}; eps ${t.adamw.eps}; weight decay ${t.adamw.weightDecay} on matrices); gradient clip ${t.adamw.maxGradNorm}`,
    ],
    [
      'loss on',
      r.data.lossOn === 'all'
        ? 'every token'
        : r.data.lossOn === 'last-assistant'
          ? 'the last assistant turn'
          : 'assistant turns and their end-of-text',
    ],
    ['long conversations', r.data.overflow === 'drop-oldest' ? 'oldest exchanges dropped to fit' : 'cut at the end'],
    ['packing', r.data.pack ? 'several conversations per row' : 'one conversation per row'],
    ['seed', String(t.seed)],
  ];
  return rows.map(([k, v]) => `| ${k} | ${v} |`).join('\n');
}

function baseLine(src: ExportSource): string {
  const b = src.run.base;
  return b.repo ? `[${b.repo}](https://huggingface.co/${b.repo}) at revision \`${b.revision ?? 'main'}\`` : b.name;
}

/** The model card: base model and revision, data, settings, final losses, the loss curve. */
export function modelCard(src: ExportSource, o: CardOptions = {}): string {
  const r = src.run;
  const d = r.dataset;
  const f = familyOf(src.config);
  const finalTrain = last(r.losses);
  const finalVal = last(r.evals);
  return `---
library_name: transformers
pipeline_tag: text-generation
${r.base.repo ? `base_model: ${r.base.repo}\n` : ''}tags:
- ${f.modelType(src.config)}
- fine-tune-studio
${r.lora ? '- lora\n' : ''}${o.onnx ? '- transformers.js\n' : ''}---

# Fine-tuned ${f.label(src.config)}

Fine-tuned with Fine-Tune Studio from ${baseLine(src)} (${f.layers(src.config)} layers, ${f.hiddenSize(src.config)} dims, ${f.vocabSize(src.config)} tokens).${o.dtype && o.dtype !== 'F32' ? ` The weights in \`model.safetensors\` are ${o.dtype === 'BF16' ? 'bfloat16' : 'float16'}, rounded from the float32 the run ended with${o.onnx ? ' (the transformers.js files keep float32)' : ''}.` : ''}

## Data
\`${d.file}\` (${d.format}): ${d.records} ${d.kind === 'chat' ? 'conversations' : 'text records'}${d.skipped ? ` (${d.skipped} bad records skipped)` : ''}, ${d.trainRows} training rows and ${d.validationRows} validation rows of ${r.train.seq + 1} tokens; ${d.trainedTokens} of ${d.totalTokens} tokens trained${d.truncated ? `; ${d.truncated} conversations shortened to fit` : ''}.

## Training
| setting | value |
| --- | --- |
${settingsTable(src)}

## Results
- final training loss: ${finalTrain ? `${fmt(finalTrain.loss)} (step ${finalTrain.step})` : 'none recorded'}
- final validation loss: ${finalVal ? `${fmt(finalVal.loss)} (step ${finalVal.step})` : 'none (no validation split)'}

![loss curve](loss.svg)

## Use
The chat template the model was trained with is in \`tokenizer_config.json\`; replies end with \`<|endoftext|>\`.

\`\`\`python
from transformers import AutoTokenizer, AutoModelForCausalLM
tok = AutoTokenizer.from_pretrained("path/to/this/folder")
model = AutoModelForCausalLM.from_pretrained("path/to/this/folder")
ids = tok.apply_chat_template([{"role": "user", "content": "Hello!"}], add_generation_prompt=True, return_tensors="pt")
print(tok.decode(model.generate(ids, max_new_tokens=${src.sampling.maxNewTokens})[0][ids.shape[1]:], skip_special_tokens=True))
\`\`\`
${
  o.onnx
    ? `
In JavaScript (transformers.js reads \`onnx/model.onnx\` and its external data):

\`\`\`js
import { AutoTokenizer, AutoModelForCausalLM } from '@huggingface/transformers';
const tok = await AutoTokenizer.from_pretrained('path/to/this/folder');
const model = await AutoModelForCausalLM.from_pretrained('path/to/this/folder');
\`\`\`
`
    : ''
}`;
}

export function adapterCard(src: ExportSource): string {
  const l = src.run.lora!;
  return `---
library_name: peft
${src.run.base.repo ? `base_model: ${src.run.base.repo}\n` : ''}tags:
- lora
- fine-tune-studio
---

# LoRA adapter for ${baseLine(src)}

Rank ${l.rank}, alpha ${l.alpha}, on ${l.targets.join(', ')} (GPT-2's Conv1D layers, hence \`fan_in_fan_out: true\`).
Trained ${src.run.step} steps with Fine-Tune Studio.

\`\`\`python
from transformers import AutoModelForCausalLM
from peft import PeftModel
base = AutoModelForCausalLM.from_pretrained("${src.run.base.repo ?? 'path/to/base'}"${src.run.base.revision ? `, revision="${src.run.base.revision}"` : ''})
model = PeftModel.from_pretrained(base, "path/to/this/adapter").merge_and_unload()
\`\`\`
`;
}
