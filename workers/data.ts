// The studio's dataset: the dropped file, read with the Data panel's options and cut to the run's sequence length
// (summary for the Data panel, rows, sample prompts, the records the recipe exports), and a file that cannot be
// used as the line-numbered rejection the Data panel shows. A bad file never replaces the dataset already loaded.
import { DataError, decodeText } from '../src/engine/data/formats.js';
import { DatasetRejectedError, prepareDataset, type PreparedDataset } from '../src/engine/data/prepare.js';
import { ChatTemplate } from '../src/engine/data/template.js';
import type { StoredDataset } from '../src/engine/storage/runs.js';
import type { DataOptions, FromWorker } from '../src/protocol.js';
import { BASE_SEED, modelTemplate, type LoadedModel } from './models.js';

export class StudioData {
  /** The rows a run trains on: the loaded file's, or a reopened run's own. */
  dataset: StoredDataset | null = null;
  /** The file the dataset came from, to re-cut it for other options, another sequence length or another tokenizer. */
  source: { file: string; text: string; options: DataOptions; seq: number } | null = null;
  template = new ChatTemplate();

  constructor(
    private readonly post: (m: FromWorker) => void,
    private readonly model: () => LoadedModel,
  ) {}

  loadFile(file: string, bytes: ArrayBuffer, options: DataOptions, seq: number): void {
    let text: string;
    try {
      text = decodeText(new Uint8Array(bytes), file);
    } catch (e) {
      const refused = rejection(file, e);
      if (!refused) throw e;
      return this.post(refused);
    }
    this.load(file, text, options, seq);
  }

  /** Re-reads the loaded file with new options (format, columns, loss mode, template...). */
  setOptions(options: DataOptions, seq: number): void {
    if (!this.source) throw new Error('load a dialogue file first');
    this.load(this.source.file, this.source.text, options, seq);
  }

  /** Re-cuts the loaded file for another sequence length (when it differs). */
  recut(seq: number): void {
    const src = this.source;
    if (src && src.seq !== seq) this.load(src.file, src.text, src.options, seq);
  }

  /** Another model: its template (the one it ships) and tokenizer, and the loaded file re-cut with both. */
  useModel(template: string): void {
    this.template = modelTemplate(this.model(), template);
    const src = this.source;
    if (src) this.load(src.file, src.text, { ...src.options, template }, src.seq);
  }

  /** A reopened run's own rows. */
  useStored(d: StoredDataset): void {
    this.dataset = d;
    this.post({ type: 'data-loaded', summary: d.summary });
  }

  private load(file: string, text: string, options: DataOptions, seq: number): void {
    let template: ChatTemplate;
    try {
      template = modelTemplate(this.model(), options.template);
    } catch (e) {
      return this.post({
        type: 'error',
        context: 'chat template',
        message: `the template does not parse: ${(e as Error).message}`,
      });
    }
    try {
      const progress = (stage: 'reading' | 'tokenizing') => (done: number, total: number) =>
        this.post({ type: 'data-progress', file, stage, done, total });
      const d = prepareDataset(text, file, this.model().tok, template, {
        ...options,
        seq,
        seed: BASE_SEED,
        samplePrompts: 2,
        onProgress: progress('reading'),
        onTokenize: progress('tokenizing'),
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
}

export function storedDataset(file: string, d: PreparedDataset): StoredDataset {
  return {
    summary: {
      file,
      format: d.format,
      kind: d.kind,
      records: d.records,
      turns: d.turns,
      skipped: d.skipped.length,
      trainRows: d.train.length,
      validationRows: d.validation.length,
      trainedTokens: d.trainedTokens,
      totalTokens: d.totalTokens,
      truncated: d.truncated,
      histogram: d.histogram,
      columns: d.columns,
      preview: d.preview,
    },
    train: d.train,
    validation: d.validation,
    samplePrompts: d.samplePrompts,
    trainedRecords: d.trainedRecords,
  };
}

/** The message for a file the data code refused; null for any other error (a bug, rethrown by the caller). */
export function rejection(file: string, e: unknown): Extract<FromWorker, { type: 'data-rejected' }> | null {
  if (e instanceof DataError)
    return {
      type: 'data-rejected',
      file,
      total: 1,
      skippable: false,
      errors: [{ file, line: e.line, field: e.field, message: e.message }],
    };
  if (!(e instanceof DatasetRejectedError)) return null;
  const errors = e.errors.slice(0, 20).map((x) => ({ file: x.file, line: x.line, field: x.field, message: x.message }));
  return { type: 'data-rejected', file, errors, total: e.errors.length, skippable: e.goodRecords > 0 }; // the dataset loaded before stays
}
