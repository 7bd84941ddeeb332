// What the studio keeps in IndexedDB (through idb-keyval), one database per store. No value is over
// MAX_CHUNK_BYTES (chunks.ts): weights and token rows are written as chunks, tensor by tensor.
//   fts-runs         key: run id                  value: RunState (settings, status, metrics for the chart, samples)
//   fts-checkpoints  key: run id                  value: CheckpointRecord, the pointer: generation, step, tensor list
//                    key: id/g<gen>/<group>/<name>#i   value: chunk i of that tensor's float32 bytes
//   fts-datasets     key: run id                  value: DatasetRecord (summary, sample prompts, row counts)
//                    key: id/<split>/<part>#i     value: chunk i of the split's tokens, masks or row lengths
// A checkpoint is written as a new generation; only when every tensor is stored does the pointer switch to it,
// and then the previous generation is deleted. A crash or a full quota mid-write leaves the previous checkpoint
// usable (and the half-written generation is cleared on the next save). Full quotas surface as StorageErrors.
import { createStore, del, delMany, get, set, values, type UseStore } from 'idb-keyval';
import type { Row } from '../data/batches.js';
import {
  CHECKPOINT_FORMAT,
  type Checkpoint,
  type CheckpointGroup,
  type CheckpointMeta,
  type CheckpointSnapshot,
} from '../train/checkpoint.js';
import type { Weights } from '../models/init.js';
import { bestEval, type DatasetSummary, type RunState, type RunSummary } from './run-record.js';
import { bytesOf, ChunkStore, ensureSpace, freeBytes, guardWrite, StorageError, type ChunkedInfo } from './chunks.js';
export { StorageError };
export { storageEstimate } from './chunks.js';

export interface StoredDataset {
  summary: DatasetSummary;
  train: Row[];
  validation: Row[];
  samplePrompts: { text: string; ids: number[] }[];
  /** The dataset as trained, as chat JSONL lines per split (the hand-off recipe's data). */
  trainedRecords?: { train: string[]; validation: string[] };
}

interface StoredTensor extends ChunkedInfo {
  group: CheckpointGroup;
  name: string;
  shape: readonly number[];
}

/** The pointer to a run's complete checkpoint. */
export interface CheckpointRecord extends CheckpointMeta {
  generation: number;
  tensors: StoredTensor[];
  bytes: number;
}

interface SplitRecord {
  rows: number;
  tokens: ChunkedInfo;
  masks: ChunkedInfo;
  lengths: ChunkedInfo;
}

interface DatasetRecord {
  summary: DatasetSummary;
  samplePrompts: { text: string; ids: number[] }[];
  train: SplitRecord;
  validation: SplitRecord;
  records?: { train: ChunkedInfo; validation: ChunkedInfo };
}

export interface RunStorageOptions {
  prefix?: string;
  /** Free bytes (navigator.storage.estimate by default; tests set it). */
  free?: () => Promise<number | null>;
}

export class RunStorage {
  private readonly runs: UseStore;
  private readonly checkpoints: ChunkStore;
  private readonly datasets: ChunkStore;
  private readonly free: () => Promise<number | null>;

  constructor(o: RunStorageOptions = {}) {
    const prefix = o.prefix ?? 'fts';
    this.runs = createStore(`${prefix}-runs`, 'runs');
    this.checkpoints = new ChunkStore(createStore(`${prefix}-checkpoints`, 'checkpoints'));
    this.datasets = new ChunkStore(createStore(`${prefix}-datasets`, 'datasets'));
    this.free = o.free ?? freeBytes;
  }

  saveRun(run: RunState): Promise<void> {
    return guardWrite('the run', () => set(run.id, run, this.runs));
  }
  loadRun(id: string): Promise<RunState | undefined> {
    return get(id, this.runs);
  }
  async listRuns(): Promise<RunSummary[]> {
    const all = await values<RunState>(this.runs);
    return all
      .map((r): RunSummary => ({
        id: r.id,
        name: r.name,
        template: r.template,
        createdAt: r.createdAt,
        model: r.model,
        dataset: r.dataset,
        settings: r.settings,
        status: r.status,
        step: r.step,
        checkpointStep: r.checkpointStep,
        lastLoss: r.lastLoss,
        bestEval: bestEval(r.evals), // runs stored before kept none
      }))
      .sort((a, b) => b.createdAt - a.createdAt);
  }

