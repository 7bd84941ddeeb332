// The studio's engine side, owned by the worker: one module per concern, each with its own state — the backend
// (backend.ts), the dataset (data.ts), the runs and their training (runs.ts), chat (chat.ts), exports (exports.ts)
// and models (models.ts) — composed here, where the model changes that touch several of them are made. It talks to
// the UI only through `post` with FromWorker messages.
import type { ModelSpec } from '../src/engine/artifacts/model.js';
import type { Message } from '../src/engine/data/template.js';
import type { Tokenizer } from '../src/engine/data/tokenizer.js';
import { initLora, type Weights } from '../src/engine/models/init.js';
import { countParams } from '../src/engine/models/gpt2.js';
import { familyOf, maxPositions } from '../src/engine/models/family.js';
import { loraOfRank } from '../src/engine/models/lora.js';
import type { WebBackendOptions } from '../src/engine/runtime/web.js';
import { RunStorage, storageEstimate } from '../src/engine/storage/runs.js';
import {
  type BackendChoice,
  type ChatSettings,
  type ChatWeights,
  type FromWorker,
  type HubSource,
} from '../src/protocol.js';
import { StudioBackend } from './backend.js';
import { StudioChat } from './chat.js';
import { StudioData } from './data.js';
import { StudioExports } from './exports.js';
import { Models, modelTemplate } from './models.js';
import { StudioRuns, type ModelAccess } from './runs.js';

export class Studio {
  readonly models: Models;
  readonly backend: StudioBackend;
  readonly data: StudioData;
  readonly runs: StudioRuns;
  readonly exports: StudioExports;
  private readonly chatter: StudioChat;
  /** The current model as the runs, the exports and chat use it. */
  private readonly access: ModelAccess;

  constructor(
    private readonly post: (m: FromWorker) => void,
    tinyTokenizer: Tokenizer,
    web: WebBackendOptions,
  ) {
    this.models = new Models(tinyTokenizer);
    const storage = new RunStorage();
    this.chatter = new StudioChat(post, storage);
    this.backend = new StudioBackend(post, web, () => this.chatter.forgetAll());
    this.data = new StudioData(post, () => this.models.current);
    const access: ModelAccess = (this.access = {
      current: () => this.models.current,
      spec: (s) => ({ config: this.models.current.config, lora: loraOfRank(this.models.current.config, s.loraRank) }),
      baseWeights: (m, seed) => this.baseWeights(m, seed),
      ensure: (id) => this.ensureModel(id),
    });
    this.runs = new StudioRuns(
      post,
      storage,
      this.backend,
      this.data,
      access,
      () => this.chatter.forgetCheckpoint(),
      (e) => this.reportStorage(e),
    );
    this.exports = new StudioExports(post, this.runs, access);
  }

  /** Tells the UI which model is current. */
  postModel(): void {
    const m = this.models.current;
    this.post({
      type: 'model',
      model: {
        id: m.id,
        name: m.name,
        params: countParams(familyOf(m.config).params(m.config)),
        nPositions: maxPositions(m.config),
        family: familyOf(m.config).label(m.config),
        config: m.config,
        template: m.template,
      },
    });
  }

  /** Switches the model (a Hub download, or the tiny one when `source` is null). */
  async loadModel(source: HubSource | null): Promise<void> {
    if (await this.runs.active()) throw new Error('pause or stop the run before changing the model');
    if (!source) this.models.useTiny();
    else {
      try {
        await this.models.load(source, (progress) => this.post({ type: 'download', progress }));
      } catch (e) {
        this.post({ type: 'download-failed', message: (e as Error).message });
        this.post({ type: 'cache', models: await this.models.list() }); // a partial file shows as such
        await this.reportStorage();
        return;
      }
    }
    await this.modelChanged();
  }

  /** After the current model changed: drop what belonged to the old one, tell the page, re-cut the data with the new tokenizer. */
  private async modelChanged(): Promise<void> {
    this.chatter.forgetAll();
    this.runs.dropLive();
    this.postModel();
    this.post({ type: 'cache', models: await this.models.list() });
    await this.reportStorage();
    this.data.useModel(this.models.current.template); // new tokenizer and its template, new rows
  }

  /** Imports a model (or a PEFT adapter onto the current one) picked from disk, and makes it current. */
  async importModel(files: { path: string; file: Blob }[]): Promise<void> {
    if (await this.runs.active())
      return this.post({ type: 'import-failed', message: 'pause or stop the run before changing the model' });
    let got;
    try {
      got = await this.models.importFrom(
        files.map((f) => ({ path: f.path, blob: f.file })),
        (done, total) => this.post({ type: 'import-progress', done, total }),
      );
    } catch (e) {
      this.post({ type: 'import-failed', message: (e as Error).message });
      await this.reportStorage();
      return;
    }
    this.post({ type: 'import-done', name: got.model.name, kind: got.kind });
    await this.modelChanged();
  }

  /** The run's base model, current again (from the cache: no request to the Hub). */
  private async ensureModel(id: string): Promise<void> {
    if (this.models.current.id === id) return;
    await this.models.ensure(id, (progress) => this.post({ type: 'download', progress }));
    this.chatter.forgetAll();
    this.postModel();
  }

  private baseWeights(m: ModelSpec, seed: number): Weights {
    return { ...this.models.current.base(), ...(m.lora ? initLora(m.config, m.lora, seed) : {}) };
  }

  setBackend(choice: BackendChoice): void {
    this.backend.set(choice, !!this.runs.trainer);
  }

  /** Fault drill (tests, and anyone checking recovery): loses the GPU device as a driver reset would. */
  async loseDevice(): Promise<void> {
    const b = this.runs.trainBackend ?? (await this.backend.get()); // the device the run is on
    if (!b.destroyDevice) throw new Error(`the ${b.name} backend has no GPU device to lose`);
    b.destroyDevice();
  }

  async reportStorage(error: string | null = null): Promise<void> {
    const est = await storageEstimate();
    this.post({ type: 'storage', ...est, error });
  }

  /** A reply with the current run's weights, or the base model's to compare. */
  async chat(id: number, messages: Message[], s: ChatSettings, weights: ChatWeights): Promise<void> {
    const backend = await this.backend.get();
    const run = this.runs.run;
    if (run) await this.ensureModel(run.model);
    const model = this.access.spec({ loraRank: run?.settings.loraRank ?? 0 });
    await this.chatter.reply(
      id,
      messages,
      s,
      {
        backend,
        model,
        modelId: this.models.current.id,
        tok: this.models.current.tok,
        template: run ? modelTemplate(this.models.current, run.template) : this.data.template,
        live: this.runs.trainer ?? this.runs.liveTrainer,
        run,
        baseWeights: () => this.baseWeights(model, run?.settings.seed ?? 0),
      },
      weights,
    );
  }

  stopChat(id: number): void {
    this.chatter.stop(id);
  }
}
