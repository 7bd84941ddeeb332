// The hand-off for runs that outgrow one browser: the dataset as trained (chat JSONL, the run's own split), a
// train.py for TRL's SFTTrainer (+ PEFT for LoRA runs) that reproduces the run's template, loss mask, packing,
// learning-rate schedule, optimizer, batch, sequence length and seed, an accelerate config for multi-GPU data
// parallelism with DeepSpeed ZeRO-2, and a README with the launch command. Every setting lives in one RUN dict at
// the top of train.py (a test reads it back and compares it with the run).
import { jsonFile, textFile, type OutFile } from '../util/files.js';
import type { ExportSource } from './source.js';

const py = (v: unknown): string => {
  if (v === null || v === undefined) return 'None';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number') return String(v); // JS number syntax reads as the same Python float (0.003, 1e-8)
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(py).join(', ')}]`;
  return `{${Object.entries(v as Record<string, unknown>)
    .map(([k, x]) => `${JSON.stringify(k)}: ${py(x)}`)
    .join(', ')}}`;
};

/** The run's settings as the recipe states them (also what the test compares with train.py's RUN). */
export function recipeSettings(src: ExportSource): Record<string, unknown> {
  const r = src.run;
  const t = r.train;
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
    lora: r.lora ? { r: r.lora.rank, alpha: r.lora.alpha, targets: [...r.lora.targets] } : null,
  };
}

export interface RecipeData {
  /** JSONL lines: {"messages": [...]} per conversation, or {"text": ...} per row of a plain-text run. */
  train: readonly string[];
  validation: readonly string[];
}

export function recipeFiles(src: ExportSource, data: RecipeData): OutFile[] {
  const s = recipeSettings(src);
  const lines = (xs: readonly string[]) => (xs.length ? `${xs.join('\n')}\n` : '');
  return [
    textFile('data/train.jsonl', lines(data.train)),
    textFile('data/validation.jsonl', lines(data.validation)),
    textFile('chat_template.jinja', src.run.data.template),
    textFile('train.py', trainPy(s)),
    textFile('accelerate_config.yaml', ACCELERATE_ZERO2),
    jsonFile('run.json', { ...s, dataset: src.run.dataset, trained_steps: src.run.step }),
    textFile(
      'requirements.txt',
      'torch>=2.4\ntransformers>=4.56\ntrl>=0.23\npeft>=0.17\naccelerate>=1.10\ndeepspeed>=0.17\ndatasets>=4.0\n',
    ),
    textFile('README.md', recipeReadme(src, data)),
  ];
}

const ACCELERATE_ZERO2 = `# Data parallelism over every GPU of this machine with DeepSpeed ZeRO-2 (optimizer state and gradients sharded).
# Set num_processes to the number of GPUs (or pass --num_processes N to accelerate launch).
compute_environment: LOCAL_MACHINE
distributed_type: DEEPSPEED
deepspeed_config:
  zero_stage: 2
  offload_optimizer_device: none
  offload_param_device: none
  gradient_accumulation_steps: auto
  gradient_clipping: auto
  zero3_init_flag: false
mixed_precision: 'no'
machine_rank: 0
num_machines: 1
num_processes: 2
main_training_function: main
rdzv_backend: static
same_network: true
use_cpu: false
`;

function trainPy(s: Record<string, unknown>): string {
  return `"""Continue a Fine-Tune Studio run at scale: TRL's SFTTrainer${s.lora ? ' + PEFT LoRA' : ''}, same data, template, loss mask,
schedule and hyperparameters as the run in the browser.

    accelerate launch --config_file accelerate_config.yaml train.py          # every GPU, DeepSpeed ZeRO-2
    python train.py                                                         # one GPU or the CPU
"""
import json
import math
import os

# Every setting of the run, as trained in the studio.
RUN = ${py(s)}

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.environ.get("OUTPUT_DIR", os.path.join(HERE, "output"))