  // ------------------------------------------------------------------------------------------- checkpoints
  /**
   * Streams a snapshot into a new generation, tensor by tensor, then switches the pointer to it. Refuses up front
   * when the browser says the checkpoint cannot fit. Whatever fails, the previous checkpoint stays usable.
   */
  async saveCheckpoint(
    id: string,
    s: CheckpointSnapshot,
    onProgress?: (done: number, total: number) => void,
  ): Promise<void> {
    const what = `the checkpoint at step ${s.step}`;
    await ensureSpace(s.bytes, what, this.free);
    const old = await get<CheckpointRecord | Checkpoint>(id, this.checkpoints.store);
    const oldGen = old && 'generation' in old ? old.generation : 0;
    const generation = oldGen + 1;
    const dir = `${id}/g${generation}/`;
    await this.clear(dir); // a generation a crash left half-written
    const tensors: StoredTensor[] = [];
    try {
      let done = 0;
      for (const t of s.tensors) {
        const data = await s.read(t);
        const info = await this.checkpoints.write(`${dir}${t.group}/${t.name}`, [bytesOf(data)], what);
        tensors.push({ group: t.group, name: t.name, shape: t.shape, ...info });
        onProgress?.((done += info.bytes), s.bytes);
      }
      const { format, step, model, config } = s;
      await guardWrite(what, () =>
        set(
          id,
          { format, step, model, config, generation, tensors, bytes: s.bytes } satisfies CheckpointRecord,
          this.checkpoints.store,
        ),
      );
    } catch (e) {
      await this.clear(dir).catch(() => undefined);
      throw e;
    }
    await this.clear(`${id}/g${oldGen}/`); // the previous generation, no longer pointed to
  }

  /** The stored checkpoint with every tensor on the CPU, read chunk by chunk. */
  async loadCheckpoint(id: string): Promise<Checkpoint | undefined> {
    const r = await get<CheckpointRecord | Checkpoint>(id, this.checkpoints.store);
    if (!r || !('generation' in r)) return r; // an earlier version stored the whole checkpoint as one value
    const groups: Record<CheckpointGroup, Weights> = { trainable: {}, expAvg: {}, expAvgSq: {} };
    for (const t of r.tensors) {
      const b = await this.checkpoints.readAll(
        `${id}/g${r.generation}/${t.group}/${t.name}`,
        t,
        `the checkpoint of step ${r.step} (${t.group} ${t.name})`,
      );
      groups[t.group][t.name] = new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
    }
    if (r.format !== CHECKPOINT_FORMAT)
      throw new StorageError('CORRUPT', `the stored checkpoint has format ${r.format}, not ${CHECKPOINT_FORMAT}`);
    return { format: r.format, step: r.step, model: r.model, config: r.config, ...groups };
  }

  private async clear(prefix: string, store = this.checkpoints): Promise<void> {
    await delMany(await store.keysUnder(prefix), store.store);
  }

