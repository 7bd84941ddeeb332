// The hand-off recipe: train.py is shipped as it is in the repo, compiles, passes pyflakes, and reads every setting
// of the run.json the export writes beside it (and no other), with the studio's learning-rate schedule at every
// step; its README, accelerate config and dataset describe the run, the dataset reading back through our parser.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDataset } from '../data/formats.js';
import { DEFAULT_CHAT_TEMPLATE } from '../data/template.js';
import { initGpt2, initLora } from '../models/init.js';
import { config, data, LORA, source } from '../testing/export-run.js';
import { learningRate } from '../train/schedule.js';
import { joined } from '../util/files.js';
import { fillSlots, recipeFiles, recipeSettings } from './recipe.js';
import { RECIPE_PROGRAM } from './shipped.js';
import { readShipped } from './shipped.node.js';

const dir = mkdtempSync(join(tmpdir(), 'fts-recipe-'));
// a 150-step LoRA run's facts; the weights are untrained: the recipe states settings and data, not weights
const losses = Array.from({ length: 150 }, (_, i) => ({ step: i + 1, loss: 2 }));
const src = source(LORA, { ...initGpt2(config, 7), ...initLora(config, LORA, 7) }, losses);

describe('hand-off recipe', () => {
  // Debian's python3 (CI installs python3-pyflakes for it); a python3 first on PATH may lack pyflakes
  const python = (...args: string[]) => {
    const r = spawnSync('/usr/bin/python3', args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`python3 ${args.join(' ')} failed (${r.status}):\n${r.stdout}${r.stderr}`);
    return r.stdout;
  };
  const recipe = async () => {
    const files = recipeFiles(src, data.trainedRecords, await readShipped(RECIPE_PROGRAM));
    const out = join(dir, 'recipe');
    for (const f of files) {
      const p = join(out, f.path);
      mkdirSync(join(p, '..'), { recursive: true });
      writeFileSync(p, joined(f));
    }
    return out;
  };
  interface Check {
    reads: string[];
    other: number[];
    run: Record<string, unknown>;
    lr: number[];
  }
  const check = (trainPy: string) => JSON.parse(python(join(import.meta.dirname, 'recipe_check.py'), trainPy)) as Check;
  /** Key paths of a settings object ("lora", "lora.r"), and which of them are values rather than objects. */
  const paths = (o: Record<string, unknown>, at = ''): { all: string[]; leaves: string[] } => {
    const all: string[] = [];
    const leaves: string[] = [];
    for (const [k, v] of Object.entries(o)) {
      const p = at + k;
      all.push(p);
      if (v && typeof v === 'object' && !Array.isArray(v)) {
        const sub = paths(v as Record<string, unknown>, `${p}.`);
        all.push(...sub.all);
        leaves.push(...sub.leaves);
      } else leaves.push(p);
    }
    return { all, leaves };
  };

  it('ships train.py unchanged, which compiles, passes pyflakes, and reads every setting of run.json and no other', async () => {
    const out = await recipe();
    const trainPy = join(out, 'train.py');
    expect(readFileSync(trainPy, 'utf8')).toBe(readFileSync(join(import.meta.dirname, 'recipe', 'train.py'), 'utf8'));
    python('-m', 'py_compile', trainPy);
    python('-m', 'pyflakes', trainPy);
    const settings = recipeSettings(src);
    const written = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')) as Record<string, unknown>;
    expect(written).toEqual({ ...settings, dataset: src.run.dataset, trained_steps: 150 });
    expect(settings).toMatchObject({
      steps: 150,
      learning_rate: 3e-3,
      per_device_batch: 4,
      seq: 48,
      max_length: 49,
      warmup_steps: 2,
      schedule: 'cosine',
      min_lr_ratio: 0.1,
      seed: 42,
      loss_on: 'assistant',
      lora: { r: 4, alpha: 8, targets: ['attn.c_attn', 'mlp.c_fc'] },
    });
    const got = check(trainPy);
    expect(got.run).toEqual(written); // what train.py loads is what the export wrote
    expect(got.other).toEqual([]); // RUN is only read as RUN["key"], so the reads below are all of them
    const { all, leaves } = paths(settings);
    expect(leaves.filter((k) => !got.reads.includes(k))).toEqual([]); // every setting is used
    expect(got.reads.filter((k) => !all.includes(k))).toEqual([]); // and none is read that is not written
    // the schedule train.py hands to LambdaLR is the studio's, at every step
    const t = src.run.train;
    const schedule = {
      kind: t.schedule,
      lr: t.lr,
      warmupSteps: t.warmupSteps,
      totalSteps: t.steps,
      minLrRatio: t.minLrRatio,
    };
    expect(got.lr).toHaveLength(150);
    got.lr.forEach((m, k) => expect(m * t.lr).toBeCloseTo(learningRate(schedule, k + 1), 12));
  });

  it('the check sees a setting train.py stops reading, and train.py refuses a max_length that is not seq + 1', async () => {
    const out = await recipe();
    const edited = join(out, 'train-edited.py');
    const text = readFileSync(join(out, 'train.py'), 'utf8');
    expect(text).toContain('adam_beta2=RUN["adam_beta2"]');
    writeFileSync(edited, text.replace('adam_beta2=RUN["adam_beta2"]', 'adam_beta2=0.999'));
    expect(check(edited).reads).not.toContain('adam_beta2');
    const run = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(out, 'run.json'), JSON.stringify({ ...run, max_length: 64 }));
    expect(() => check(join(out, 'train.py'))).toThrow(/max_length is 64 and seq 48; .* set max_length to seq \+ 1/);
  });

  it('ships the accelerate config and requirements unchanged, and its README and dataset describe the run', async () => {
    const out = await recipe();
    for (const name of ['accelerate_config.yaml', 'requirements.txt'])
      expect(readFileSync(join(out, name), 'utf8')).toBe(
        readFileSync(join(import.meta.dirname, 'recipe', name), 'utf8'),
      );
    for (const split of ['train', 'validation'] as const) {
      const back = parseDataset(readFileSync(join(out, 'data', `${split}.jsonl`), 'utf8'), `${split}.jsonl`, {
        format: 'chat',
      });
      expect(back.errors).toEqual([]);
      expect(back.dataset.records).toBe(data.trainedRecords[split].length);
    }
    expect(data.trainedRecords.train.length + data.trainedRecords.validation.length).toBe(25);
    expect(readFileSync(join(out, 'chat_template.jinja'), 'utf8')).toBe(DEFAULT_CHAT_TEMPLATE);
    expect(readFileSync(join(out, 'accelerate_config.yaml'), 'utf8')).toMatch(
      /distributed_type: DEEPSPEED[\s\S]*zero_stage: 2/,
    );
    const readme = readFileSync(join(out, 'README.md'), 'utf8');
    expect(readme).toContain('accelerate launch --config_file accelerate_config.yaml');
    expect(readme).toContain('(LoRA r=4 of acme/gpt2,\n150 steps of 4 x 48 tokens)');
    expect(readme).toContain(
      `the run's own split, ${data.trainedRecords.train.length} and ${data.trainedRecords.validation.length} records, one conversation per line`,
    );
    expect(readme).toContain('(cosine, warmup 2, floor 0.1 x lr)');
    expect(readme).toContain('the adapter in `output/adapter`');
    expect(readme).not.toContain('{{');
  });

  it('fills every slot of a text, and refuses a slot without a value or a value without a slot', () => {
    expect(fillSlots('{{a}} and {{b}}', { a: '1', b: '{{2}}' })).toBe('1 and {{2}}');
    expect(() => fillSlots('{{a}} {{c}}', { a: '1' })).toThrow('{{c}} has no value; the values are: a');
    expect(() => fillSlots('{{a}}', { a: '1', b: '2' })).toThrow('the text has no slot for {{b}}');
  });
});
