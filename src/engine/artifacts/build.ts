// The four artifacts, built per (batch, sequence) bucket in milliseconds:
//   training graph   params + batch -> loss, <param>_grad (optionally added onto accumulation buffers)
//   eval graph       params + batch -> loss (and logits, for tests)
//   optimizer graph  AdamW as PyTorch has it, global-norm clipping, no decay on biases and LayerNorm weights
//   generate graph   params + new tokens + a fixed-size KV cache -> logits of one position, updated cache
import { Graph, type GraphOptions, type Value } from '../onnx/graph.js';
import { serializeModel } from '../onnx/proto.js';
import { backprop } from '../autodiff/grad.js';
import { fusedHeadLoss } from './head-loss.js';
import { flatConcat, flatInputs, type FlatLayout } from './flat.js';
import { familyOf } from '../models/family.js';
import type { ParamSpec } from '../models/gpt2.js';
import {
  accumName,
  allParams,
  expAvgName,
  expAvgSqName,
  gradName,
  paramInputs,
  trainableParams,
  updatedName,
  type BuiltGraph,
  type ModelSpec,
} from './model.js';

export interface BatchShape {
  readonly batch: number;
  readonly seq: number;
}

/** What the target execution provider can run (see GraphOptions). */
export type Target = GraphOptions;

function finish(g: Graph): BuiltGraph {
  const nameOf = (v: Value) => g.nameOf(v);
  return { name: g.name, bytes: serializeModel(g), inputs: g.inputs.map(nameOf), outputs: g.outputs.map(nameOf) };
}

function checkShape(m: ModelSpec, s: BatchShape): void {
  if (!(s.batch >= 1 && Number.isInteger(s.batch)))
    throw new RangeError(`batch must be a positive integer, got ${s.batch}`);
  const max = familyOf(m.config).maxPositions(m.config);
  if (!(s.seq >= 1 && s.seq <= max))
    throw new RangeError(`sequence length ${s.seq} is outside 1..${max} (the model's longest sequence)`);
}

/**
 * Next-token cross-entropy, averaged over the tokens the mask selects. labels are already shifted (labels[t] is
 * the token after input t). (B, T) each. With `trainable`, also the gradient of every trainable parameter: the
 * head and the loss form their own backward (head-loss.ts) and the trunk's reverse pass starts from it.
 */
function forwardLoss(
  g: Graph,
  m: ModelSpec,
  s: BatchShape,
  P: Record<string, Value>,
  trainable?: readonly ParamSpec[],
) {
  const N = s.batch * s.seq;
  const ids = g.input('input_ids', 'int32', [s.batch, s.seq]);
  const labels = g.input('labels', 'int32', [s.batch, s.seq]);
  const mask = g.input('loss_mask', 'float32', [s.batch, s.seq]);
  const f = familyOf(m.config);
  const h = f.trunk(g, m.config, P, ids, m.lora); // (N, C)
  const headName = f.head(m.config);
  const W = P[headName]; // (V, C): the embedding when tied
  const trainsW = !!trainable?.some((p) => p.name === headName);
  const head = fusedHeadLoss(g, h, W, g.reshape(labels, [N]), g.reshape(mask, [N]), { h: !!trainable, W: trainsW });
  if (!trainable) return { loss: head.loss, h, grads: new Map<Value, Value>() };
  const seeds = new Map<Value, Value>([[h, head.dh!]]);
  if (head.dW) seeds.set(W, head.dW);
  return {
    loss: head.loss,
    h,
    grads: backprop(
      g,
      seeds,
      trainable.map((p) => P[p.name]),
    ),
  };
}

/** What AdamW updates: a parameter, or a flat group of them (flat.ts), with its value and gradient in the graph. */
interface Slot {
  spec: { readonly name: string; readonly shape: readonly number[]; readonly decay: boolean };
  value: Value;
}

/**
 * Every parameter as a graph value, and the trainable ones as optimizer slots: one input per parameter, or, with
 * a layout, the frozen ones as inputs and the trainable ones split out of their flat groups' inputs.
 */
function trainingInputs(g: Graph, m: ModelSpec, layout?: FlatLayout): { P: Record<string, Value>; slots: Slot[] } {
  const trainable = trainableParams(m);
  if (!layout) {
    const P = paramInputs(g, allParams(m));
    return { P, slots: trainable.map((spec) => ({ spec, value: P[spec.name] })) };
  }
  const names = new Set(trainable.map((p) => p.name));
  const P = paramInputs(
    g,
    allParams(m).filter((p) => !names.has(p.name)),
  );
  const flat = flatInputs(g, layout, (grp) => g.input(grp.name, 'float32', grp.shape));
  Object.assign(P, flat.params);
  return { P, slots: layout.groups.map((spec, i) => ({ spec, value: flat.groups[i] })) };
}

