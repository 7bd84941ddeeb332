"""Continue a Fine-Tune Studio run at scale: TRL's SFTTrainer (+ PEFT LoRA for a LoRA run), same data, template,
loss mask, schedule and hyperparameters as the run in the browser. Every setting is read from run.json beside this
file (Fine-Tune Studio writes it; this file is the same for every run).

    accelerate launch --config_file accelerate_config.yaml train.py          # every GPU, DeepSpeed ZeRO-2
    python train.py                                                         # one GPU or the CPU
"""
import json
import math
import os

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.environ.get("OUTPUT_DIR", os.path.join(HERE, "output"))

# Every setting of the run, as trained in the studio (its "dataset" and "trained_steps" are statistics, unused here).
with open(os.path.join(HERE, "run.json"), encoding="utf-8") as f:
    RUN = json.load(f)
if RUN["max_length"] != RUN["seq"] + 1:
    raise SystemExit(
        f"run.json: max_length is {RUN['max_length']} and seq {RUN['seq']}; a row is seq tokens and the one after"
        " the last, so set max_length to seq + 1"
    )


def read_jsonl(name):
    with open(os.path.join(HERE, "data", name), encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def encode(tok, template, messages, loss_on):
    """Tokens and loss mask, as the studio builds them: the template is rendered for growing prefixes of the
    conversation and only what an assistant turn adds, up to and including its first end token (<|endoftext|>,
    <|im_end|>, <|eot_id|>: run.json's end_tokens), is trained."""
    ends = RUN["end_tokens"]
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
            found = [(added.find(e), e) for e in ends if added.find(e) >= 0]
            end, token = min(found) if found else (-1, "")
            cut = end + len(token) if end >= 0 else len(added)
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
    """The studio's schedule: linear warmup from 0, then the run's schedule (cosine, linear or constant) down to
    min_lr_ratio x lr; step is 0-based here, 1-based in the studio."""
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
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    # dropout off, as in the studio (the family's own config fields)
    model = AutoModelForCausalLM.from_pretrained(
        RUN["base_model"], revision=RUN["revision"], torch_dtype=torch.float32,
        **{field: 0.0 for field in RUN["dropout_fields"]},
    )
    train = Dataset.from_list(rows(tok, template, read_jsonl("train.jsonl")))
    validation = rows(tok, template, read_jsonl("validation.jsonl"))
    masked = RUN["loss_on"] != "all" and RUN["kind"] == "chat"

    peft_config = None
    if RUN["lora"]:
        from peft import LoraConfig

        peft_config = LoraConfig(
            r=RUN["lora"]["r"], lora_alpha=RUN["lora"]["alpha"], target_modules=RUN["lora"]["targets"],
            lora_dropout=0.0, bias="none", fan_in_fan_out=RUN["lora"]["fan_in_fan_out"], task_type="CAUSAL_LM",
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
