// The hand-off for runs that outgrow one browser: the dataset as trained (chat JSONL, the run's own split), and
// train.py for TRL's SFTTrainer (+ PEFT for LoRA runs) that reproduces the run's template, loss mask, packing,
// learning-rate schedule, optimizer, batch, sequence length and seed, with an accelerate config for multi-GPU data
// parallelism (DeepSpeed ZeRO-2) and a README. train.py is a file of this repo (recipe/), shipped unchanged: every
// setting reaches it through run.json, written here (a test checks that train.py reads each of its keys).
import { Tokenizer } from '../data/tokenizer.js';
import { isLlama } from '../models/config.js';
import { familyOf } from '../models/family.js';
import { jsonFile, textFile, type OutFile } from '../util/files.js';
import type { ExportSource } from './source.js';
import { RECIPE_PROGRAM, shippedFiles, type ShippedBytes } from './shipped.js';

/** The run's settings as train.py reads them from run.json (each key is read there; export.test.ts checks). */
export function recipeSettings(src: ExportSource): Record<string, unknown> {
  const r = src.run;
  const t = r.train;
  const f = familyOf(src.config);
  const tok = new Tokenizer(src.tokenizer);
  const endIds = [...new Set([src.eosId, ...(src.endIds ?? [])])];
  return {
    base_model: r.base.repo ?? 'base-model',
    revision: r.base.revision ?? 'main',
    kind: r.dataset.kind,
    steps: t.steps,
    learning_rate: t.lr,
    per_device_batch: t.batch,
    gradient_accumulation: t.accumulation,
    seq: t.seq,
    max_length: t.seq + 1,
    warmup_steps: t.warmupSteps,
    schedule: t.schedule,
    min_lr_ratio: t.minLrRatio,
    seed: t.seed,
    adam_beta1: t.adamw.beta1,
    adam_beta2: t.adamw.beta2,
    adam_epsilon: t.adamw.eps,
    weight_decay: t.adamw.weightDecay,
    max_grad_norm: t.adamw.maxGradNorm,
    loss_on: r.data.lossOn,
    pack: r.data.pack,
    lora: r.lora
      ? {
          r: r.lora.rank,
          alpha: r.lora.alpha,
          targets: [...r.lora.targets],
          // GPT-2's Conv1D stores [in, out], which PEFT must be told; nn.Linear (the Llama family) is its default
          fan_in_fan_out: f.lora.weightLayout === 'in-out',
        }
      : null,
    // the tokens that end an assistant turn (any of them; the studio's loss mask stops at the first)
    end_tokens: endIds.map((id) => tok.decode([id])),
    // the config fields that turn dropout off, as in the studio: GPT-2 names one per place, the Llama family has
    // attention_dropout (0 already in the Hub's configs)
    dropout_fields: isLlama(src.config) ? ['attention_dropout'] : ['attn_pdrop', 'embd_pdrop', 'resid_pdrop'],
  };
}

export interface RecipeData {
  /** JSONL lines: {"messages": [...]} per conversation, or {"text": ...} per row of a plain-text run. */
  train: readonly string[];
  validation: readonly string[];
}

/** The folder: the shipped program (recipe/), the run's data and template, run.json and the filled-in README. */
export function recipeFiles(
  src: ExportSource,
  data: RecipeData,
  program: ShippedBytes<typeof RECIPE_PROGRAM>,
): OutFile[] {
  const s = recipeSettings(src);
  const lines = (xs: readonly string[]) => (xs.length ? `${xs.join('\n')}\n` : '');
  return [
    textFile('data/train.jsonl', lines(data.train)),
    textFile('data/validation.jsonl', lines(data.validation)),
    textFile('chat_template.jinja', src.run.data.template),
    ...shippedFiles(RECIPE_PROGRAM, program, { skip: ['README.md'] }),
    jsonFile('run.json', { ...s, dataset: src.run.dataset, trained_steps: src.run.step }),
    textFile('README.md', fillSlots(new TextDecoder().decode(program['README.md']), readmeSlots(src, data))),
  ];
}

/** What recipe/README.md's {{slots}} say about this run. */
function readmeSlots(src: ExportSource, data: RecipeData): Record<string, string> {
  const r = src.run;
  return {
    what: r.lora ? `LoRA r=${r.lora.rank}` : 'full fine-tune',
    base: r.base.repo ?? r.base.name,
    steps: String(r.train.steps),
    batch: String(r.train.batch),
    seq: String(r.train.seq),
    adapterNote: r.lora ? '; the adapter in `output/adapter`' : '',
    trainRecords: String(data.train.length),
    validationRecords: String(data.validation.length),
    recordsAre:
      r.dataset.kind === 'chat'
        ? 'one conversation per line (`{"messages": [...]}`), as fitted to the window (oldest exchanges dropped where the run dropped them)'
        : 'one training row per line (`{"text": ...}`)',
    lossMask: r.data.lossOn === 'all' ? 'every token' : 'assistant turns and their end token',
    schedule: r.train.schedule,
    warmup: String(r.train.warmupSteps),
    floor: String(r.train.minLrRatio),
  };
}

/** Fills every {{name}} of a text; a slot without a value, or a value without its slot, is a mistake in this file. */
export function fillSlots(text: string, values: Readonly<Record<string, string>>): string {
  const used = new Set<string>();
  const out = text.replace(/\{\{(\w+)\}\}/g, (_, name: string) => {
    if (!Object.hasOwn(values, name))
      throw new Error(`{{${name}}} has no value; the values are: ${Object.keys(values).join(', ')}`);
    used.add(name);
    return values[name];
  });
  const unused = Object.keys(values).filter((k) => !used.has(k));
  if (unused.length) throw new Error(`the text has no slot for ${unused.map((k) => `{{${k}}}`).join(', ')}`);
  return out;
}