/** The gradient of each slot: a parameter's own, or its group's members' concatenated. */
function slotGrads(
  g: Graph,
  P: Record<string, Value>,
  slots: readonly Slot[],
  grads: Map<Value, Value>,
  layout?: FlatLayout,
): Value[] {
  return layout ? flatConcat(g, layout, (spec) => grads.get(P[spec.name])!) : slots.map((s) => grads.get(s.value)!);
}

/**
 * Forward and backward: loss and <slot>_grad per trainable parameter, or per flat group with a layout (optionally
 * added onto accumulation inputs <slot>_grad.accumulation).
 */
export function buildTrainGraph(
  m: ModelSpec,
  s: BatchShape,
  o: { accumulate?: boolean; target?: Target; layout?: FlatLayout } = {},
): BuiltGraph {
  checkShape(m, s);
  const g = new Graph(`train_b${s.batch}_t${s.seq}${o.accumulate ? '_acc' : ''}`, o.target);
  const { P, slots } = trainingInputs(g, m, o.layout);
  const { loss, grads } = forwardLoss(g, m, s, P, trainableParams(m));
  g.output(loss, 'loss');
  const slotGrad = slotGrads(g, P, slots, grads, o.layout);
  slots.forEach((slot, i) => {
    let d = slotGrad[i];
    if (o.accumulate) d = g.add(g.input(accumName(slot.spec.name), 'float32', slot.spec.shape), d);
    g.output(d, gradName(slot.spec.name));
  });
  return finish(g);
}

export function buildEvalGraph(m: ModelSpec, s: BatchShape, o: { logits?: boolean; target?: Target } = {}): BuiltGraph {
  checkShape(m, s);
  const g = new Graph(`eval_b${s.batch}_t${s.seq}`, o.target);
  const P = paramInputs(g, allParams(m));
  const { loss, h } = forwardLoss(g, m, s, P);
  g.output(loss, 'loss');
  if (o.logits) {
    const f = familyOf(m.config);
    const W = P[f.head(m.config)]; // (V, C)
    g.output(g.reshape(g.gemm(h, W, null, { transB: true }), [s.batch, s.seq, f.vocabSize(m.config)]), 'logits');
  }
  return finish(g);
}

export interface AdamWConfig {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  /** Global gradient-norm clip; 0 or Infinity turns clipping off. */
  readonly maxGradNorm: number;
}
/** PyTorch's AdamW defaults, with HF Trainer's weight decay 0 raised to the usual fine-tuning 0.01 and clip 1. */
export const DEFAULT_ADAMW: AdamWConfig = Object.freeze({
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  weightDecay: 0.01,
  maxGradNorm: 1.0,
});

/**
 * AdamW step (torch.optim.AdamW, amsgrad off). Inputs: the scalars of adamwScalars (step size and epsilon with
 * the bias corrections, the decay factor, grad_scale = 1 / accumulation steps) and, per parameter (or per flat group of a layout), the value, <p>_grad, <p>.exp_avg,
 * <p>.exp_avg_sq. Outputs the three updated tensors of each (<x>.updated) and grad_norm (before clipping, as
 * clip_grad_norm_ returns).
 */
export function buildOptimizerGraph(
  params: readonly ParamSpec[] | FlatLayout,
  hp: AdamWConfig = DEFAULT_ADAMW,
): BuiltGraph {
  const g = new Graph('optimizer');
  const scalars = optimizerScalars(g);
  const specs = 'groups' in params ? params.groups : params;
  const ins = specs.map((spec) => ({
    spec,
    value: g.input(spec.name, 'float32', spec.shape),
    grad: g.input(gradName(spec.name), 'float32', spec.shape),
  }));
  emitAdamW(g, ins, scalars, hp);
  return finish(g);
}

/**
 * Forward, backward and AdamW in one graph, for steps without gradient accumulation: the gradients never leave
 * the runtime (on onnxruntime-node every output is copied into a new JavaScript buffer, so this saves a copy of
 * every weight per step). Outputs loss, grad_norm and the updated tensors, as the two graphs it fuses do: per
 * parameter, or per flat group with a layout (what the trainer uses: a few optimizer kernels instead of thousands).
 */
