// The studio's runs: the current run's lifecycle (start, the training loop streaming metrics, checkpoints to
// IndexedDB, pause, resume, stop, reopening after a reload) and the stored runs (list, rename, delete, loss curves
// to overlay). The trainer that finished last keeps its device weights for chat until another run replaces it.
import type { ModelSpec } from '../src/engine/artifacts/model.js';
import { textRows } from '../src/engine/data/rows.js';
import { countParams } from '../src/engine/models/gpt2.js';
import { familyOf, maxPositions } from '../src/engine/models/family.js';
import type { Weights } from '../src/engine/models/init.js';
import { estimateMemory } from '../src/engine/models/memory.js';
import { fitProblems } from '../src/engine/train/fit.js';
import type { Backend } from '../src/engine/runtime/backend.js';
import { freeBytes } from '../src/engine/storage/chunks.js';
import { RunStorage, StorageError } from '../src/engine/storage/runs.js';
import type { Checkpoint, CheckpointSnapshot } from '../src/engine/train/checkpoint.js';
import { Trainer } from '../src/engine/train/trainer.js';
import { bestEval, type FromWorker, type RunCurve, type RunState, type TrainSettings } from '../src/protocol.js';
import { problemList, settingsProblems } from '../src/settings.js';
import { choiceOf, type StudioBackend } from './backend.js';
import type { StudioData } from './data.js';
import { studioTrainConfig } from './exports.js';
import type { LoadedModel } from './models.js';

/** What the runs need of the current model (the Studio owns it). */
export interface ModelAccess {
  current(): LoadedModel;
  spec(s: Pick<TrainSettings, 'loraRank'>): ModelSpec;
  /** The base weights plus fresh adapters (LoRA's B is zero: the adapter is off). */
  baseWeights(m: ModelSpec, seed: number): Weights;
  /** Makes the run's base model current again (from the cache). */
  ensure(id: string): Promise<void>;
}

export class StudioRuns {
  /** The run shown in the studio. */
  run: RunState | null = null;
  /** The trainer of the run going now (training or paused). */
  trainer: Trainer | null = null;
  /** The trainer that finished last: its device weights serve chat until another run replaces it. */
  liveTrainer: Trainer | null = null;
  /** The backend the current trainer runs on. */
  trainBackend: Backend | null = null;
  /** Settles when the current trainer's loop has ended (its run shows finished a moment before). */
  private trainEnded: Promise<void> = Promise.resolve();

  constructor(
    private readonly post: (m: FromWorker) => void,
    readonly storage: RunStorage,
    private readonly backend: StudioBackend,
    private readonly data: StudioData,
    private readonly models: ModelAccess,
    /** The weights chat uploaded from a checkpoint are out of date. */
    private readonly checkpointChanged: () => void,
    private readonly reportStorage: (error?: string | null) => Promise<void>,
  ) {}

  /** A speed measurement under way (it holds the backend as a run would). */
  private measuring = false;

  async start(settings: TrainSettings): Promise<void> {
    if (this.trainer) throw new Error('a run is already going: stop it first');
    if (this.measuring) throw new Error('the speed is being measured: wait a moment');
    if (!this.data.dataset) throw new Error('load a dialogue file first');
    const wrong = problemList(
      settingsProblems(settings, {
        nPositions: maxPositions(this.models.spec(settings).config),
        validationRows: this.data.dataset.summary.validationRows,
      }),
    );
    if (wrong.length) throw new Error(`This run cannot start: ${wrong.join(' ')}`);
    this.data.recut(settings.seq); // rows depend on the sequence length
    const data = this.data.dataset;
    if (data.train[0]?.tokens.length !== settings.seq + 1) {
      throw new Error(
        `${data.summary.file} could not be cut to ${settings.seq}-token rows (see the Data panel); change the sequence length`,
      );
    }
    await this.refuseWhatCannotFit(settings);
    const id = `run-${Date.now().toString(36)}`;
    const src = this.data.source;
    const run: RunState = (this.run = {
      id,
      template: this.data.template.source,
      createdAt: Date.now(),
      model: this.models.current().id,
      dataset: data.summary.file,
      settings,
      status: 'training',
      step: 0,
      checkpointStep: 0,
      dataOptions: src
        ? { lossOn: src.options.lossOn, overflow: src.options.overflow, pack: src.options.pack }
        : undefined,
      lastLoss: null,
      bestEval: null,
      steps: [],
      evals: [],
      samples: [],
      error: null,
      elapsedMs: 0,
      etaMs: null,
    });
    const { summary, train, validation, samplePrompts, trainedRecords } = data;
    await this.guardStorage(() =>
      this.storage.saveDataset(id, { summary, train, validation, samplePrompts, trainedRecords }),
    );
    await this.guardStorage(() => this.storage.saveRun(run));
    this.post({ type: 'run', run });
    this.post({ type: 'runs', runs: await this.storage.listRuns() });
    await this.train(undefined);
  }