  // ------------------------------------------------------------------------------------------- datasets
  async saveDataset(id: string, d: StoredDataset): Promise<void> {
    const what = 'the tokenized dataset';
    const rows = [...d.train, ...d.validation];
    const enc = new TextEncoder();
    const recordBytes = d.trainedRecords && {
      train: enc.encode(d.trainedRecords.train.join('\n')),
      validation: enc.encode(d.trainedRecords.validation.join('\n')),
    };
    await ensureSpace(
      rows.reduce((n, r) => n + 5 * r.tokens.length + 4, 0) +
        (recordBytes ? recordBytes.train.length + recordBytes.validation.length : 0),
      what,
      this.free,
    );
    await this.clear(`${id}/`, this.datasets);
    try {
      const split = async (name: string, rs: Row[]): Promise<SplitRecord> => ({
        rows: rs.length,
        tokens: await this.datasets.write(
          `${id}/${name}/tokens`,
          rs.map((r) => bytesOf(r.tokens)),
          what,
        ),
        masks: await this.datasets.write(
          `${id}/${name}/masks`,
          rs.map((r) => bytesOf(r.mask)),
          what,
        ),
        lengths: await this.datasets.write(
          `${id}/${name}/lengths`,
          [bytesOf(Int32Array.from(rs, (r) => r.tokens.length))],
          what,
        ),
      });
      const record: DatasetRecord = {
        summary: d.summary,
        samplePrompts: d.samplePrompts,
        train: await split('train', d.train),
        validation: await split('validation', d.validation),
      };
      if (recordBytes) {
        record.records = {
          train: await this.datasets.write(`${id}/records/train`, [recordBytes.train], what),
          validation: await this.datasets.write(`${id}/records/validation`, [recordBytes.validation], what),
        };
      }
      await guardWrite(what, () => set(id, record, this.datasets.store));
    } catch (e) {
      await this.clear(`${id}/`, this.datasets).catch(() => undefined);
      throw e;
    }
  }

  /** The dataset's summary alone (no rows read). */
  async loadDatasetSummary(id: string): Promise<DatasetSummary | undefined> {
    return (await get<DatasetRecord | StoredDataset>(id, this.datasets.store))?.summary;
  }

  /** The dataset as trained, as chat JSONL lines per split (no rows read); undefined for runs stored without them. */
  async loadTrainedRecords(id: string): Promise<StoredDataset['trainedRecords']> {
    const r = await get<DatasetRecord | StoredDataset>(id, this.datasets.store);
    if (!r || Array.isArray(r.train)) return (r as StoredDataset | undefined)?.trainedRecords;
    return this.readRecords(id, r as DatasetRecord);
  }

  private async readRecords(id: string, rec: DatasetRecord): Promise<StoredDataset['trainedRecords']> {
    if (!rec.records) return undefined;
    const dec = new TextDecoder();
    const what = 'the tokenized dataset of this run';
    const lines = async (name: string, c: ChunkedInfo) =>
      dec
        .decode(await this.datasets.readAll(`${id}/records/${name}`, c, what))
        .split('\n')
        .filter(Boolean);
    return {
      train: await lines('train', rec.records.train),
      validation: await lines('validation', rec.records.validation),
    };
  }

  async loadDataset(id: string): Promise<StoredDataset | undefined> {
    const r = await get<DatasetRecord | StoredDataset>(id, this.datasets.store);
    if (!r || Array.isArray(r.train)) return r as StoredDataset | undefined; // an earlier version's single value
    const rec = r as DatasetRecord;
    const what = 'the tokenized dataset of this run';
    const split = async (name: string, s: SplitRecord): Promise<Row[]> => {
      const lb = await this.datasets.readAll(`${id}/${name}/lengths`, s.lengths, what);
      const lengths = new Int32Array(lb.buffer, lb.byteOffset, s.rows);
      const tb = await this.datasets.readAll(`${id}/${name}/tokens`, s.tokens, what);
      const tokens = new Int32Array(tb.buffer, tb.byteOffset, tb.byteLength / 4);
      const masks = await this.datasets.readAll(`${id}/${name}/masks`, s.masks, what);
      const out: Row[] = [];
      let off = 0;
      for (const n of lengths) {
        out.push({ tokens: tokens.subarray(off, off + n), mask: masks.subarray(off, off + n) });
        off += n;
      }
      return out;
    };
    return {
      summary: rec.summary,
      samplePrompts: rec.samplePrompts,
      train: await split('train', rec.train),
      validation: await split('validation', rec.validation),
      trainedRecords: await this.readRecords(id, rec),
    };
  }

  async deleteRun(id: string): Promise<void> {
    await this.clear(`${id}/`);
    await del(id, this.checkpoints.store);
    await this.clear(`${id}/`, this.datasets);
    await del(id, this.datasets.store);
    await del(id, this.runs);
  }
}
