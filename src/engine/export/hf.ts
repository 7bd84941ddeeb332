// A Hugging Face model folder (config.json, model.safetensors with LoRA merged in, the tokenizer with the chat
// template the run trained with, generation_config.json, a model card with the loss curve), loadable by
// transformers' GPT2LMHeadModel.from_pretrained and AutoTokenizer; and a PEFT LoRA adapter for GPT-2.
import { gpt2Params, type GPT2Config } from '../models/gpt2.js';
import type { LoraConfig } from '../models/lora.js';
import { gpt2ConfigJson } from '../models/hf.js';
import type { Weights } from '../models/init.js';
import { safetensorsParts } from '../hub/safetensors.js';
import { EOS_TOKEN, type TokenizerFiles } from '../data/tokenizer.js';
import type { SampleOptions } from '../generate/sampling.js';
import type { LossOn } from '../data/template.js';
import type { OverflowPolicy } from '../data/rows.js';
import type { ScheduleKind } from '../train/schedule.js';
import type { AdamWConfig } from '../artifacts/build.js';
import { jsonFile, textFile, type OutFile } from './files.js';
import { gpt2OnnxFiles, TRANSFORMERS_JS_CONFIG } from './onnx.js';
import { lossCurveSvg } from './svg.js';

/** Everything about a run that an export states: the model card, the recipe and the configs. */
export interface RunFacts {
  /** The base model: a Hub repo (with its revision) or the offline tiny model. */
  base: { name: string; repo?: string; revision?: string; endpoint?: string };
  dataset: {
    file: string;
    format: string;
    kind: 'chat' | 'text';
    records: number;
    trainRows: number;
    validationRows: number;
    trainedTokens: number;
    totalTokens: number;
    truncated: number;
    skipped: number;
  };
  data: { lossOn: LossOn; overflow: OverflowPolicy; pack: boolean; template: string };
  train: {
    steps: number;
    lr: number;
    batch: number;
    seq: number;
    accumulation: number;
    warmupSteps: number;
    schedule: ScheduleKind;
    minLrRatio: number;
    seed: number;
    adamw: AdamWConfig;
  };
  lora?: LoraConfig;
  /** Steps trained (the step of the checkpoint exported). */
  step: number;
  losses: { step: number; loss: number }[];
  evals: { step: number; loss: number }[];
}

/** What every export is made from. */
export interface ExportSource {
  config: GPT2Config;
  /** Base weights plus, for LoRA runs, the adapters (lora_A/lora_B under their HF-style names). */
  weights: Weights;
  tokenizer: TokenizerFiles;
  eosId: number;
  /** The chat's sampling defaults, written to generation_config.json and used by the chat page. */
  sampling: SampleOptions & { maxNewTokens: number };
  run: RunFacts;
}

export function mergeLora(c: GPT2Config, l: LoraConfig, W: Weights): Weights {
  const out: Weights = {};
  for (const p of gpt2Params(c)) out[p.name] = W[p.name];
  const scale = l.alpha / l.rank;
  for (let i = 0; i < c.n_layer; i++) {
    for (const t of l.targets) {
      const base = `transformer.h.${i}.${t}`;
      const A = W[`${base}.lora_A.weight`]; // (r, in)
      const B = W[`${base}.lora_B.weight`]; // (out, r)
      const Wb = out[`${base}.weight`]; // (in, out)
      const nout = B.length / l.rank;
      const nin = A.length / l.rank;
      const merged = Wb.slice();
      for (let a = 0; a < nin; a++) {
        for (let o = 0; o < nout; o++) {
          let s = 0;
          for (let r = 0; r < l.rank; r++) s += A[r * nin + a] * B[o * l.rank + r];
          merged[a * nout + o] += scale * s;
        }
      }
      out[`${base}.weight`] = merged;
    }
  }
  return out;
}

/** The model's weights as a plain GPT-2 (LoRA merged in). */
export function mergedWeights(src: ExportSource): Weights {
  return src.run.lora ? mergeLora(src.config, src.run.lora, src.weights) : src.weights;
}

export function vocabAndMerges(tok: TokenizerFiles): OutFile[] {
  const model = tok.tokenizer.model as { vocab: Record<string, number>; merges: (string | string[])[] };
  const merges = model.merges.map((m) => (Array.isArray(m) ? m.join(' ') : m));
  return [
    textFile('vocab.json', JSON.stringify(model.vocab)),
    textFile('merges.txt', `#version: 0.2\n${merges.join('\n')}\n`),
  ];
}

