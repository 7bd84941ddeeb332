// Importing a model from disk into the same cache Hub models live in: an exported folder or zip (the studio's own
// Hugging Face / transformers.js / chat-page exports), any local Hugging Face folder of a supported family (GPT-2,
// Llama, Qwen2, Qwen3; single-file or sharded), or a PEFT LoRA adapter,
// which is applied to the current model (merged as PEFT merges it) and stored as a model of its own, so training can
// continue from it. Zips are read by random access (zip.js over a Blob), entry by entry: no file is held whole.
// Files are stored under the endpoint "local" and a fresh revision, then loaded back to check them; anything that
// fails removes what was stored, so an import is there whole or not at all.
import { BlobReader, ZipReader, type Entry } from '@zip.js/zip.js';
import type { TokenizerFiles } from '../data/tokenizer.js';
import { fileSize, jsonFile, textFile, type OutFile } from '../util/files.js';
import { isLlama, parseModelConfig, type ModelConfig } from '../models/config.js';
import type { Weights } from '../models/init.js';
import { familyOf, type SpecialIds } from '../models/family.js';
import { loraSites, mergeLora, type LoraConfig } from '../models/lora.js';
import { StorageError } from '../storage/chunks.js';
import { fmtSize } from '../util/size.js';
import type { HubCache } from './cache.js';
import { loadCachedModel, type ModelFiles } from './model.js';
import { readSafetensorsStream, safetensorsParts } from './safetensors.js';
import { ADAPTER_CONFIG } from './schemas.js';
import { parseJsonFile, readJsonFile } from '../util/json.js';

export const LOCAL_ENDPOINT = 'local';

export class ImportError extends Error {
  readonly code = 'IMPORT';
}

/** A file picked from disk: its path inside the picked folder (or the zip's name), and its bytes. */
export interface ImportInput {
  path: string;
  blob: Blob;
}

interface Item {
  path: string;
  size: number;
  read(): AsyncIterable<Uint8Array>;
}

async function* blobChunks(b: Blob): AsyncGenerator<Uint8Array> {
  const reader = b.stream().getReader();
  for (;;) {
    const r = await reader.read();
    if (r.done) return;
    yield r.value;
  }
}

async function* entryChunks(e: Entry): AsyncGenerator<Uint8Array> {
  if (e.directory) return;
  const ts = new TransformStream<Uint8Array, Uint8Array>();
  const done = e.getData(ts.writable, { useWebWorkers: false });
  const reader = ts.readable.getReader();
  for (;;) {
    const r = await reader.read();
    if (r.done) break;
    yield r.value;
  }
  await done;
}

/** Every file picked, with the entries of zips listed in their place. */
async function listItems(inputs: readonly ImportInput[]): Promise<Item[]> {
  const items: Item[] = [];
  for (const f of inputs) {
    if (!/\.zip$/i.test(f.path)) {
      items.push({ path: f.path.replace(/^\/+/, ''), size: f.blob.size, read: () => blobChunks(f.blob) });
      continue;
    }
    let entries: Entry[];
    try {
      entries = await new ZipReader(new BlobReader(f.blob), { useWebWorkers: false }).getEntries();
    } catch (e) {
      throw new ImportError(`${f.path} is not a readable zip (${(e as Error).message})`);
    }
    for (const e of entries)
      if (!e.directory) items.push({ path: e.filename, size: e.uncompressedSize, read: () => entryChunks(e) });
  }
  return items;
}

const dirOf = (p: string) => (p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '');
const baseOf = (p: string) => p.slice(p.lastIndexOf('/') + 1);

/** The shallowest folder holding all of `names`. */
function findRoot(items: readonly Item[], names: readonly string[]): string | null {
  const dirs = new Set(items.filter((i) => baseOf(i.path) === names[0]).map((i) => dirOf(i.path)));
  const ok = [...dirs].filter((d) => names.every((n) => items.some((i) => i.path === (d ? `${d}/${n}` : n))));
  ok.sort((a, b) => a.split('/').length - b.split('/').length || a.length - b.length);
  return ok.length ? ok[0] : null;
}

