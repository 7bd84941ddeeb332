// The studio's exports: the facts of a stored run (for model cards, configs and the recipe), the files of each kind
// of export, the files they ship unchanged (the programs, the chat page's runtime) fetched from the studio's own
// origin, and the zip of the current run's last saved checkpoint handed to the page.
import { chatPageFiles } from '../src/engine/export/chat-page.js';
import { ggufFiles } from '../src/engine/export/gguf-export.js';
import type { OutFile } from '../src/engine/util/files.js';
import { hfFolderFiles } from '../src/engine/export/hf.js';
import { peftAdapterFiles } from '../src/engine/export/peft.js';
import { trainFacts, type ExportSource, type RunFacts } from '../src/engine/export/source.js';
import { recipeFiles, type RecipeData } from '../src/engine/export/recipe.js';
import { LOCAL_ENDPOINT } from '../src/engine/hub/import.js';
import type { LoraConfig } from '../src/engine/models/lora.js';
import { DEFAULT_TRAIN, type TrainConfig } from '../src/engine/train/trainer.js';
import { totalSize } from '../src/engine/util/files.js';
import { ExportCancelled, zipBlob } from '../src/engine/export/zip.js';
import {
  CHAT_PAGE_PROGRAM,
  CHAT_VENDOR,
  RECIPE_PROGRAM,
  type LoadShipped,
  type ShippedBytes,
  type ShippedSet,
} from '../src/engine/export/shipped.js';
import { freeBytes } from '../src/engine/storage/chunks.js';
import { fmtSize } from '../src/engine/util/size.js';
import type { ChatSettings, DatasetSummary, ExportKind, FromWorker, RunState, TrainSettings } from '../src/protocol.js';
import { parseModelId } from './models.js';
import type { ModelAccess, StudioRuns } from './runs.js';

/** The trainer's configuration for a studio run's settings (training, and what exports say it was). */
export function studioTrainConfig(s: TrainSettings): TrainConfig {
  return { ...DEFAULT_TRAIN, ...s, evalBatches: 4, sampleMaxTokens: 24, minLrRatio: 0.1 };
}

/** A stored run's facts, up to the checkpoint at `step`. */
export function runFacts(
  run: RunState,
  step: number,
  modelName: string,
  lora: LoraConfig | undefined,
  d: DatasetSummary | undefined,
): RunFacts {
  const hub = parseModelId(run.model);
  const t = studioTrainConfig(run.settings);
  return {
    base:
      hub && hub.endpoint !== LOCAL_ENDPOINT
        ? { name: `${hub.repo}@${hub.revision}`, repo: hub.repo, revision: hub.revision, endpoint: hub.endpoint }
        : { name: modelName },
    dataset: {
      file: run.dataset,
      format: d?.format ?? 'chat',
      kind: d?.kind ?? 'chat',
      records: d?.records ?? 0,
      trainRows: d?.trainRows ?? 0,
      validationRows: d?.validationRows ?? 0,
      trainedTokens: d?.trainedTokens ?? 0,
      totalTokens: d?.totalTokens ?? 0,
      truncated: d?.truncated ?? 0,
      skipped: d?.skipped ?? 0,
    },
    data: {
      lossOn: run.dataOptions?.lossOn ?? 'assistant',
      overflow: run.dataOptions?.overflow ?? 'drop-oldest',
      pack: run.dataOptions?.pack ?? false,
      template: run.template,
    },
    train: trainFacts(t),
    lora,
    step,
    losses: run.steps.filter((p) => p.step <= step).map((p) => ({ step: p.step, loss: p.loss })),
    evals: run.evals.filter((p) => p.step <= step),
  };
}

/** An export that cannot be made, for a reason the person can act on (shown as is). */
export class ExportRefused extends Error {}

/** The files of one kind of export; the recipe's data and the shipped files are asked for only when needed. */
export async function exportFiles(
  kind: ExportKind,
  src: ExportSource,
  records: () => Promise<RecipeData | undefined>,
  load: LoadShipped,
): Promise<OutFile[]> {
  switch (kind) {
    case 'hf':
      return hfFolderFiles(src);
    case 'transformers-js':
      return hfFolderFiles(src, { onnx: true });
    case 'adapter':
      return peftAdapterFiles(src);
    case 'chat-page':
      return chatPageFiles(src, await load(CHAT_PAGE_PROGRAM), await load(CHAT_VENDOR));
    case 'recipe': {
      const data = await records();
      if (!data)
        throw new ExportRefused(
          'this run was stored by an earlier version without its dataset records; train it again to export a recipe',
        );
      return recipeFiles(src, data, await load(RECIPE_PROGRAM));
    }
    case 'gguf':
      return ggufFiles(src, ['f16', 'q8_0'], 'model');
  }
}