export function buildTrainStepGraph(
  m: ModelSpec,
  s: BatchShape,
  hp: AdamWConfig = DEFAULT_ADAMW,
  target: Target = {},
  layout?: FlatLayout,
): BuiltGraph {
  checkShape(m, s);
  const g = new Graph(`train_step_b${s.batch}_t${s.seq}`, target);
  const { P, slots } = trainingInputs(g, m, layout);
  const scalars = optimizerScalars(g);
  const { loss, grads } = forwardLoss(g, m, s, P, trainableParams(m));
  g.output(loss, 'loss');
  const slotGrad = slotGrads(g, P, slots, grads, layout);
  emitAdamW(
    g,
    slots.map((slot, i) => ({ ...slot, grad: slotGrad[i] })),
    scalars,
    hp,
  );
  return finish(g);
}

/** A layout's groups in, every member out (<name>): the trainer's weights as the other graphs take them. */
export function buildUnpackGraph(layout: FlatLayout): BuiltGraph {
  const g = new Graph('unpack');
  const { params } = flatInputs(g, layout, (grp) => g.input(grp.name, 'float32', grp.shape));
  for (const grp of layout.groups) for (const mb of grp.members) g.output(params[mb.spec.name], mb.spec.name);
  return finish(g);
}

function optimizerScalars(g: Graph) {
  const scalar = (name: string) => g.input(name, 'float32', []);
  return {
    stepSize: scalar('adamw.step_size'),
    epsHat: scalar('adamw.eps'),
    decay: scalar('adamw.decay'),
    gradScale: scalar('grad_scale'),
  };
}

/**
 * The optimizer graph's scalar inputs for step `step` (1-based) at learning rate `lr`, computed here rather than
 * in the graph (ten fewer scalar kernels a step). Bias correction folded in as torch has it:
 * p -= (lr / bc1) m / (sqrt(v) / sqrt(bc2) + eps) == p -= m (lr sqrt(bc2) / bc1) / (sqrt(v) + eps sqrt(bc2)).
 */
export function adamwScalars(hp: AdamWConfig, lr: number, step: number, gradScale: number): Record<string, number> {
  const bc1 = 1 - hp.beta1 ** step;
  const sqrtBc2 = Math.sqrt(1 - hp.beta2 ** step);
  return {
    'adamw.step_size': (lr * sqrtBc2) / bc1,
    'adamw.eps': hp.eps * sqrtBc2,
    'adamw.decay': 1 - lr * hp.weightDecay,
    grad_scale: gradScale,
  };
}

/** The AdamW update of `params` (moment inputs are added here); outputs grad_norm and the <x>.updated tensors. */
function emitAdamW(
  g: Graph,
  params: (Slot & { grad: Value })[],
  sc: ReturnType<typeof optimizerScalars>,
  hp: AdamWConfig,
): void {
  const { stepSize, epsHat, decay, gradScale } = sc;
  const ins = params.map((i) => ({
    ...i,
    m: g.input(expAvgName(i.spec.name), 'float32', i.spec.shape),
    v: g.input(expAvgSqName(i.spec.name), 'float32', i.spec.shape),
    g2: g.mul(i.grad, i.grad), // for the norm and the second moment
  }));
  // total_norm of the scaled gradients; the scale is folded into one scalar with the clip coefficient
  const sq = ins.map((i) => g.reduceSum(i.g2, null, false));
  const norm = g.mul(g.sqrt(sq.reduce((a, b) => g.add(a, b))), gradScale);
  g.output(norm, 'grad_norm');
  const clip = hp.maxGradNorm > 0 && Number.isFinite(hp.maxGradNorm);
  // clip_coef = min(1, max_norm / (norm + 1e-6))
  const coef = clip
    ? g.op1('Clip', [g.div(g.scalar(hp.maxGradNorm), g.addScalar(norm, 1e-6)), null, g.scalar(1)])
    : null;
  const gscale = coef ? g.mul(gradScale, coef) : gradScale;
  const gain1 = g.mulScalar(gscale, 1 - hp.beta1);
  const gain2 = g.mulScalar(g.mul(gscale, gscale), 1 - hp.beta2);
  for (const i of ins) {
    const p0 = i.spec.decay && hp.weightDecay ? g.mul(i.value, decay) : i.value; // p (1 - lr wd)
    const m = g.add(g.mulScalar(i.m, hp.beta1), g.mul(i.grad, gain1)); // b1 m + (1 - b1) g
    const v = g.add(g.mulScalar(i.v, hp.beta2), g.mul(i.g2, gain2)); // b2 v + (1 - b2) g^2
    const p1 = g.sub(p0, g.mul(g.div(m, g.add(g.sqrt(v), epsHat)), stepSize));
    g.output(p1, updatedName(i.spec.name));
    g.output(m, updatedName(expAvgName(i.spec.name)));
    g.output(v, updatedName(expAvgSqName(i.spec.name)));
  }
}