async function readAll(item: Item): Promise<Uint8Array> {
  const out = new Uint8Array(item.size);
  let o = 0;
  for await (const c of item.read()) {
    if (o + c.length > out.length) throw new ImportError(`${item.path} is longer than its stated ${item.size} bytes`);
    out.set(c, o);
    o += c.length;
  }
  if (o !== item.size) throw new ImportError(`${item.path} is truncated: ${o} of ${item.size} bytes`);
  return out;
}

const importError = (m: string) => new ImportError(m);

const CHUNK = 8 * 2 ** 20;

/** Streams parts into the cache as one complete file under `key`, in chunks of at most 8 MiB. */
async function store(
  cache: HubCache,
  key: string,
  parts: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  size: number,
): Promise<void> {
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  let index = 0;
  let total = 0;
  const flush = async () => {
    if (!pendingBytes) return;
    const chunk = new Uint8Array(pendingBytes);
    let o = 0;
    for (const p of pending) {
      chunk.set(p, o);
      o += p.length;
    }
    await cache.putPartialChunk(key, index++, chunk, 'import', size);
    pending = [];
    pendingBytes = 0;
  };
  for await (const p of parts) {
    for (let o = 0; o < p.length;) {
      const n = Math.min(CHUNK - pendingBytes, p.length - o);
      pending.push(p.subarray(o, o + n));
      pendingBytes += n;
      o += n;
      total += n;
      if (pendingBytes === CHUNK) await flush();
    }
  }
  await flush();
  if (total !== size) throw new ImportError(`${key.split('/').slice(-1)[0]} is truncated: ${total} of ${size} bytes`);
  await cache.complete(key, { etag: 'import', size });
}

/** The model an adapter is applied to: the one current in the studio (or the CLI). */
export interface ImportBase {
  /** Its Hub repo (or name): an adapter must name it as base_model_name_or_path. */
  repo: string;
  config: ModelConfig;
  weights: Weights;
  tokenizer: TokenizerFiles;
  eosId: number;
  /** The ids config.json states (bos, every end id, pad); GPT-2's are its end-of-text. */
  ids?: SpecialIds;
}

export interface ImportOptions {
  base?: ImportBase;
  onProgress?: (done: number, total: number) => void;
  /** The revision the import is stored under (default: a fresh one from the clock). */
  revision?: string;
}

export interface Imported {
  kind: 'model' | 'adapter';
  repo: string;
  revision: string;
  model: ModelFiles;
}

const MODEL_FILES = [
  'config.json',
  'model.safetensors',
  'tokenizer.json',
  'tokenizer_config.json',
  'vocab.json',
  'merges.txt',
  'generation_config.json',
  'special_tokens_map.json',
  'chat_template.jinja',
  'model.safetensors.index.json',
];
/** A sharded checkpoint's parts, as the Hub names them (model-00001-of-00002.safetensors). */
const SHARD = /^model-\d+-of-\d+\.safetensors$/;

