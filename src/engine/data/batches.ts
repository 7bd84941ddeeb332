// From training rows to (B, T) batches: input_ids = tokens[0..T), labels = tokens[1..T], loss_mask[t] = whether
// labels[t] is trained. Batch k of a run is a pure function of (rows, batch size, seed, k): each epoch visits the
// rows in a fresh seeded order, so a run resumed at step s sees exactly the batches the original run would have.
import { Rng } from '../util/rng.js';
import type { Batch } from '../runtime/feeds.js';

/** One training sequence of T+1 tokens; mask[t] = 1 when token t is a target (mask[0] is never used). */
export interface Row {
  readonly tokens: Int32Array;
  readonly mask: Uint8Array;
}

export function makeBatch(rows: readonly Row[], batch: number, seq: number, padId: number): Batch {
  const n = batch * seq;
  const b: Batch = {
    batch,
    seq,
    ids: new Int32Array(n).fill(padId),
    labels: new Int32Array(n).fill(padId),
    mask: new Float32Array(n),
  };
  rows.forEach((r, i) => {
    if (r.tokens.length !== seq + 1)
      throw new RangeError(
        `row of ${r.tokens.length} tokens in a batch of sequence length ${seq} (rows must hold T+1 tokens)`,
      );
    b.ids.set(r.tokens.subarray(0, seq), i * seq);
    b.labels.set(r.tokens.subarray(1), i * seq);
    for (let t = 0; t < seq; t++) b.mask[i * seq + t] = r.mask[t + 1];
  });
  return b;
}

export class BatchStream {
  private readonly orders = new Map<number, number[]>();
  constructor(
    private readonly rows: readonly Row[],
    readonly batch: number,
    readonly seq: number,
    private readonly seed: number,
    private readonly padId: number,
  ) {
    if (rows.length === 0) throw new RangeError('no training rows: the dataset is empty after tokenization');
  }

  private order(epoch: number): number[] {
    let o = this.orders.get(epoch);
    if (!o) {
      o = new Rng(this.seed * 1000003 + epoch).permutation(this.rows.length);
      this.orders.clear(); // only the current epoch is needed
      this.orders.set(epoch, o);
    }
    return o;
  }

  /** Micro-batch k (0-based) of the run. */
  at(k: number): Batch {
    const n = this.rows.length;
    const picked: Row[] = [];
    for (let j = 0; j < this.batch; j++) {
      const r = k * this.batch + j;
      picked.push(this.rows[this.order(Math.floor(r / n))[r % n]]);
    }
    return makeBatch(picked, this.batch, this.seq, this.padId);
  }

  /** The rows in fixed order, as padded batches (for evaluation). */
  static sequential(rows: readonly Row[], batch: number, seq: number, padId: number, maxBatches: number): Batch[] {
    const out: Batch[] = [];
    for (let i = 0; i < rows.length && out.length < maxBatches; i += batch)
      out.push(makeBatch(rows.slice(i, i + batch), batch, seq, padId));
    return out;
  }
}