/** generation_config.json: end-of-text as eos and pad, and the chat's sampling defaults. */
export function generationConfig(src: ExportSource): Record<string, unknown> {
  const s = src.sampling;
  return {
    bos_token_id: src.eosId,
    eos_token_id: src.eosId,
    pad_token_id: src.eosId,
    do_sample: s.temperature > 0,
    ...(s.temperature > 0 ? { temperature: s.temperature, top_k: s.topK, top_p: s.topP } : {}),
    repetition_penalty: s.repetitionPenalty,
    max_new_tokens: s.maxNewTokens,
  };
}

/** The tokenizer files, tokenizer_config.json carrying the run's chat template. */
export function tokenizerFiles(src: ExportSource): OutFile[] {
  return [
    textFile('tokenizer.json', JSON.stringify(src.tokenizer.tokenizer)),
    jsonFile('tokenizer_config.json', {
      ...src.tokenizer.config,
      pad_token: EOS_TOKEN,
      chat_template: src.run.data.template,
    }),
    jsonFile('special_tokens_map.json', {
      bos_token: EOS_TOKEN,
      eos_token: EOS_TOKEN,
      unk_token: EOS_TOKEN,
      pad_token: EOS_TOKEN,
    }),
    ...vocabAndMerges(src.tokenizer),
  ];
}

export interface HfOptions {
  /** Adds onnx/model.onnx(+_data) and the transformers.js config: a package transformers.js loads. */
  onnx?: boolean;
}

/** The Hugging Face folder (and, with `onnx`, the transformers.js package in the same folder). */
export function hfFolderFiles(src: ExportSource, o: HfOptions = {}): OutFile[] {
  const W = mergedWeights(src);
  const tensors = Object.fromEntries(gpt2Params(src.config).map((p) => [p.name, { shape: p.shape, data: W[p.name] }]));
  const config = {
    ...gpt2ConfigJson(src.config, src.eosId),
    ...(o.onnx ? { 'transformers.js_config': TRANSFORMERS_JS_CONFIG } : {}),
  };
  return [
    jsonFile('config.json', config),
    { path: 'model.safetensors', parts: safetensorsParts(tensors) },
    jsonFile('generation_config.json', generationConfig(src)),
    ...tokenizerFiles(src),
    textFile('README.md', modelCard(src, o)),
    textFile('loss.svg', lossCurveSvg(src.run.losses, src.run.evals)),
    ...(o.onnx ? gpt2OnnxFiles(src.config, W) : []),
  ];
}

/** PEFT's names for GPT-2 LoRA tensors ("default" adapter, as save_pretrained writes them). */
export const peftKey = (name: string) => `base_model.model.${name}`;

/** The PEFT LoRA adapter: adapter_config.json and adapter_model.safetensors. */
export function peftAdapterFiles(src: ExportSource): OutFile[] {
  const l = src.run.lora;
  if (!l)
    throw new Error(
      'this run fine-tuned all weights: there is no LoRA adapter to export (export the Hugging Face folder instead)',
    );
  const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (let i = 0; i < src.config.n_layer; i++) {
    for (const t of l.targets) {
      for (const ab of ['lora_A', 'lora_B'] as const) {
        const name = `transformer.h.${i}.${t}.${ab}.weight`;
        const data = src.weights[name];
        if (!data) throw new Error(`the run has no tensor ${name}`);
        const inner = data.length / l.rank;
        tensors[peftKey(name)] = { shape: ab === 'lora_A' ? [l.rank, inner] : [inner, l.rank], data };
      }
    }
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
      fan_in_fan_out: true,
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
export function modelCard(src: ExportSource, o: HfOptions = {}): string {
  const r = src.run;
  const d = r.dataset;
  const finalTrain = last(r.losses);
  const finalVal = last(r.evals);
  return `---
library_name: transformers
pipeline_tag: text-generation
${r.base.repo ? `base_model: ${r.base.repo}\n` : ''}tags:
- gpt2
- fine-tune-studio
${r.lora ? '- lora\n' : ''}${o.onnx ? '- transformers.js\n' : ''}---

# Fine-tuned GPT-2

Fine-tuned with Fine-Tune Studio from ${baseLine(src)} (${src.config.n_layer} layers, ${src.config.n_embd} dims, ${src.config.vocab_size} tokens).

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

function adapterCard(src: ExportSource): string {
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