/** Imports the picked files (a folder's files, or one zip) as a model in `cache`. */
export async function importModel(
  cache: HubCache,
  inputs: readonly ImportInput[],
  o: ImportOptions = {},
): Promise<Imported> {
  if (!inputs.length) throw new ImportError('nothing was picked');
  const items = await listItems(inputs);
  const picked = inputs.length === 1 ? inputs[0].path : inputs[0].path.split('/')[0] || 'folder';
  const revision = o.revision ?? `import-${Date.now().toString(36)}`;
  const modelRoot =
    findRoot(items, ['config.json', 'model.safetensors']) ??
    findRoot(items, ['config.json', 'model.safetensors.index.json']);
  const adapterRoot = modelRoot === null ? findRoot(items, ['adapter_config.json', 'adapter_model.safetensors']) : null;
  if (modelRoot === null && adapterRoot === null) {
    const names = items
      .slice(0, 8)
      .map((i) => i.path)
      .join(', ');
    throw new ImportError(
      `${picked} holds no model (config.json + model.safetensors, or its shards + model.safetensors.index.json) and no PEFT adapter (adapter_config.json + adapter_model.safetensors); it has ${items.length ? names + (items.length > 8 ? ', ...' : '') : 'no files'}`,
    );
  }
  const at = (root: string, name: string) => items.find((i) => i.path === (root ? `${root}/${name}` : name));
  const nameOf = (root: string) =>
    (root
      ? baseOf(root)
      : picked
          .replace(/\.zip$/i, '')
          .split('/')
          .pop()!
    ).replace(/[^\w.+-]+/g, '-') || 'imported';
  const free = await cache.free();

  if (modelRoot !== null) {
    const root = modelRoot;
    const cfgItem = at(root, 'config.json')!;
    // refuse an unsupported model_type (naming the supported ones) before storing anything
    const config = parseModelConfig(parseJsonFile(await readAll(cfgItem), cfgItem.path, importError), cfgItem.path);
    if (isLlama(config) && !at(root, 'tokenizer.json'))
      throw new ImportError(`${root || picked} has no tokenizer.json: a ${config.model_type} model needs its own`);
    if (!at(root, 'tokenizer.json') && !(at(root, 'vocab.json') && at(root, 'merges.txt'))) {
      throw new ImportError(
        `${root || picked} has no tokenizer: it needs tokenizer.json, or vocab.json and merges.txt`,
      );
    }
    const shards = items.filter((i) => dirOf(i.path) === root && SHARD.test(baseOf(i.path)));
    const files = [...MODEL_FILES.map((n) => at(root, n)).filter((x): x is Item => !!x), ...shards];
    const repo = nameOf(root);
    return storeAndLoad(
      cache,
      repo,
      revision,
      'model',
      free,
      files.map((f) => ({ name: baseOf(f.path), size: f.size, parts: f.read() })),
      o,
    );
  }

  // ---- a PEFT adapter, applied to the current model
  const { repo, files } = await mergedAdapter(at, adapterRoot!, nameOf(adapterRoot!), o.base);
  return storeAndLoad(
    cache,
    repo,
    revision,
    'adapter',
    free,
    files.map((f) => ({ name: f.path, size: fileSize(f), parts: f.parts })),
    o,
  );
}

/**
 * The PEFT adapter under `root` merged into the current model as PEFT merges it, as the files of a plain GPT-2 with
 * the base's tokenizer (and so its chat template); refused, naming the file, when it does not fit that model.
 */
async function mergedAdapter(
  at: (root: string, name: string) => Item | undefined,
  root: string,
  name: string,
  base: ImportBase | undefined,
): Promise<{ repo: string; files: OutFile[] }> {
  const cfgItem = at(root, 'adapter_config.json')!;
  const ac = readJsonFile(await readAll(cfgItem), cfgItem.path, ADAPTER_CONFIG, importError);
  const where = cfgItem.path;
  if (ac.use_dora) throw new ImportError(`${where}: DoRA adapters (use_dora) are not supported`);
  const wanted = ac.base_model_name_or_path ?? null;
  if (!base)
    throw new ImportError(`${where}: an adapter applies to a base model; load ${wanted ?? 'its base model'} first`);
  const f = familyOf(base.config);
  const conv1d = f.lora.weightLayout === 'in-out';
  if ((ac.fan_in_fan_out ?? false) !== conv1d)
    throw new ImportError(
      conv1d
        ? `${where}: fan_in_fan_out is false, but GPT-2's layers are Conv1D and PEFT needs it true for them`
        : `${where}: fan_in_fan_out is true, but ${f.label(base.config)}'s layers are nn.Linear (PEFT's false)`,
    );
  const rank = ac.r;
  const alpha = ac.lora_alpha;
  const targets = targetsOf(base.config, ac.target_modules, where);
  if (wanted && wanted !== base.repo && !base.repo.endsWith(`/${wanted}`) && !wanted.endsWith(`/${base.repo}`)) {
    throw new ImportError(
      `${where}: this adapter was trained on ${wanted}, but the current model is ${base.repo}; load ${wanted} first`,
    );
  }
  const stItem = at(root, 'adapter_model.safetensors')!;
  const tensors = await readSafetensorsStream(stItem.read(), stItem.size, stItem.path);
  const scaleAlpha = ac.use_rslora ? (alpha * Math.sqrt(rank)) / rank : alpha; // rsLoRA: alpha / sqrt(r)
  const lora: LoraConfig = { rank, alpha: scaleAlpha, targets };
  const W: Weights = { ...base.weights };
  const take = (name: string, wantShape: number[]) => {
    const t1 =
      tensors.get(`base_model.model.${name}`) ??
      tensors.get(`base_model.model.${name.replace('.weight', '.default.weight')}`);
    if (!t1) throw new ImportError(`${stItem.path}: missing base_model.model.${name}`);
    if (t1.shape.join() !== wantShape.join())
      throw new ImportError(
        `${stItem.path}: ${name} has shape [${t1.shape.join(', ')}], expected [${wantShape.join(', ')}]`,
      );
    W[name] = t1.data;
  };
  for (const site of loraSites(base.config, lora)) {
    take(site.A, [lora.rank, site.din]);
    take(site.B, [site.dout, lora.rank]);
  }
  const merged = mergeLora(base.config, lora, W);
  const repo = `${baseOf(base.repo).split(/\s/)[0]}+${name}`.replace(/[^\w.+-]+/g, '-');
  // stored as a plain model of the base's family with the base's tokenizer (and so its chat template)
  const out = Object.fromEntries(f.params(base.config).map((p) => [p.name, { shape: p.shape, data: merged[p.name] }]));
  const files: OutFile[] = [
    jsonFile('config.json', f.configJson(base.config, base.ids ?? { bos: base.eosId, eos: [base.eosId], pad: null })),
    { path: 'model.safetensors', parts: safetensorsParts(out) },
    textFile('tokenizer.json', JSON.stringify(base.tokenizer.tokenizer)),
    jsonFile('tokenizer_config.json', base.tokenizer.config),
  ];
  return { repo, files };
}

