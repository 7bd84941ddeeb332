// The studio's engine side, owned by the worker: the backend and its GPU buffers, the loaded dataset, the current
// run (trainer, metrics, checkpoints in IndexedDB), restoring and resuming a run after a reload, and chat on the
// current weights. It talks to the UI only through `post` with FromWorker messages.
import type { ModelSpec } from '../src/engine/artifacts/model.js';
import { decodeText } from '../src/engine/data/formats.js';
import { prepareDataset } from '../src/engine/data/prepare.js';
import { rejection, storedDataset } from './data.js';
import { ChatTemplate, type Message } from '../src/engine/data/template.js';
import { StudioChat } from './chat.js';
import type { Tokenizer } from '../src/engine/data/tokenizer.js';
import { initLora, type Weights } from '../src/engine/models/init.js';
import { countParams, gpt2Params } from '../src/engine/models/gpt2.js';
import { estimateMemory, fitProblems } from '../src/engine/models/memory.js';
import { freeBytes } from '../src/engine/storage/chunks.js';
import { BASE_SEED, Models } from './models.js';
import type { Backend } from '../src/engine/runtime/backend.js';
import { createWasmBackend, createWebGpuBackend, type WebBackendOptions } from '../src/engine/runtime/web.js';
import { RunStorage, StorageError, storageEstimate, type StoredDataset } from '../src/engine/storage/runs.js';
import type { Checkpoint, CheckpointSnapshot } from '../src/engine/train/checkpoint.js';
import { Trainer } from '../src/engine/train/trainer.js';
import { totalSize } from '../src/engine/export/files.js';
import type { ExportSource } from '../src/engine/export/hf.js';
import { ExportCancelled, zipBlob } from '../src/engine/export/zip.js';
import { fmtSize } from '../src/engine/util/size.js';
import { chatVendorFetcher, exportFiles, ExportRefused, runFacts, studioTrainConfig } from './exports.js';
import { studioLora, type ExportKind, type BackendChoice, type ChatSettings, type DataOptions, type FromWorker, type RunState, type TrainSettings } from '../src/protocol.js';

export class Studio {
  private backendChoice: BackendChoice = 'webgpu';
  private backend: Promise<Backend> | null = null;
  private dataset: StoredDataset | null = null;
  /** The file the dataset came from, to re-cut it for other options or another sequence length. */
  private source: { file: string; text: string; options: DataOptions; seq: number } | null = null;
  private template = new ChatTemplate();
  private run: RunState | null = null;
  private trainer: Trainer | null = null;
  private readonly storage = new RunStorage();
  private readonly chatter = new StudioChat((m) => this.post(m), this.storage);
  readonly models: Models;

  constructor(
    private readonly post: (m: FromWorker) => void,
    tinyTokenizer: Tokenizer,
    private readonly web: WebBackendOptions,
  ) {
    this.models = new Models(tinyTokenizer);
  }

  private get tok(): Tokenizer {
    return this.models.current.tok;
  }

  /** Tells the UI which model is current. */
  postModel(): void {
    const m = this.models.current;
    this.post({ type: 'model', model: { id: m.id, name: m.name, params: countParams(gpt2Params(m.config)), nPositions: m.config.n_positions, config: m.config } });
  }

  /** Switches the model (a Hub download, or the tiny one when `source` is null). */
  async loadModel(source: import('../src/protocol.js').HubSource | null): Promise<void> {
    if (await this.runActive()) throw new Error('pause or stop the run before changing the model');
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
    this.chatter.forgetCheckpoint();
    this.liveTrainer?.release();
    this.liveTrainer = null;
    this.postModel();
    this.post({ type: 'cache', models: await this.models.list() });
    await this.reportStorage();
    if (this.source) this.loadData(this.source.file, this.source.text, this.source.options, this.source.seq); // new tokenizer, new rows
  }

  /** Imports a model (or a PEFT adapter onto the current one) picked from disk, and makes it current. */
  async importModel(files: { path: string; file: Blob }[]): Promise<void> {
    if (await this.runActive()) return this.post({ type: 'import-failed', message: 'pause or stop the run before changing the model' });
    let got;
    try {
      got = await this.models.importFrom(files.map((f) => ({ path: f.path, blob: f.file })), (done, total) => this.post({ type: 'import-progress', done, total }));
    } catch (e) {
      this.post({ type: 'import-failed', message: (e as Error).message });
      await this.reportStorage();
      return;
    }
    this.post({ type: 'import-done', name: got.model.name, kind: got.kind });
    await this.modelChanged();
  }

