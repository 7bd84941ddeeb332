// The LM head and the next-token cross-entropy, fused, cut into row chunks, with their backward formed in the
// same pass: per chunk, logits = h W^T (n, V), p = softmax, nll = logsumexp - logit[label], and the gradient
// g = (p - onehot) * mask / count gives dh = g W and dW += g^T h. Nothing of shape (rows, 50257) outlives its
// chunk, where plain autodiff would keep ~6 such tensors for the whole batch until the trunk's backward ran.
// The trunk's backward starts from dh (and the embedding's from dW) as seeds (autodiff/grad.ts backprop).
import { HEAD_CHUNK_BYTES, headChunks } from '../models/head-chunks.js';
import type { Graph, Value } from '../onnx/graph.js';

export interface HeadLoss {
  /** Mean negative log-likelihood over the tokens the weights select (scalar). */
  loss: Value;
  /** d loss / d h, (N, C), when asked for. */
  dh?: Value;
  /** d loss / d W through the head, (V, C), when asked for. */
  dW?: Value;
}

/**
 * h (N, C) the final hidden states, W (V, C) the tied embedding, labels (N,) int32, weights (N,) float32 (the loss
 * mask). No gradient flows through what this builds: it returns its own.
 */
export function fusedHeadLoss(
  g: Graph,
  h: Value,
  W: Value,
  labels: Value,
  weights: Value,
  grad: { h: boolean; W: boolean },
  budget = HEAD_CHUNK_BYTES,
): HeadLoss {
  const [N] = h.shape;
  const V = W.shape[0];
  const hs = g.stopGradient(h);
  const Ws = g.stopGradient(W);
  const count = g.op1('Clip', [g.reduceSum(weights, null, false), g.scalar(1)]); // at least 1: an all-masked batch gives loss 0
  const sizes = headChunks(N, V, budget);
  const cut = (v: Value) => (sizes.length > 1 ? g.split(v, sizes, 0) : [v]);
  const [hk, lk, wk] = [cut(hs), cut(labels), cut(weights)];
  let nllSum: Value | null = null;
  let dW: Value | null = null;
  const dhs: Value[] = [];
  // g.options.vocabMajor: the same with logits as (V, n) (graph.ts says why); the softmax reduces over axis 0.
  const vm = !!g.options.vocabMajor;
  const ax = vm ? 0 : 1;
  sizes.forEach((n, k) => {
    const logits = vm ? g.gemm(Ws, hk[k], null, { transB: true }) : g.gemm(hk[k], Ws, null, { transB: true }); // (V, n) or (n, V)
    const z = g.sub(logits, g.reduceMax(logits, [ax])); // max subtracted for stability
    const e = g.exp(z);
    const s = g.reduceSum(e, [ax]); // (1, n) or (n, 1)
    const onehot = g.oneHot(lk[k], V, vm);
    const nll = g.sub(g.log(s), g.reduceSum(g.mul(z, onehot), [ax]));
    const w = g.reshape(wk[k], vm ? [1, n] : [n, 1]);
    const part = g.reduceSum(g.mul(nll, w), null, false);
    nllSum = nllSum ? g.add(nllSum, part) : part;
    if (!grad.h && !grad.W) return;
    const gl = g.mul(g.sub(g.div(e, s), onehot), g.div(w, count)); // d loss / d logits
    if (grad.h) dhs.push(vm ? g.gemm(gl, Ws, null, { transA: true }) : g.gemm(gl, Ws)); // (n, C)
    if (grad.W) dW = vm ? g.gemm(gl, hk[k], dW) : g.gemm(gl, hk[k], dW, { transA: true }); // (V, C), accumulated over chunks
  });
  return { loss: g.div(nllSum!, count), dh: grad.h ? g.concat(dhs, 0) : undefined, dW: dW ?? undefined };
}