  /**
   * Times the current model's training at `settings` on the backend: one step to compile, two timed, on random
   * tokens, nothing stored; posts `speed`. Refused while a run trains (its own steps measure it) or would not fit.
   */
  async measure(settings: TrainSettings): Promise<void> {
    if (this.trainer || this.measuring)
      throw new Error('a run is training or being measured: its own steps give the speed');
    const wrong = problemList(
      settingsProblems(settings, { nPositions: maxPositions(this.models.spec(settings).config) }),
    );
    if (wrong.length) throw new Error(`cannot measure these settings: ${wrong.join(' ')}`);
    this.measuring = true;
    try {
      await this.refuseWhatCannotFit(settings);
      const backend = await this.backend.get();
      const model = this.models.spec(settings);
      const V = model.config.vocab_size;
      const train = textRows(
        Array.from({ length: 3 * settings.batch * (settings.seq + 1) }, (_, i) => (i * 7919) % V),
        settings.seq,
      );
      const config = {
        ...studioTrainConfig(settings),
        steps: 3,
        warmupSteps: 0,
        evalEvery: 0,
        sampleEvery: 0,
        checkpointEvery: 0,
      };
      const trainer = new Trainer({
        backend,
        model,
        weights: this.models.baseWeights(model, settings.seed),
        train,
        config,
        padId: this.models.current().tok.padId,
      });
      const timed: number[] = [];
      try {
        for await (const e of trainer.run()) {
          if (e.type === 'error') throw new Error(e.message);
          if (e.type !== 'step' || e.step === 1) continue; // the first step compiles the kernels
          timed.push(e.tokensPerSecond);
          if (e.step === config.steps) break; // before the end-of-run checkpoint
        }
      } finally {
        await trainer.release();
      }
      const tokensPerSecond = timed.reduce((a, b) => a + b, 0) / timed.length;
      this.post({
        type: 'speed',
        backend: choiceOf(backend),
        lora: !!model.lora,
        tokensPerSecond,
        params: countParams(familyOf(model.config).params(model.config)),
      });
    } finally {
      this.measuring = false;
    }
  }

  /** Refuses, before anything starts, a run that the backend's memory or the free storage cannot hold. */
  private async refuseWhatCannotFit(s: TrainSettings): Promise<void> {
    const backend = await this.backend.get();
    const spec = this.models.spec(s);
    const problems = fitProblems(
      estimateMemory(spec.config, s.batch, s.seq, spec.lora, { flatParams: backend.target.flatParams }),
      s.batch,
      s.seq,
      {
        backend: choiceOf(backend),
        adapter: backend.bufferLimits ?? null,
        freeStorage: await freeBytes(),
      },
      !!spec.lora,
    );
    if (problems.length) throw new Error(`This run cannot start: ${problems.join(' ')}`);
  }