  // ------------------------------------------------------------------------------------------- backend
  setBackend(choice: BackendChoice): void {
    if (choice === this.backendChoice && this.backend) return; // already the one in use
    if (this.trainer) throw new Error('pause or stop the run before changing the backend');
    this.backendChoice = choice;
    this.dropBackend();
    void this.getBackend().catch((e: Error) => this.post({ type: 'error', context: 'backend', message: e.message }));
  }

  private dropBackend(): void {
    this.backend = null;
    this.backendGeneration++;
    this.chatter.forgetCheckpoint();
  }
  /** Bumped whenever the backend is dropped: a backend made for an older generation is stale. */
  private backendGeneration = 0;

  private getBackend(): Promise<Backend> {
    if (this.backend) return this.backend;
    const generation = this.backendGeneration;
    const current = () => generation === this.backendGeneration;
    this.backend = (async () => {
      const b = this.backendChoice === 'webgpu' ? await createWebGpuBackend(this.web) : await createWasmBackend(this.web);
      b.onDeviceLost?.((reason) => {
        if (current()) this.dropBackend(); // the next use makes a new device
        this.post({ type: 'error', context: 'device', message: `The GPU device was lost (${reason}). Resume continues the run from its last checkpoint on a new device.` });
      });
      // a backend replaced while it was being made (the person chose another) must not announce itself
      if (current()) this.post({ type: 'backend', backend: b.name === 'webgpu' ? 'webgpu' : 'wasm', description: b.description });
      return b;
    })();
    return this.backend;
  }

  /** Fault drill (tests, and anyone checking recovery): loses the GPU device as a driver reset would. */
  async loseDevice(): Promise<void> {
    const b = this.trainBackend ?? (await this.getBackend()); // the device the run is on
    if (!b.destroyDevice) throw new Error(`the ${b.name} backend has no GPU device to lose`);
    b.destroyDevice();
  }

  // ------------------------------------------------------------------------------------------- data
  loadFile(file: string, bytes: ArrayBuffer, options: DataOptions, seq: number): void {
    let text: string;
    try {
      text = decodeText(new Uint8Array(bytes), file);
    } catch (e) {
      const refused = rejection(file, e);
      if (!refused) throw e;
      return this.post(refused);
    }
    this.loadData(file, text, options, seq);
  }

  /** Re-reads the loaded file with new options (format, columns, loss mode, template...). */
  setDataOptions(options: DataOptions, seq: number): void {
    if (!this.source) throw new Error('load a dialogue file first');
    this.loadData(this.source.file, this.source.text, options, seq);
  }

  private loadData(file: string, text: string, options: DataOptions, seq: number): void {
    let template: ChatTemplate;
    try {
      template = new ChatTemplate(options.template);
    } catch (e) {
      return this.post({ type: 'error', context: 'chat template', message: `the template does not parse: ${(e as Error).message}` });
    }
    try {
      const progress = (stage: 'reading' | 'tokenizing') => (done: number, total: number) => this.post({ type: 'data-progress', file, stage, done, total });
      const d = prepareDataset(text, file, this.tok, template, {
        ...options, seq, seed: BASE_SEED, samplePrompts: 2, onProgress: progress('reading'), onTokenize: progress('tokenizing'),
      });
      this.template = template;
      this.dataset = storedDataset(file, d);
      this.source = { file, text, options, seq };
      this.post({ type: 'data-loaded', summary: this.dataset.summary });
    } catch (e) {
      const refused = rejection(file, e);
      if (!refused) throw e;
      this.post(refused); // the dataset loaded before stays
    }
  }

  // ------------------------------------------------------------------------------------------- runs
  async startRun(settings: TrainSettings): Promise<void> {
    if (this.trainer) throw new Error('a run is already going: stop it first');
    if (!this.dataset) throw new Error('load a dialogue file first');
    // rows depend on the sequence length: re-cut the file when the run asks for another one
    const src = this.source;
    if (src && src.seq !== settings.seq) this.loadData(src.file, src.text, src.options, settings.seq);
    const data = this.dataset!;
    if (data.train[0]?.tokens.length !== settings.seq + 1) {
      throw new Error(`${data.summary.file} could not be cut to ${settings.seq}-token rows (see the Data panel); change the sequence length`);
    }
    await this.refuseWhatCannotFit(settings);
    const id = `run-${Date.now().toString(36)}`;
    const run: RunState = (this.run = {
      id, template: this.template.source, createdAt: Date.now(), model: this.models.current.id, dataset: data.summary.file, settings, status: 'training', step: 0, checkpointStep: 0,
      dataOptions: src ? { lossOn: src.options.lossOn, overflow: src.options.overflow, pack: src.options.pack } : undefined,
      lastLoss: null, steps: [], evals: [], samples: [], error: null, elapsedMs: 0, etaMs: null,
    });
    const { summary, train, validation, samplePrompts, trainedRecords } = data;
    await this.guardStorage(() => this.storage.saveDataset(id, { summary, train, validation, samplePrompts, trainedRecords }));
    await this.guardStorage(() => this.storage.saveRun(run));
    this.post({ type: 'run', run });
    await this.train(undefined);
  }

