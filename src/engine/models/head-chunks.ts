// How the fused head + loss (artifacts/head-loss.ts) cuts N rows over a V-token vocabulary into row chunks, so no
// (rows, V) float32 tensor passes a budget; here, below the graphs, because the memory estimate follows it too.
/** A chunk's (rows, V) float32 tensors are kept near this size. */
export const HEAD_CHUNK_BYTES = 64 * 2 ** 20;

/** Row counts of the chunks for N rows over a V-token vocabulary. */
export function headChunks(N: number, V: number, budget = HEAD_CHUNK_BYTES): number[] {
  const k = Math.max(1, Math.min(N, Math.ceil((4 * N * V) / budget)));
  const rows = Math.ceil(N / k);
  const out: number[] = [];
  for (let r = 0; r < N; r += rows) out.push(Math.min(rows, N - r));
  return out;
}