  /** Runs (or resumes) the current run's trainer until it ends, streaming events to the UI. */
  private async train(resume: Checkpoint | undefined): Promise<void> {
    const run = this.run!;
    const data = this.data.dataset!;
    const s = run.settings;
    const model = this.models.spec(s);
    const backend = await this.backend.get();
    const tok = this.models.current().tok;
    this.trainBackend = backend;
    this.checkpointChanged();
    let trainer: Trainer;
    try {
      trainer = new Trainer({
        backend,
        model,
        weights: this.models.baseWeights(model, s.seed),
        train: data.train,
        validation: data.validation,
        padId: tok.padId,
        resume,
        config: studioTrainConfig(s),
        samples: data.samplePrompts.length
          ? { prompts: data.samplePrompts.map((p) => p.ids), tokenizer: tok }
          : undefined,
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
            const point = {
              step: e.step,
              loss: e.loss,
              lr: e.lr,
              gradNorm: e.gradNorm,
              tokensPerSecond: e.tokensPerSecond,
              readBackBytes: e.readBackBytes,
              weightsOnDevice: e.weightsOnDevice,
              deviceMemory: e.deviceMemory,
            };
            run.steps.push(point);
            run.step = e.step;
            run.lastLoss = e.loss;
            run.elapsedMs = e.elapsedMs;
            run.etaMs = e.etaMs;
            this.post({ type: 'step', point, elapsedMs: e.elapsedMs, etaMs: e.etaMs });
            break;
          }
          case 'eval': {
            const point = { step: e.step, loss: e.loss };
            run.evals.push(point);
            run.bestEval = bestEval(run.evals);
            this.post({ type: 'eval', point });
            break;
          }
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
            if (e.code === 'DEVICE_LOST') this.backend.drop();
            break;
          case 'start':
            break;
        }
      }
    } finally {
      // Keep the live weights for chat until another run replaces them; free the trainer's other buffers later.
      this.trainer = null;
      ended();
      // not awaited: freeing the old trainer's buffers need not hold up saving the run (a failure still surfaces)
      void this.liveTrainer?.release();
      this.liveTrainer = trainer;
      await this.guardStorage(() => this.storage.saveRun(run));
      this.post({ type: 'runs', runs: await this.storage.listRuns() });
    }
  }

  /** Marks `run` failed with `message` (the trainer could not start, say) and keeps it stored. */
  private async fail(run: RunState, message: string): Promise<void> {
    run.error = message;
    this.setStatus(run, 'failed');
    await this.guardStorage(() => this.storage.saveRun(run));
  }

  /** True while a run trains or is paused; a finished run's trainer is waited for (it is only wrapping up). */
  async active(): Promise<boolean> {
    if (!this.trainer) return false;
    if (this.run?.status === 'training' || this.run?.status === 'paused') return true;
    await this.trainEnded;
    return false;
  }

  /** The finished run's trainer is of no use any more (another model, another run). */
  dropLive(): void {
    void this.liveTrainer?.release(); // freed in the background, as above
    this.liveTrainer = null;
  }

  private setStatus(run: RunState, status: RunState['status']): void {
    run.status = status;
    this.postStatus(run);
  }

  private postStatus(run: RunState): void {
    this.post({
      type: 'run-status',
      status: run.status,
      step: run.step,
      checkpointStep: run.checkpointStep,
      error: run.error,
      checkpointError: run.checkpointError ?? null,
    });
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
    await this.models.ensure(run.model);
    const ck = await this.storage.loadCheckpoint(run.id);
    const data = await this.storage.loadDataset(run.id);
    if (!data) throw new Error('the tokenized dataset of this run is missing from storage');
    this.data.dataset = data;
    // continue from the checkpoint: the metrics after it are replayed by the resumed trainer
    const at = ck?.step ?? 0;
    run.steps = run.steps.filter((p) => p.step <= at);
    run.evals = run.evals.filter((p) => p.step <= at);
    run.samples = run.samples.filter((p) => p.step <= at);
    run.bestEval = bestEval(run.evals);
    run.step = at;
    run.error = null;
    this.post({ type: 'run', run });
    await this.train(ck);
  }

  stop(): void {
    this.trainer?.stop();
  }

  /** Reopens a stored run (after a reload, or from the list): its chart, samples and status. */
  async open(id: string): Promise<void> {
    if (this.run?.id === id) return this.post({ type: 'run', run: this.run }); // already open (a run started before the page asked)
    if (this.trainer) throw new Error('pause or stop the current run first');
    const run = await this.storage.loadRun(id);
    if (!run) throw new Error(`run ${id} is not in storage`);
    if (run.status === 'training' || run.status === 'paused') run.status = 'interrupted'; // the page went away mid-run
    this.run = run;
    this.checkpointChanged();
    this.dropLive();
    const data = await this.storage.loadDataset(id);
    if (data) this.data.useStored(data);
    this.post({ type: 'run', run });
  }

  async delete(id: string): Promise<void> {
    if (this.run?.id === id && this.trainer) throw new Error('stop the run before deleting it');
    await this.storage.deleteRun(id);
    if (this.run?.id === id) this.run = null;
    this.post({ type: 'runs', runs: await this.storage.listRuns() });
    await this.reportStorage();
  }

  async rename(id: string, name: string): Promise<void> {
    const trimmed = name.trim().slice(0, 120);
    const run = this.run?.id === id ? this.run : await this.storage.loadRun(id);
    if (!run) throw new Error(`run ${id} is not in storage`);
    run.name = trimmed || undefined;
    await this.guardStorage(() => this.storage.saveRun(run));
    if (run === this.run) this.post({ type: 'run', run });
    this.post({ type: 'runs', runs: await this.storage.listRuns() });
  }

  /** The loss curves of stored runs, for the overlay chart (the current run's as it is in memory). */
  async curves(ids: string[]): Promise<void> {
    const curves: RunCurve[] = [];
    for (const id of ids) {
      const run = this.run?.id === id ? this.run : await this.storage.loadRun(id);
      if (!run) continue;
      curves.push({
        id,
        steps: run.steps.map((p) => ({ step: p.step, loss: p.loss })),
        evals: run.evals,
      });
    }
    this.post({ type: 'run-curves', curves });
  }

  list() {
    return this.storage.listRuns();
  }

  async guardStorage(f: () => Promise<void>): Promise<void> {
    try {
      await f();
    } catch (e) {
      if (!(e instanceof StorageError)) throw e;
      await this.reportStorage(e.message);
    }
  }
}