  /** Refuses, before anything starts, a run that the backend's memory or the free storage cannot hold. */
  private async refuseWhatCannotFit(s: TrainSettings): Promise<void> {
    const backend = await this.getBackend();
    const spec = this.modelSpec(s);
    const problems = fitProblems(estimateMemory(spec.config, s.batch, s.seq, spec.lora, { flatParams: backend.target.flatParams }), s.batch, s.seq, {
      backend: backend.name === 'webgpu' ? 'webgpu' : 'wasm', adapter: backend.bufferLimits ?? null, freeStorage: await freeBytes(),
    }, !!spec.lora);
    if (problems.length) throw new Error(`This run cannot start: ${problems.join(' ')}`);
  }

  /** Marks `run` failed with `message` (the trainer could not start, say) and keeps it stored. */
  private async fail(run: RunState, message: string): Promise<void> {
    run.error = message;
    this.setStatus(run, 'failed');
    await this.guardStorage(() => this.storage.saveRun(run));
  }

  private modelSpec(s: TrainSettings): ModelSpec {
    return { config: this.models.current.config, lora: studioLora(s.loraRank) };
  }

  private baseWeights(m: ModelSpec, seed: number): Weights {
    return { ...this.models.current.base(), ...(m.lora ? initLora(m.config, m.lora, seed) : {}) };
  }

  /** Runs (or resumes) the current run's trainer until it ends, streaming events to the UI. */
  private async train(resume: Checkpoint | undefined): Promise<void> {
    const run = this.run!;
    const data = this.dataset!;
    const s = run.settings;
    const model = this.modelSpec(s);
    const backend = await this.getBackend();
    this.trainBackend = backend;
    this.chatter.forgetCheckpoint();
    let trainer: Trainer;
    try {
      trainer = new Trainer({
      backend, model, weights: this.baseWeights(model, s.seed), train: data.train, validation: data.validation, padId: this.tok.eosId, resume,
      config: studioTrainConfig(s),
      samples: data.samplePrompts.length ? { prompts: data.samplePrompts.map((p) => p.ids), tokenizer: this.tok } : undefined,
      });
    } catch (e) {
      return this.fail(run, (e as Error).message);
    }
    this.trainer = trainer;
    let ended!: () => void;
    this.trainEnded = new Promise((r) => (ended = r));
    this.setStatus(run, 'training');
    try {
      for await (const e of trainer.run()) {
        switch (e.type) {
          case 'step': {
            const point = { step: e.step, loss: e.loss, lr: e.lr, gradNorm: e.gradNorm, tokensPerSecond: e.tokensPerSecond, readBackBytes: e.readBackBytes, weightsOnDevice: e.weightsOnDevice, deviceMemory: e.deviceMemory };
            run.steps.push(point);
            run.step = e.step;
            run.lastLoss = e.loss;
            run.elapsedMs = e.elapsedMs;
            run.etaMs = e.etaMs;
            this.post({ type: 'step', point, elapsedMs: e.elapsedMs, etaMs: e.etaMs });
            break;
          }
          case 'eval':
            run.evals.push({ step: e.step, loss: e.loss });
            this.post({ type: 'eval', point: { step: e.step, loss: e.loss } });
            break;
          case 'sample': {
            const sample = { step: e.step, prompt: data.samplePrompts[e.prompt]?.text ?? '', text: e.text };
            run.samples.push(sample);
            this.post({ type: 'sample', sample });
            break;
          }
          case 'checkpoint':
            await this.saveCheckpoint(run, e.checkpoint);
            break;
          case 'paused':
            this.setStatus(run, 'paused');
            break;
          case 'resumed':
            this.setStatus(run, 'training');
            break;
          case 'done':
            this.setStatus(run, e.reason === 'completed' ? 'completed' : 'stopped');
            break;
          case 'error':
            run.error = e.message;
            this.setStatus(run, 'failed');
            if (e.code === 'DEVICE_LOST') this.dropBackend();
            break;
          case 'start':
            break;
        }
      }
    } finally {
      // Keep the live weights for chat until another run replaces them; free the trainer's other buffers later.
      this.trainer = null;
      ended();
      this.liveTrainer?.release();
      this.liveTrainer = trainer;
      await this.guardStorage(() => this.storage.saveRun(run));
      this.post({ type: 'runs', runs: await this.storage.listRuns() });
    }
  }
  private liveTrainer: Trainer | null = null;
  /** Settles when the current trainer's loop has ended (its run shows finished a moment before). */
  private trainEnded: Promise<void> = Promise.resolve();

