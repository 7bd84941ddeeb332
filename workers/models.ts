// The model the studio trains: the offline tiny GPT-2, or a GPT-2 from the Hub (downloaded once into IndexedDB,
// then loaded from there with no request). Also inspection before download (size, memory estimate, warnings) and
// the cache manager (list, delete). Model ids: "tiny", or "hub:<endpoint>|<repo>@<revision>".
import { isLlama } from '../src/engine/models/config.js';
import { parseGpt2Config } from '../src/engine/models/hf.js';
import { DEFAULT_CHAT_TEMPLATE } from '../src/engine/data/template.js';
import { Tokenizer } from '../src/engine/data/tokenizer.js';
import { IdbHubCache } from '../src/engine/hub/cache.js';
import { DEFAULT_ENDPOINT, HubClient, type Progress } from '../src/engine/hub/client.js';
import { loadCachedGpt2, loadHubGpt2, type HubModel } from '../src/engine/hub/model.js';
import { importModel, LOCAL_ENDPOINT, type ImportInput } from '../src/engine/hub/import.js';
import { countParams, gpt2Params, type GPT2Config } from '../src/engine/models/gpt2.js';
import { initGpt2, TINY_GPT2, type Weights } from '../src/engine/models/init.js';
import type { CachedModel, HubSource, ModelInspection } from '../src/protocol.js';
import { parseJsonFile } from '../src/engine/util/json.js';

export const BASE_SEED = 1234;

export interface LoadedModel {
  id: string;
  name: string;
  config: GPT2Config;
  tok: Tokenizer;
  /** The base weights (the tiny model is made afresh from its seed). */
  base(): Weights;
}

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
      base: () => initGpt2(TINY_GPT2, BASE_SEED),
    };
  }

  private client(s: HubSource): HubClient {
    return new HubClient(this.cache, { endpoint: s.endpoint || DEFAULT_ENDPOINT, token: s.token || undefined });
  }

  /** Size before downloading: config.json (small) and a HEAD of model.safetensors; the page estimates memory from the config. */
  async inspect(s: HubSource): Promise<ModelInspection> {
    const c = this.client(s);
    const rev = s.revision || 'main';
    const cfgBytes = await c.file(s.repo, rev, 'config.json');
    const config = parseGpt2Config(parseJsonFile(cfgBytes!, `${s.repo}/config.json`), `${s.repo}/config.json`);
    const size = await c.size(s.repo, rev, 'model.safetensors');
    return { repo: s.repo, revision: rev, params: countParams(gpt2Params(config)), downloadBytes: size, config };
  }

  /** Downloads (or loads from the cache) and makes it current. Imported models (endpoint "local") load from the cache only. */
  async load(s: HubSource, onProgress: (p: Progress) => void): Promise<LoadedModel> {
    this.abort?.abort();
    const abort = (this.abort = new AbortController());
    try {
      const m =
        s.endpoint === LOCAL_ENDPOINT
          ? await loadCachedGpt2(this.cache, LOCAL_ENDPOINT, s.repo, s.revision || 'main')
          : await loadHubGpt2(this.client(s), s.repo, s.revision || 'main', { onProgress, signal: abort.signal });
      return this.use(s, m);
    } finally {
      if (this.abort === abort) this.abort = null;
    }
  }

  private use(s: HubSource, m: HubModel): LoadedModel {
    const files = {
      ...m.tokenizer,
      config: { ...m.tokenizer.config, chat_template: m.tokenizer.config.chat_template ?? DEFAULT_CHAT_TEMPLATE },
    };
    const tok = new Tokenizer(files);
    const local = s.endpoint === LOCAL_ENDPOINT;
    this.current = {
      id: hubId(s),
      name: local ? `${s.repo} (imported)` : `${s.repo}@${s.revision || 'main'}`,
      config: m.config,
      tok,
      base: () => m.weights,
    };
    return this.current;
  }

  /**
   * Imports a model picked from disk (an exported folder or zip, any Hugging Face GPT-2 folder) into the cache, or a
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
    };
    const got = await importModel(this.cache, files, { base, onProgress });
    const m = got.model;
    // stored, and loadable by the CLI; the studio's panels take the Llama family in the next step
    if (isLlama(m.config))
      throw new Error(
        `${got.repo} is a ${m.config.model_type} model: it is stored, but the studio trains GPT-2 models only so far (npm run finetune -- --model FOLDER trains it)`,
      );
    return {
      model: this.use({ endpoint: LOCAL_ENDPOINT, repo: got.repo, revision: got.revision }, { ...m, config: m.config }),
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
