// A dropped file as the studio keeps it (summary for the Data panel, rows, sample prompts, the records the recipe
// exports), and a file that cannot be used as the line-numbered rejection the Data panel shows.
import { DataError } from '../src/engine/data/formats.js';
import { DatasetRejectedError, type PreparedDataset } from '../src/engine/data/prepare.js';
import type { StoredDataset } from '../src/engine/storage/runs.js';
import type { FromWorker } from '../src/protocol.js';

export function storedDataset(file: string, d: PreparedDataset): StoredDataset {
  return {
    summary: {
      file, format: d.format, kind: d.kind, records: d.records, turns: d.turns, skipped: d.skipped.length, trainRows: d.train.length,
      validationRows: d.validation.length, trainedTokens: d.trainedTokens, totalTokens: d.totalTokens, truncated: d.truncated,
      histogram: d.histogram, columns: d.columns, preview: d.preview,
    },
    train: d.train,
    validation: d.validation,
    samplePrompts: d.samplePrompts,
    trainedRecords: d.trainedRecords,
  };
}

/** The message for a file the data code refused; null for any other error (a bug, rethrown by the caller). */
export function rejection(file: string, e: unknown): Extract<FromWorker, { type: 'data-rejected' }> | null {
  if (e instanceof DataError) return { type: 'data-rejected', file, total: 1, skippable: false, errors: [{ file, line: e.line, field: e.field, message: e.message }] };
  if (!(e instanceof DatasetRejectedError)) return null;
  const errors = e.errors.slice(0, 20).map((x) => ({ file: x.file, line: x.line, field: x.field, message: x.message }));
  return { type: 'data-rejected', file, errors, total: e.errors.length, skippable: e.goodRecords > 0 }; // the dataset loaded before stays
}