/** PEFT target_modules (suffixes of module names) as the engine's LoRA targets. */
function targetsOf(c: ModelConfig, v: string | string[], where: string): string[] {
  const f = familyOf(c);
  const LORA_TARGETS = f.lora.targets;
  const list = typeof v === 'string' ? [v] : v;
  if (!list.length)
    throw new ImportError(
      `${where}: target_modules must name ${f.label(c)} layers (${LORA_TARGETS.join(', ')}), got ${JSON.stringify(v)}`,
    );
  const out = new Set<string>();
  for (const m of list) {
    const hits = LORA_TARGETS.filter((t) => t === m || t.endsWith(`.${m}`));
    if (!hits.length)
      throw new ImportError(
        `${where}: target module ${JSON.stringify(m)} is not a ${f.label(c)} layer LoRA applies to (${LORA_TARGETS.join(', ')})`,
      );
    for (const h of hits) out.add(h);
  }
  return LORA_TARGETS.filter((t) => out.has(t));
}

async function storeAndLoad(
  cache: HubCache,
  repo: string,
  revision: string,
  kind: Imported['kind'],
  free: number | null,
  files: { name: string; size: number; parts: AsyncIterable<Uint8Array> | Iterable<Uint8Array> }[],
  o: ImportOptions,
): Promise<Imported> {
  const need = files.reduce((n, f) => n + f.size, 0);
  if (free !== null && free < need)
    throw new StorageError(
      'INSUFFICIENT_SPACE',
      `importing ${repo} needs ${fmtSize(need)} of storage, but only ${fmtSize(free)} is free in this browser; nothing was stored.`,
    );
  const prefix = `${LOCAL_ENDPOINT}/${repo}@${revision}/`;
  let done = 0;
  try {
    for (const f of files) {
      const counted = (async function* () {
        for await (const p of f.parts) {
          done += p.length;
          o.onProgress?.(done, need);
          yield p;
        }
      })();
      await store(cache, `${prefix}${f.name}`, counted, f.size);
    }
    const model = await loadCachedModel(cache, LOCAL_ENDPOINT, repo, revision); // proves the stored files load
    if (
      familyOf(model.config)
        .params(model.config)
        .some((p) => !model.weights[p.name])
    )
      throw new ImportError(`${repo}: the stored weights are incomplete`);
    return { kind, repo, revision, model };
  } catch (e) {
    await cache.delete(prefix).catch(() => undefined);
    throw e instanceof ImportError || e instanceof StorageError
      ? e
      : new ImportError(`${repo} could not be imported: ${(e as Error).message}`);
  }
}