def read_jsonl(name):
    with open(os.path.join(HERE, "data", name), encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def encode(tok, template, messages, loss_on):
    """Tokens and loss mask, as the studio builds them: the template is rendered for growing prefixes of the
    conversation and only what an assistant turn adds, up to and including its <|endoftext|>, is trained."""
    eos = tok.eos_token
    ids, mask, done = [], [], ""
    last = max((k for k, m in enumerate(messages) if m["role"] == "assistant"), default=-1)

    def render(msgs, gen=False):
        return tok.apply_chat_template(msgs, chat_template=template, tokenize=False, add_generation_prompt=gen)

    def push(text, trained):
        t = tok(text, add_special_tokens=False)["input_ids"]
        ids.extend(t)
        mask.extend([1 if trained or loss_on == "all" else 0] * len(t))

    for k, m in enumerate(messages):
        msgs = [{"role": x["role"], "content": x["content"]} for x in messages[: k + 1]]
        if m["role"] == "assistant":
            prompt = render(msgs[:-1], True)
            push(prompt[len(done):], False)
            done = prompt
        full = render(msgs)
        added = full[len(done):]
        if m["role"] == "assistant":
            trained = m.get("weight", 1) != 0 and (loss_on != "last-assistant" or k == last)
            end = added.rfind(eos)
            cut = end + len(eos) if end >= 0 else len(added)
            push(added[:cut], trained)
            if cut < len(added):
                push(added[cut:], False)
        else:
            push(added, False)
        done = full
    return ids, mask


def rows(tok, template, records):
    """Rows of at most max_length tokens; with packing, conversations are placed one after another while they fit."""
    n = RUN["max_length"]
    out, cur_ids, cur_mask = [], [], []
    for r in records:
        if "messages" in r:
            ids, mask = encode(tok, template, r["messages"], RUN["loss_on"])
        else:
            ids = tok(r["text"], add_special_tokens=False)["input_ids"]
            mask = [1] * len(ids)
        ids, mask = ids[:n], mask[:n]
        if cur_ids and (not RUN["pack"] or len(cur_ids) + len(ids) > n):
            out.append({"input_ids": cur_ids, "assistant_masks": [0] + cur_mask[1:]})
            cur_ids, cur_mask = [], []
        cur_ids, cur_mask = cur_ids + ids, cur_mask + mask
    if cur_ids:
        out.append({"input_ids": cur_ids, "assistant_masks": [0] + cur_mask[1:]})
    return [x for x in out if any(x["assistant_masks"])]


def lr_lambda(step):
    """The studio's schedule: linear warmup from 0, then ${s.schedule} decay to min_lr_ratio x lr (step is 0-based here)."""
    step += 1
    w, total, floor = RUN["warmup_steps"], RUN["steps"], RUN["min_lr_ratio"]
    if w > 0 and step <= w:
        return step / w
    if RUN["schedule"] == "constant":
        return 1.0
    progress = min(1.0, max(0.0, (step - w) / max(1, total - w)))
    shape = 0.5 * (1 + math.cos(math.pi * progress)) if RUN["schedule"] == "cosine" else 1 - progress
    return floor + (1 - floor) * shape


def main():
    import torch
    from datasets import Dataset
    from torch.optim.lr_scheduler import LambdaLR
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    with open(os.path.join(HERE, "chat_template.jinja"), encoding="utf-8") as f:
        template = f.read()
    tok = AutoTokenizer.from_pretrained(RUN["base_model"], revision=RUN["revision"])
    tok.chat_template = template
    tok.pad_token = tok.eos_token
    # dropout off, as in the studio
    model = AutoModelForCausalLM.from_pretrained(
        RUN["base_model"], revision=RUN["revision"], torch_dtype=torch.float32,
        attn_pdrop=0.0, embd_pdrop=0.0, resid_pdrop=0.0,
    )
    train = Dataset.from_list(rows(tok, template, read_jsonl("train.jsonl")))
    validation = rows(tok, template, read_jsonl("validation.jsonl"))
    masked = RUN["loss_on"] != "all" and RUN["kind"] == "chat"

    peft_config = None
    if RUN["lora"]:
        from peft import LoraConfig

        peft_config = LoraConfig(
            r=RUN["lora"]["r"], lora_alpha=RUN["lora"]["alpha"], target_modules=RUN["lora"]["targets"],
            lora_dropout=0.0, bias="none", fan_in_fan_out=True, task_type="CAUSAL_LM",
        )

    args = SFTConfig(
        output_dir=OUT,
        max_steps=RUN["steps"],
        learning_rate=RUN["learning_rate"],
        per_device_train_batch_size=RUN["per_device_batch"],
        per_device_eval_batch_size=RUN["per_device_batch"],
        gradient_accumulation_steps=RUN["gradient_accumulation"],
        warmup_steps=RUN["warmup_steps"],
        adam_beta1=RUN["adam_beta1"],
        adam_beta2=RUN["adam_beta2"],
        adam_epsilon=RUN["adam_epsilon"],
        weight_decay=RUN["weight_decay"],
        max_grad_norm=RUN["max_grad_norm"],
        max_length=RUN["max_length"],
        packing=False,  # rows are already packed (or not) as the run had them
        assistant_only_loss=masked,
        dataset_kwargs={"skip_prepare_dataset": True},
        seed=RUN["seed"],
        data_seed=RUN["seed"],
        eval_strategy="steps" if validation else "no",
        eval_steps=max(1, RUN["steps"] // 4),
        logging_steps=10,
        save_steps=max(1, RUN["steps"] // 4),
        report_to="none",
    )

    class StudioTrainer(SFTTrainer):
        def create_scheduler(self, num_training_steps, optimizer=None):
            if self.lr_scheduler is None:
                self.lr_scheduler = LambdaLR(optimizer or self.optimizer, lr_lambda)
            return self.lr_scheduler

    trainer = StudioTrainer(
        model=model, args=args, train_dataset=train, eval_dataset=Dataset.from_list(validation) if validation else None,
        processing_class=tok, peft_config=peft_config,
    )
    trainer.train()
    if RUN["lora"]:
        trainer.model.save_pretrained(os.path.join(OUT, "adapter"))
        trainer.model = trainer.model.merge_and_unload()
    trainer.save_model(os.path.join(OUT, "final"))
    tok.save_pretrained(os.path.join(OUT, "final"))


if __name__ == "__main__":
    main()
`;
}

function recipeReadme(src: ExportSource, data: RecipeData): string {
  const r = src.run;
  return `# Hand-off: continue this run with TRL on your own GPUs

This folder reproduces a Fine-Tune Studio run (${r.lora ? `LoRA r=${r.lora.rank}` : 'full fine-tune'} of ${r.base.repo ?? r.base.name},
${r.train.steps} steps of ${r.train.batch} x ${r.train.seq} tokens) with Hugging Face TRL, for when you outgrow one browser:
a bigger GPT-2 (change \`base_model\` in \`train.py\`), more data (append to \`data/train.jsonl\`), several GPUs.

## Launch
\`\`\`sh
pip install -r requirements.txt
accelerate launch --config_file accelerate_config.yaml --num_processes <GPUs> train.py
\`\`\`
(\`python train.py\` runs on one GPU or the CPU.) The result lands in \`output/final\` (a Hugging Face folder${r.lora ? '; the adapter in `output/adapter`' : ''}).

## What is in it
- \`data/train.jsonl\`, \`data/validation.jsonl\`: the run's own split, ${data.train.length} and ${data.validation.length} records, ${r.dataset.kind === 'chat' ? 'one conversation per line (`{"messages": [...]}`), as fitted to the window (oldest exchanges dropped where the run dropped them)' : 'one training row per line (`{"text": ...}`)'}.
- \`chat_template.jinja\`: the template the run trained with.
- \`train.py\`: every setting in the \`RUN\` dict at its top; the loss mask (${r.data.lossOn === 'all' ? 'every token' : 'assistant turns and their end-of-text'}) is built the way the studio builds it and handed to TRL as \`assistant_masks\`; the learning-rate schedule is the studio's (${r.train.schedule}, warmup ${r.train.warmupSteps}, floor ${r.train.minLrRatio} x lr); dropout is off, as in the studio.
- \`accelerate_config.yaml\`: data parallelism with DeepSpeed ZeRO-2.
- \`run.json\`: the settings and data statistics.

## Differences to know
- With N GPUs each takes \`per_device_batch\` rows, so the global batch is N times the run's; divide it (or the
  accumulation) to keep the run's exact batch.
- Rows are shuffled by PyTorch's sampler with the same seed, not in the studio's order, so losses match in
  distribution, not step by step.
`;
}
