// The model the studio trains: the offline tiny GPT-2, or a model of any supported family from the Hub (GPT-2,
// Llama, Qwen2, Qwen3: config.json says which; downloaded once into IndexedDB, then loaded from there with no
// request), with its own tokenizer, end tokens and chat template. Also inspection before download (size, memory estimate, warnings) and
// the cache manager (list, delete). Model ids: "tiny", or "hub:<endpoint>|<repo>@<revision>".
import { parseModelConfig, type ModelConfig } from '../src/engine/models/config.js';
import { familyOf } from '../src/engine/models/family.js';
import { CHAT_VARS, ChatTemplate, DEFAULT_CHAT_TEMPLATE } from '../src/engine/data/template.js';
import { Tokenizer } from '../src/engine/data/tokenizer.js';
import { IdbHubCache } from '../src/engine/hub/cache.js';
import { DEFAULT_ENDPOINT, HubClient, type Progress } from '../src/engine/hub/client.js';
import { hubWeightsBytes, loadCachedModel, loadHubModel, type ModelFiles } from '../src/engine/hub/model.js';
import { importModel, LOCAL_ENDPOINT, type ImportInput } from '../src/engine/hub/import.js';
import { countParams } from '../src/engine/models/gpt2.js';
import { initGpt2, TINY_GPT2, type Weights } from '../src/engine/models/init.js';
import type { CachedModel, HubSource, ModelInspection } from '../src/protocol.js';
import { parseJsonFile } from '../src/engine/util/json.js';

export const BASE_SEED = 1234;

export interface LoadedModel {
  id: string;
  name: string;
  config: ModelConfig;
  /** The model's own tokenizer, ending a reply at any of its end ids (generation_config.json's eos_token_id). */
  tok: Tokenizer;
  /** The chat template the model ships (tokenizer_config.json or chat_template.jinja), else the studio's plain one. */
  template: string;
  /** The base weights (the tiny model is made afresh from its seed). */
  base(): Weights;
}

/**
 * A chat template as the model renders it: with its tokenizer's special tokens, and apply_chat_template's
 * variables (Qwen3 without its think block).
 */
export const modelTemplate = (m: Pick<LoadedModel, 'tok'>, source: string) =>
  ChatTemplate.forTokenizer(m.tok, source, { vars: CHAT_VARS });

const hubId = (s: HubSource) =>
  `hub:${(s.endpoint || DEFAULT_ENDPOINT).replace(/\/+$/, '')}|${s.repo}@${s.revision || 'main'}`;
export function parseModelId(id: string): HubSource | null {
  const m = id.match(/^hub:(.+)\|(.+)@(.+)$/);
  return m ? { endpoint: m[1], repo: m[2], revision: m[3] } : null;
}

export class Models {
  private readonly cache = new IdbHubCache();
  private abort: AbortController | null = null;
  current: LoadedModel;

  constructor(private readonly tinyTokenizer: Tokenizer) {
    this.current = this.tiny();
  }

  private tiny(): LoadedModel {
    return {
      id: 'tiny',
      name: 'tiny GPT-2 (offline, 2 layers, 64 dims)',
      config: TINY_GPT2,
      tok: this.tinyTokenizer,
      template: DEFAULT_CHAT_TEMPLATE,
      base: () => initGpt2(TINY_GPT2, BASE_SEED),
    };
  }

  private client(s: HubSource): HubClient {
    return new HubClient(this.cache, { endpoint: s.endpoint || DEFAULT_ENDPOINT, token: s.token || undefined });
  }

  /**
   * Size before downloading: config.json (small: it names the family, and an unsupported model type is refused
   * here) and a HEAD of the weights (each shard of a sharded repo); the page estimates memory from the config.
   */
  async inspect(s: HubSource): Promise<ModelInspection> {
    const c = this.client(s);
    const rev = s.revision || 'main';
    const file = `${s.repo}/config.json`;
    const config = parseModelConfig(parseJsonFile((await c.file(s.repo, rev, 'config.json'))!, file), file);
    const f = familyOf(config);
    return {
      repo: s.repo,
      revision: rev,
      family: f.label(config),
      params: countParams(f.params(config)),
      downloadBytes: await hubWeightsBytes(c, s.repo, rev),
      config,
    };
  }