export interface GenerateShape {
  /** Tokens fed per call: 1 when decoding, a prompt bucket when prefilling. */
  readonly step: number;
  /** KV-cache capacity in positions (<= n_positions). */
  readonly cache: number;
}

/**
 * KV-cache decoding with a fixed-size cache: inputs input_ids (1, S), position (1,) = position of the first new
 * token, last_index (1,) = which of the S rows to return logits for, past.<i>.key/value (1, H, L, D). The new keys
 * and values are written at their positions; slots past the current position are masked, so a padded prompt's
 * tail is harmless and is overwritten by later tokens. Outputs logits (1, V) and present.<i>.key/value.
 */
export function buildGenerateGraph(m: ModelSpec, s: GenerateShape, target: Target = {}): BuiltGraph {
  const c = m.config;
  const { step: S, cache: L } = s;
  const max = familyOf(c).maxPositions(c);
  if (L > max || S > L || S < 1)
    throw new RangeError(`generate shape step=${S} cache=${L} must satisfy 1 <= step <= cache <= ${max}`);
  const g = new Graph(`generate_s${S}_l${L}`, target);
  const P = paramInputs(g, allParams(m));
  const ids = g.input('input_ids', 'int32', [1, S]);
  const position = g.input('position', 'int32', [1]);
  const last = g.input('last_index', 'int32', [1]);
  familyOf(c).generate(g, c, P, { ids, position, last, cache: L, lora: m.lora }); // logits and present.<i>.*
  return finish(g);
}

export interface ServeShape {
  /** Tokens per row: 1 when decoding, the chunk when prefilling. */
  readonly step: number;
  /** The most positions a request reaches (the server's context): RoPE's table. */
  readonly context: number;
}

/**
 * A served model's graph (models/batch-cache.ts), one for every batch and cache length: inputs input_ids (batch, S),
 * position_ids (batch * S,), past_mask (batch, cache), last_index (batch,) when S > 1 (each row's last real token
 * as a flat row index), past.<i>.key/value (batch, Hkv, cache, D) read-only; outputs logits (batch, V) and
 * new.<i>.key/value (batch, Hkv, S, D), which the caller writes into its cache. `batch`, `cache` and `tokens` are
 * symbolic in the file. With `weights` they are constant initializers, which onnxruntime prepacks once: a GPT-2
 * 124M decoding run of 8 rows took 43 ms against 78 ms with the weights as inputs, repacked on every call.
 */
export function buildServeGraph(
  m: ModelSpec,
  s: ServeShape,
  target: Target = {},
  weights?: Readonly<Record<string, Float32Array>>,
): BuiltGraph {
  const c = m.config;
  const { step: S, context } = s;
  const max = familyOf(c).maxPositions(c);
  if (S < 1 || context < S || context > max)
    throw new RangeError(`serve shape step ${S}, context ${context}: need 1 <= step <= context <= ${max}`);
  if (m.lora) throw new RangeError('a served graph runs plain weights: merge the LoRA adapter first');
  // representative sizes for the builder's shapes; none reaches the file but through the symbolic dims below
  const [B, L] = [2, Math.min(64, context)];
  const g = new Graph(`serve_s${S}`, target);
  const P = weights
    ? Object.fromEntries(allParams(m).map((p) => [p.name, g.constant('float32', p.shape, weights[p.name])]))
    : paramInputs(g, allParams(m));
  const ids = g.input('input_ids', 'int32', [B, S]);
  familyOf(c).serve(g, c, P, { ids, cache: L, rows: context + S });
  const symbolic = (name: string, shape: readonly number[]): (number | string)[] => {
    if (name === 'position_ids') return ['tokens'];
    if (name === 'past_mask') return ['batch', 'cache'];
    const dims: (number | string)[] = ['batch', ...shape.slice(1)];
    if (name.startsWith('past.')) dims[2] = 'cache';
    return dims;
  };
  const paramNames = new Set(allParams(m).map((p) => p.name));
  const nameOf = (v: Value) => g.nameOf(v);
  return {
    name: g.name,
    bytes: serializeModel(g, { dims: (n, shape) => (paramNames.has(n) ? shape : symbolic(n, shape)) }),
    inputs: g.inputs.map(nameOf),
    outputs: g.outputs.map(nameOf),
  };
}
