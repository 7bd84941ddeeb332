// npm run chat -- --model <tiny | HF folder | saved run | repo id> [--prompt TEXT] [--system TEXT]
//                 [--greedy | --temperature T --top-p P --top-k K] [--max-new-tokens N] [--json] [--backend B]
// Chats with a model on the same engine as the studio, through the model's own chat template: one reply to
// --prompt, or a conversation at a prompt (a REPL) without it. --json prints {"prompt_ids", "ids", "text"}.
// The weights are frozen here, so on the CPU it decodes as npm run serve does (generate/batch.ts: the weights
// prepacked once as initializers, a read-only cache), ~1.2-1.3x the studio's generator, which reads weights that
// training may replace; on node's WebGPU EP the generator, whose cache stays on the GPU.
import { maxPositions } from '../src/engine/models/family.js';
import { createInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import { allParams, type ModelSpec } from '../src/engine/artifacts/model.js';
import { CHAT_VARS, ChatTemplate, type Message } from '../src/engine/data/template.js';
import { BatchDecoder } from '../src/engine/generate/batch.js';
import { Generator, type GenerateOptions } from '../src/engine/generate/generator.js';
import { GREEDY, validateSampling } from '../src/engine/generate/sampling.js';
import { parseBackend } from '../src/engine/runtime/backend.js';
import { weightFeeds } from '../src/engine/runtime/feeds.js';
import { createNodeBackend } from '../src/engine/runtime/node.js';
import { loadChatModel, type ChatModel } from './models.js';

const USAGE = `usage: npm run chat -- --model <tiny | folder | saved run | repo id> [options]
  --model M             tiny (random offline GPT-2), a Hugging Face folder, a folder written by
                        npm run finetune -- --out DIR (or DIR/run), or a Hub repo id (--revision R)
  --prompt TEXT         one reply to TEXT, then exit (without it: a conversation; /reset clears it, /exit ends)
  --system TEXT         a system prompt
  --greedy              the most likely token each step (deterministic)
  --temperature T       sampling temperature (0 = greedy)                  [the model's generation_config]
  --top-p P, --top-k K  nucleus and top-k cuts                             [the model's generation_config]
  --max-new-tokens N    reply length at most                               [the model's generation_config]
  --seed N              the sampling seed                                  [0]
  --json                with --prompt: one line {"prompt_ids", "ids", "text"}
  --backend B           node-cpu | node-webgpu                             [node-cpu]`;

class UsageError extends Error {}

function parseOptions() {
  const { values: a } = parseArgs({
    options: {
      model: { type: 'string', default: 'tiny' },
      revision: { type: 'string', default: 'main' },
      prompt: { type: 'string' },
      system: { type: 'string' },
      greedy: { type: 'boolean', default: false },
      temperature: { type: 'string' },
      'top-p': { type: 'string' },
      'top-k': { type: 'string' },
      'max-new-tokens': { type: 'string' },
      seed: { type: 'string', default: '0' },
      json: { type: 'boolean', default: false },
      backend: { type: 'string', default: 'node-cpu' },
      help: { type: 'boolean', default: false },
    },
  });
  const num = (k: keyof typeof a, check: (n: number) => boolean, what: string): number | undefined => {
    const v = a[k];
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!check(n)) throw new UsageError(`--${k} must be ${what}, got "${String(v)}"`);
    return n;
  };
  const whole = (n: number) => Number.isInteger(n) && n >= 0;
  return {
    a,
    temperature: num('temperature', (n) => n >= 0 && n <= 2, 'a number from 0 to 2'),
    topP: num('top-p', (n) => n > 0 && n <= 1, 'a number in (0, 1]'),
    topK: num('top-k', whole, 'a whole number'),
    maxNewTokens: num('max-new-tokens', (n) => whole(n) && n > 0, 'a positive whole number'),
    seed: num('seed', whole, 'a whole number') ?? 0,
  };
}

/** The sampling of each reply: the flags over the model's own defaults. */
function generateOptions(o: ReturnType<typeof parseOptions>, m: ChatModel): GenerateOptions {
  const base = o.a.greedy ? GREEDY : m.sampling;
  const g: GenerateOptions = {
    ...base,
    ...(o.temperature !== undefined ? { temperature: o.temperature } : {}),
    ...(o.topP !== undefined ? { topP: o.topP } : {}),
    ...(o.topK !== undefined ? { topK: o.topK } : {}),
    maxNewTokens: o.maxNewTokens ?? m.sampling.maxNewTokens,
    seed: o.seed,
    stopStrings: ['\nUser:'],
  };
  validateSampling(g);
  return g;
}