  /** Downloads (or loads from the cache) and makes it current. Imported models (endpoint "local") load from the cache only. */
  async load(s: HubSource, onProgress: (p: Progress) => void): Promise<LoadedModel> {
    this.abort?.abort();
    const abort = (this.abort = new AbortController());
    try {
      const m =
        s.endpoint === LOCAL_ENDPOINT
          ? await loadCachedModel(this.cache, LOCAL_ENDPOINT, s.repo, s.revision || 'main')
          : await loadHubModel(this.client(s), s.repo, s.revision || 'main', { onProgress, signal: abort.signal });
      return this.use(s, m);
    } finally {
      if (this.abort === abort) this.abort = null;
    }
  }

  private use(s: HubSource, m: ModelFiles): LoadedModel {
    const shipped = m.tokenizer.config.chat_template;
    const template = typeof shipped === 'string' ? shipped : DEFAULT_CHAT_TEMPLATE; // GPT-2 ships none
    const files = { ...m.tokenizer, config: { ...m.tokenizer.config, chat_template: template } };
    const tok = new Tokenizer(files, { endIds: m.eosIds });
    const local = s.endpoint === LOCAL_ENDPOINT;
    this.current = {
      id: hubId(s),
      name: local ? `${s.repo} (imported)` : `${s.repo}@${s.revision || 'main'}`,
      config: m.config,
      tok,
      template,
      base: () => m.weights,
    };
    return this.current;
  }

  /**
   * Imports a model picked from disk (an exported folder or zip, any Hugging Face folder of a supported family, sharded
   * or not) into the cache, or a
   * PEFT adapter applied to the current model, and makes it current.
   */
  async importFrom(
    files: ImportInput[],
    onProgress: (done: number, total: number) => void,
  ): Promise<{ model: LoadedModel; kind: 'model' | 'adapter' }> {
    const cur = this.current;
    const src = parseModelId(cur.id);
    const base = {
      repo: src?.repo ?? cur.name,
      config: cur.config,
      weights: cur.base(),
      tokenizer: cur.tok.files,
      eosId: cur.tok.eosId,
      ids: cur.tok.specialIds(),
    };
    const got = await importModel(this.cache, files, { base, onProgress });
    return {
      model: this.use({ endpoint: LOCAL_ENDPOINT, repo: got.repo, revision: got.revision }, got.model),
      kind: got.kind,
    };
  }

  useTiny(): LoadedModel {
    return (this.current = this.tiny());
  }

  /** Makes the model a stored run was trained from current again (from the cache, without requests). */
  async ensure(id: string, onProgress: (p: Progress) => void): Promise<LoadedModel> {
    if (this.current.id === id) return this.current;
    if (id === 'tiny') return this.useTiny();
    const s = parseModelId(id);
    if (!s) throw new Error(`unknown model ${id}`);
    return this.load(s, onProgress);
  }

  cancel(): void {
    this.abort?.abort();
  }

  async list(): Promise<CachedModel[]> {
    const byModel = new Map<string, CachedModel>();
    for (const f of await this.cache.list()) {
      const m = f.key.match(/^(.+)\/([^/]+\/[^/]+)@([^/]+)\//) ?? f.key.match(/^(.+)\/([^/]+)@([^/]+)\//);
      if (!m) continue;
      const prefix = `${m[1]}/${m[2]}@${m[3]}/`;
      const e = byModel.get(prefix) ?? { prefix, endpoint: m[1], repo: m[2], revision: m[3], bytes: 0, complete: true };
      e.bytes += f.size;
      e.complete &&= f.complete;
      byModel.set(prefix, e);
    }
    return [...byModel.values()];
  }

  async delete(prefix: string): Promise<void> {
    await this.cache.delete(prefix);
  }
}