  /** True while a run trains or is paused; a finished run's trainer is waited for (it is only wrapping up). */
  private async runActive(): Promise<boolean> {
    if (!this.trainer) return false;
    if (this.run?.status === 'training' || this.run?.status === 'paused') return true;
    await this.trainEnded;
    return false;
  }
  /** The backend the current trainer runs on. */
  private trainBackend: Backend | null = null;

  private setStatus(run: RunState, status: RunState['status']): void {
    run.status = status;
    this.postStatus(run);
  }

  private postStatus(run: RunState): void {
    this.post({ type: 'run-status', status: run.status, step: run.step, checkpointStep: run.checkpointStep, error: run.error, checkpointError: run.checkpointError ?? null });
  }

  /**
   * Streams the trainer's snapshot into storage (the trainer waits meanwhile). A failed save is shown with the run,
   * saying which step is lost and where a reload would resume; training goes on.
   */
  private async saveCheckpoint(run: RunState, snap: CheckpointSnapshot): Promise<void> {
    try {
      await this.storage.saveCheckpoint(run.id, snap);
      run.checkpointStep = snap.step;
      run.checkpointError = null;
      await this.storage.saveRun(run);
    } catch (e) {
      if (!(e instanceof StorageError)) throw e;
      run.checkpointError = `step ${snap.step} was not saved: ${e.message} A reload would resume from step ${run.checkpointStep}.`;
      await this.reportStorage(e.message);
    }
    this.postStatus(run);
  }

  pause(): void {
    this.trainer?.pause();
  }

  async resume(): Promise<void> {
    if (this.trainer) return this.trainer.resume();
    const run = this.run;
    if (!run) throw new Error('no run to resume');
    if (run.status === 'completed') throw new Error('this run is complete; start a new one to train more');
    await this.ensureModel(run.model);
    const ck = await this.storage.loadCheckpoint(run.id);
    const data = await this.storage.loadDataset(run.id);
    if (!data) throw new Error('the tokenized dataset of this run is missing from storage');
    this.dataset = data;
    // continue from the checkpoint: the metrics after it are replayed by the resumed trainer
    const at = ck?.step ?? 0;
    run.steps = run.steps.filter((p) => p.step <= at);
    run.evals = run.evals.filter((p) => p.step <= at);
    run.samples = run.samples.filter((p) => p.step <= at);
    run.step = at;
    run.error = null;
    this.post({ type: 'run', run });
    await this.train(ck);
  }

  stop(): void {
    this.trainer?.stop();
  }

  /** The run's base model, current again (from the cache: no request to the Hub). */
  private async ensureModel(id: string): Promise<void> {
    if (this.models.current.id === id) return;
    await this.models.ensure(id, (progress) => this.post({ type: 'download', progress }));
    this.chatter.forgetCheckpoint();
    this.postModel();
  }

  /** Reopens a stored run (after a reload, or from the list): its chart, samples and status. */
  async openRun(id: string): Promise<void> {
    if (this.run?.id === id) return this.post({ type: 'run', run: this.run }); // already open (a run started before the page asked)
    if (this.trainer) throw new Error('pause or stop the current run first');
    const run = await this.storage.loadRun(id);
    if (!run) throw new Error(`run ${id} is not in storage`);
    if (run.status === 'training' || run.status === 'paused') run.status = 'interrupted'; // the page went away mid-run
    this.run = run;
    this.chatter.forgetCheckpoint();
    this.liveTrainer?.release();
    this.liveTrainer = null;
    const data = await this.storage.loadDataset(id);
    if (data) {
      this.dataset = data;
      this.post({ type: 'data-loaded', summary: data.summary });
    }
    this.post({ type: 'run', run });
  }

