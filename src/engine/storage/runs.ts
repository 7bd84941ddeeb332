// What the studio keeps in IndexedDB (through idb-keyval), one database per store:
//   fts-runs         key: run id   value: RunState (settings, status, metrics for the chart, samples)
//   fts-checkpoints  key: run id   value: Checkpoint (trainable weights, AdamW moments, step), replaced whole
//   fts-datasets     key: run id   value: StoredDataset (tokenized training and validation rows, sample prompts)
// A write that fails leaves the previous value in place (IndexedDB transactions are atomic), so a full quota loses
// nothing already stored; it surfaces as StorageError('QUOTA_EXCEEDED').
import { createStore, del, get, set, values, type UseStore } from 'idb-keyval';
import type { Row } from '../data/batches.js';
import { StorageError } from './chunks.js';
export { StorageError };
import type { Checkpoint } from '../train/checkpoint.js';
import type { RunState, RunSummary } from '../../protocol.js';

export interface StoredDataset {
  summary: import('../../protocol.js').DatasetSummary;
  train: Row[];
  validation: Row[];
  samplePrompts: { text: string; ids: number[] }[];
}

export class RunStorage {
  private readonly runs: UseStore;
  private readonly checkpoints: UseStore;
  private readonly datasets: UseStore;

  constructor(prefix = 'fts') {
    this.runs = createStore(`${prefix}-runs`, 'runs');
    this.checkpoints = createStore(`${prefix}-checkpoints`, 'checkpoints');
    this.datasets = createStore(`${prefix}-datasets`, 'datasets');
  }

  private async put(store: UseStore, key: string, value: unknown, what: string): Promise<void> {
    try {
      await set(key, value, store);
    } catch (e) {
      const err = e as DOMException;
      if (err?.name === 'QuotaExceededError') {
        throw new StorageError('QUOTA_EXCEEDED', `the browser's storage quota is full, so the ${what} was not saved (what was saved before is intact). Delete old runs or cached models to free space.`);
      }
      throw new StorageError('STORAGE_FAILED', `could not save the ${what}: ${err?.message ?? String(e)}`);
    }
  }

  saveRun(run: RunState): Promise<void> {
    return this.put(this.runs, run.id, run, 'run');
  }
  loadRun(id: string): Promise<RunState | undefined> {
    return get(id, this.runs);
  }
  async listRuns(): Promise<RunSummary[]> {
    const all = (await values(this.runs)) as RunState[];
    return all
      .map(({ id, template, createdAt, model, dataset, settings, status, step, checkpointStep, lastLoss }) => ({ id, template, createdAt, model, dataset, settings, status, step, checkpointStep, lastLoss }))
      .sort((a, b) => b.createdAt - a.createdAt);
  }
  saveCheckpoint(id: string, ck: Checkpoint): Promise<void> {
    return this.put(this.checkpoints, id, ck, 'checkpoint');
  }
  loadCheckpoint(id: string): Promise<Checkpoint | undefined> {
    return get(id, this.checkpoints);
  }
  saveDataset(id: string, d: StoredDataset): Promise<void> {
    return this.put(this.datasets, id, d, 'tokenized dataset');
  }
  loadDataset(id: string): Promise<StoredDataset | undefined> {
    return get(id, this.datasets);
  }
  async deleteRun(id: string): Promise<void> {
    await del(id, this.checkpoints);
    await del(id, this.datasets);
    await del(id, this.runs);
  }
}

export async function storageEstimate(): Promise<{ usage: number; quota: number; persisted: boolean }> {
  const s = globalThis.navigator?.storage;
  if (!s?.estimate) return { usage: 0, quota: 0, persisted: false };
  const e = await s.estimate();
  const persisted = s.persisted ? await s.persisted() : false;
  return { usage: e.usage ?? 0, quota: e.quota ?? 0, persisted };
}