/** A conversation with one model: the rendered prompt's ids, then the reply streamed to `onText`. */
class Chat {
  private readonly template: ChatTemplate;
  private readonly gen: BatchDecoder | Generator;
  readonly context: number;

  constructor(
    private readonly m: ChatModel,
    backend: Awaited<ReturnType<typeof createNodeBackend>>,
  ) {
    this.template = ChatTemplate.forTokenizer(m.tok, m.template, { vars: CHAT_VARS });
    const spec: ModelSpec = { config: m.config };
    this.context = Math.min(maxPositions(m.config), 1024);
    if (backend.name === 'node-cpu') {
      this.gen = new BatchDecoder(backend, spec, m.weights, m.tok, { maxBatch: 1, context: this.context });
    } else {
      const weights = weightFeeds(backend, allParams(spec), m.weights);
      this.gen = new Generator(backend, spec, () => weights, m.tok, { cache: this.context });
    }
  }

  /** The template's rendering of `messages`, ready for the assistant's turn, as token ids. */
  promptIds(messages: readonly Message[]): number[] {
    return this.m.tok.encode(this.template.render(messages, true));
  }

  async reply(prompt: number[], o: GenerateOptions, onText: (t: string) => void) {
    const events = this.gen instanceof BatchDecoder ? this.gen.generate(prompt, o) : this.gen.stream(prompt, o);
    for await (const ev of events) {
      if (ev.type === 'token') onText(ev.text);
      else return { ids: ev.tokens, text: ev.text, reason: ev.reason };
    }
    throw new Error('the generator ended without a reply');
  }

  release() {
    return this.gen.release();
  }
}

/** A conversation at a prompt; the oldest exchanges are dropped (the system prompt kept) when it outgrows the context. */
async function repl(chat: Chat, system: Message[], o: GenerateOptions, name: string): Promise<void> {
  // lines are read as a stream, so lines typed (or piped) while a reply is streaming wait their turn
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: process.stdin.isTTY });
  console.log(`chatting with ${name} (/reset clears the conversation, /exit or Ctrl-D ends)`);
  let turns: Message[] = [];
  const ask = () => process.stdout.write('you> ');
  ask();
  try {
    for await (const raw of rl) {
      const line = raw.trim();
      if (line === '/exit') break;
      if (line === '/reset') turns = [];
      else if (line) {
        turns.push({ role: 'user', content: line });
        let prompt = chat.promptIds([...system, ...turns]);
        while (prompt.length + o.maxNewTokens > chat.context && turns.length > 1) {
          turns = turns.slice(2); // the oldest exchange
          prompt = chat.promptIds([...system, ...turns]);
        }
        process.stdout.write('model> ');
        const r = await chat.reply(prompt, o, (t) => process.stdout.write(t));
        process.stdout.write('\n');
        turns.push({ role: 'assistant', content: r.text });
      }
      ask();
    }
  } finally {
    rl.close();
  }
}

async function main(): Promise<void> {
  const o = parseOptions();
  const { a } = o;
  if (a.help) return void console.log(USAGE);
  if (a.json && a.prompt === undefined) throw new UsageError('--json needs --prompt (one reply, one line)');
  const m = await loadChatModel(a.model, a.revision);
  const g = generateOptions(o, m);
  const backend = await createNodeBackend(parseBackend(a.backend) as 'node-cpu' | 'node-webgpu');
  const chat = new Chat(m, backend);
  const system: Message[] = a.system ? [{ role: 'system', content: a.system }] : [];
  try {
    if (a.prompt === undefined) return await repl(chat, system, g, m.name);
    const prompt = chat.promptIds([...system, { role: 'user', content: a.prompt }]);
    if (prompt.length + g.maxNewTokens > chat.context)
      throw new Error(
        `the prompt is ${prompt.length} tokens and --max-new-tokens asks for ${g.maxNewTokens} more, but ${m.name}'s context holds ${chat.context}`,
      );
    const r = await chat.reply(prompt, g, (t) => {
      if (!a.json) process.stdout.write(t);
    });
    if (a.json) console.log(JSON.stringify({ prompt_ids: prompt, ids: r.ids, text: r.text }));
    else process.stdout.write('\n');
  } finally {
    await chat.release();
  }
}

main().catch((e: Error) => {
  console.error(e instanceof UsageError ? `${e.message}\n\n${USAGE}` : `error: ${e.message}`);
  process.exit(e instanceof UsageError ? 2 : 1);
});