  async deleteRun(id: string): Promise<void> {
    if (this.run?.id === id && this.trainer) throw new Error('stop the run before deleting it');
    await this.storage.deleteRun(id);
    if (this.run?.id === id) this.run = null;
    this.post({ type: 'runs', runs: await this.storage.listRuns() });
    await this.reportStorage();
  }

  async listRuns() {
    return this.storage.listRuns();
  }

  async reportStorage(error: string | null = null): Promise<void> {
    const est = await storageEstimate();
    this.post({ type: 'storage', ...est, error });
  }

  private async guardStorage(f: () => Promise<void>): Promise<void> {
    try {
      await f();
    } catch (e) {
      if (!(e instanceof StorageError)) throw e;
      await this.reportStorage(e.message);
    }
  }

  // ------------------------------------------------------------------------------------------- export
  private exporting: AbortController | null = null;
  private readonly chatVendor = chatVendorFetcher();

  /**
   * Zips an export of the current run from its last saved checkpoint (what a reload would resume from), and hands
   * the zip to the page as a Blob to download. Refused while the run trains (pause it: pausing saves), when the
   * browser's free storage cannot hold the zip, or for an adapter of a full fine-tune; a cancelled export keeps nothing.
   */
  async exportRun(kind: ExportKind, sampling: ChatSettings): Promise<void> {
    const fail = (message: string) => this.post({ type: 'export-failed', kind, message });
    const run = this.run;
    if (!run) return fail('open or train a run first');
    if (this.trainer && run.status === 'training') return fail('pause the run first: pausing saves the checkpoint the export is made from');
    if (this.exporting) return fail('another export is being made; wait for it or cancel it');
    const abort = (this.exporting = new AbortController());
    try {
      await this.ensureModel(run.model);
      const ck = await this.storage.loadCheckpoint(run.id);
      if (!ck) return fail('this run has no saved checkpoint yet');
      const spec = this.modelSpec(run.settings);
      const m = this.models.current;
      const src: ExportSource = {
        config: spec.config, weights: { ...this.baseWeights(spec, run.settings.seed), ...ck.trainable }, tokenizer: { ...m.tok.files }, eosId: m.tok.eosId,
        sampling: { temperature: sampling.temperature, topK: sampling.topK, topP: sampling.topP, repetitionPenalty: sampling.repetitionPenalty, maxNewTokens: sampling.maxNewTokens },
        run: runFacts(run, ck.step, m.name, spec.lora, await this.storage.loadDatasetSummary(run.id)),
      };
      const files = await exportFiles(kind, src, () => this.storage.loadTrainedRecords(run.id), this.chatVendor);
      const need = totalSize(files);
      const free = await freeBytes();
      if (free !== null && free < need) return fail(`the ${kind} export needs ${fmtSize(need)} of browser storage to be assembled, but only ${fmtSize(free)} is free; nothing was written. Free space in the Model panel's cache or delete old runs.`);
      const root = `${run.id}-${kind}`;
      let shown = 0;
      const blob = await zipBlob(files, root, {
        signal: abort.signal,
        onProgress: (done, total) => {
          if (done - shown >= total / 50 || done === total) {
            shown = done;
            this.post({ type: 'export-progress', kind, done, total });
          }
        },
      });
      this.post({ type: 'export-ready', kind, fileName: `${root}.zip`, blob });
    } catch (e) {
      fail(e instanceof ExportCancelled || e instanceof ExportRefused ? e.message : `the export failed: ${(e as Error).message}`);
    } finally {
      if (this.exporting === abort) this.exporting = null;
    }
  }

  cancelExport(): void {
    this.exporting?.abort();
  }

  // ------------------------------------------------------------------------------------------- chat
  async chat(id: number, messages: Message[], s: ChatSettings): Promise<void> {
    const backend = await this.getBackend();
    const run = this.run;
    if (run) await this.ensureModel(run.model);
    const model = this.modelSpec(run?.settings ?? ({ loraRank: 0 } as TrainSettings));
    await this.chatter.reply(id, messages, s, {
      backend, model, modelId: this.models.current.id, tok: this.tok, template: run ? new ChatTemplate(run.template) : this.template,
      live: this.trainer ?? this.liveTrainer, run, baseWeights: () => this.baseWeights(model, run?.settings.seed ?? 0),
    });
  }

  stopChat(id: number): void {
    this.chatter.stop(id);
  }
}
