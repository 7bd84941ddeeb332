// The trainable parameters packed into a few flat device tensors ("groups"), so that AdamW, gradient clipping and
// the optimizer state take a handful of kernels per step rather than ~15 per parameter tensor (148 tensors in
// GPT-2 124M). A group holds parameters of one kind: matrices of one width stacked along their rows (so a Split
// on axis 0 gives each matrix back with no Reshape) or vectors end to end, all decayed or all not. Groups stay
// under a size cap, since a WebGPU buffer binding has a device limit (a tensor larger than the cap is a group of
// its own, as it would be a tensor of its own anyway).
import type { Graph, Value } from '../onnx/graph.js';
import type { ParamSpec } from '../models/gpt2.js';

/**
 * Largest flat group, in float32 bytes, where the device allows (the trainer caps it at the WebGPU device's
 * maxStorageBufferBindingSize: at least 128 MiB by the spec; desktop GPUs give GiBs). GPT-2 124M's largest kind
 * (the 768-wide matrices, the token embedding among them) is 298 MB.
 */
export const FLAT_GROUP_BYTES = 512 * 2 ** 20;

export interface FlatMember {
  readonly spec: ParamSpec;
  /** Offset of the member's first element in the group. */
  readonly offset: number;
  readonly size: number;
}

export interface FlatGroup {
  /** The group's input name; its moments and gradient are named from it as a parameter's are. */
  readonly name: string;
  readonly shape: readonly number[];
  readonly decay: boolean;
  readonly members: readonly FlatMember[];
}

export interface FlatLayout {
  readonly groups: readonly FlatGroup[];
}

const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

export interface FlatOptions {
  /** Pack into groups (true), or keep one tensor per parameter, each its own group under its own name. */
  readonly packed: boolean;
  readonly capBytes?: number;
}

/**
 * Groups `specs` in order of first appearance of each kind; a kind's members keep their order. Unpacked, each
 * parameter is a group of one under its own name: the graphs then take the parameters as they are, with no Split
 * copies (what the CPU and WASM backends want: there a node costs microseconds, and memory is the limit).
 */
export function flatLayout(specs: readonly ParamSpec[], o: FlatOptions = { packed: true }): FlatLayout {
  if (!o.packed)
    return {
      groups: specs.map((spec) => ({
        name: spec.name,
        shape: spec.shape,
        decay: spec.decay,
        members: [{ spec, offset: 0, size: numel(spec.shape) }],
      })),
    };
  const capBytes = o.capBytes ?? FLAT_GROUP_BYTES;
  const byKind = new Map<string, ParamSpec[][]>();
  for (const s of specs) {
    if (s.shape.length > 2)
      throw new RangeError(`flat groups take vectors and matrices; ${s.name} has shape [${s.shape}]`);
    const kind = `${s.decay ? 'decay' : 'nodecay'}.${s.shape.length === 2 ? `w${s.shape[1]}` : 'vec'}`;
    const chunks = byKind.get(kind) ?? byKind.set(kind, [[]]).get(kind)!;
    const last = chunks[chunks.length - 1];
    const bytes = 4 * (numel(s.shape) + last.reduce((n, p) => n + numel(p.shape), 0));
    if (last.length && bytes > capBytes) chunks.push([s]);
    else last.push(s);
  }
  const groups: FlatGroup[] = [];
  for (const [kind, chunks] of byKind) {
    chunks.forEach((members, k) => {
      let offset = 0;
      const ms = members.map((spec) => {
        const m = { spec, offset, size: numel(spec.shape) };
        offset += m.size;
        return m;
      });
      const first = members[0].shape;
      const shape = first.length === 2 ? [members.reduce((n, p) => n + p.shape[0], 0), first[1]] : [offset];
      groups.push({ name: `flat.${kind}.${k}`, shape, decay: members[0].decay, members: ms });
    });
  }
  return { groups };
}

/** Whether the layout is one tensor per parameter under the parameter's own name (nothing packed). */
export const isUnpacked = (l: FlatLayout) =>
  l.groups.every((grp) => grp.members.length === 1 && grp.name === grp.members[0].spec.name);

/** Each group's graph input, and every member as a value (one Split per group of more than one member). */
export function flatInputs(
  g: Graph,
  layout: FlatLayout,
  input: (group: FlatGroup) => Value,
): { groups: Value[]; params: Record<string, Value> } {
  const params: Record<string, Value> = {};
  const groups = layout.groups.map((grp) => {
    const v = input(grp);
    const parts =
      grp.members.length === 1
        ? [v]
        : g.split(
            v,
            grp.members.map((m) => m.spec.shape[0]),
            0,
          );
    grp.members.forEach((m, i) => (params[m.spec.name] = parts[i]));
    return v;
  });
  return { groups, params };
}

/** Each group's value assembled from its members' values (one Concat per group). */
export function flatConcat(g: Graph, layout: FlatLayout, member: (spec: ParamSpec) => Value): Value[] {
  return layout.groups.map((grp) =>
    g.concat(
      grp.members.map((m) => member(m.spec)),
      0,
    ),
  );
}

/**
 * Copies each member's data into its group's flat array (one group at a time: the caller uploads and drops it);
 * a group of one is its member's own array, not copied.
 */
export function packGroup(grp: FlatGroup, data: (name: string) => Float32Array): Float32Array {
  const check = (m: FlatMember, d: Float32Array) => {
    if (d.length !== m.size)
      throw new RangeError(`${m.spec.name} has ${d.length} values, expected ${m.size} (shape [${m.spec.shape}])`);
    return d;
  };
  if (grp.members.length === 1) return check(grp.members[0], data(grp.members[0].spec.name));
  const out = new Float32Array(numel(grp.shape));
  for (const m of grp.members) out.set(check(m, data(m.spec.name)), m.offset);
  return out;
}