/** The shipped files, as the studio serves them (vite.config.ts), fetched once per set and worker. */
export function shippedFetcher(): LoadShipped {
  const sets = new Map<string, Promise<Record<string, Uint8Array>>>();
  const fetchSet = async (set: ShippedSet) => {
    const out: Record<string, Uint8Array> = {};
    for (const f of set.files) {
      const r = await fetch(new URL(`${set.url}${f.name}`, new URL(import.meta.env.BASE_URL, self.location.origin)));
      if (!r.ok)
        throw new Error(
          `${set.url}${f.name} could not be read from the studio (${r.status}); reload the studio and try again`,
        );
      out[f.name] = new Uint8Array(await r.arrayBuffer());
    }
    return out;
  };
  return <S extends ShippedSet>(set: S) => {
    let got = sets.get(set.url);
    if (!got) {
      got = fetchSet(set);
      sets.set(set.url, got);
      got.catch(() => sets.delete(set.url)); // a failed fetch is tried again next time
    }
    return got as Promise<ShippedBytes<S>>;
  };
}

export class StudioExports {
  private exporting: AbortController | null = null;
  private readonly shipped = shippedFetcher();

  constructor(
    private readonly post: (m: FromWorker) => void,
    private readonly runs: StudioRuns,
    private readonly models: ModelAccess,
  ) {}

  /**
   * Zips an export of the current run from its last saved checkpoint (what a reload would resume from), and hands
   * the zip to the page as a Blob to download. Refused while the run trains (pause it: pausing saves), when the
   * browser's free storage cannot hold the zip, or for an adapter of a full fine-tune; a cancelled export keeps nothing.
   */
  async run(kind: ExportKind, sampling: ChatSettings): Promise<void> {
    const fail = (message: string) => this.post({ type: 'export-failed', kind, message });
    const run = this.runs.run;
    if (!run) return fail('open or train a run first');
    if (this.runs.trainer && run.status === 'training')
      return fail('pause the run first: pausing saves the checkpoint the export is made from');
    if (this.exporting) return fail('another export is being made; wait for it or cancel it');
    const abort = (this.exporting = new AbortController());
    const storage = this.runs.storage;
    try {
      await this.models.ensure(run.model);
      const ck = await storage.loadCheckpoint(run.id);
      if (!ck) return fail('this run has no saved checkpoint yet');
      const spec = this.models.spec(run.settings);
      const m = this.models.current();
      const src: ExportSource = {
        config: spec.config,
        weights: { ...this.models.baseWeights(spec, run.settings.seed), ...ck.trainable },
        tokenizer: { ...m.tok.files },
        eosId: m.tok.eosId,
        endIds: m.tok.endIds,
        sampling: {
          temperature: sampling.temperature,
          topK: sampling.topK,
          topP: sampling.topP,
          repetitionPenalty: sampling.repetitionPenalty,
          maxNewTokens: sampling.maxNewTokens,
        },
        run: runFacts(run, ck.step, m.name, spec.lora, await storage.loadDatasetSummary(run.id)),
      };
      const files = await exportFiles(kind, src, () => storage.loadTrainedRecords(run.id), this.shipped);
      const need = totalSize(files);
      const free = await freeBytes();
      if (free !== null && free < need)
        return fail(
          `the ${kind} export needs ${fmtSize(need)} of browser storage to be assembled, but only ${fmtSize(free)} is free; nothing was written. Free space in the Model panel's cache or delete old runs.`,
        );
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
      fail(
        e instanceof ExportCancelled || e instanceof ExportRefused
          ? e.message
          : `the export failed: ${(e as Error).message}`,
      );
    } finally {
      if (this.exporting === abort) this.exporting = null;
    }
  }

  cancel(): void {
    this.exporting?.abort();
  }
}
