// Which execution provider ran each node, read from onnxruntime's profile (Node only): the profile records a
// kernel event per node with its provider, so "nothing fell back to the CPU" is checked, not assumed.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Tensor } from 'onnxruntime-common';
import type { BuiltGraph } from '../artifacts/model.js';
import type { Backend } from './backend.js';

export interface Placement {
  /** provider -> op -> node count */
  byProvider: Record<string, Record<string, number>>;
  /** Nodes placed on anything but the expected provider, as "op (node name)". */
  elsewhere: string[];
}

interface ProfileEvent {
  cat?: string;
  name?: string;
  args?: { provider?: string; op_name?: string };
}

/** Runs `g` once with profiling on and reports where its nodes ran. */
export async function profilePlacement(
  b: Backend,
  g: BuiltGraph,
  feeds: Record<string, Tensor>,
  expected: string,
): Promise<Placement> {
  const dir = mkdtempSync(join(tmpdir(), 'fts-profile-'));
  try {
    const s = await b.createSession(g, { profilePrefix: join(dir, 'p') });
    await s.run(feeds);
    await s.release();
    const file = readdirSync(dir).find((f) => f.endsWith('.json'));
    if (!file) throw new Error('onnxruntime wrote no profile');
    const events = JSON.parse(readFileSync(join(dir, file), 'utf8')) as ProfileEvent[];
    const byProvider: Placement['byProvider'] = {};
    const elsewhere: string[] = [];
    const seen = new Set<string>();
    for (const e of events) {
      const p = e.args?.provider;
      if (e.cat !== 'Node' || !p || !e.name || seen.has(e.name)) continue;
      seen.add(e.name);
      const op = e.args?.op_name ?? '?';
      (byProvider[p] ??= {})[op] = (byProvider[p][op] ?? 0) + 1;
      if (p !== expected) elsewhere.push(`${op} (${e.name})`);
    }
    return { byProvider, elsewhere };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
