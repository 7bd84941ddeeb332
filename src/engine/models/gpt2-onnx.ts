// GPT-2 as transformers.js loads it: onnx/model.onnx with past key values, in the layout of Hugging Face's Optimum
// export (inputs input_ids, attention_mask, position_ids, past_key_values.N.key/value; outputs logits,
// present.N.key/value), shapes dynamic in batch and length. The graph is small; the weights go to
// onnx/model.onnx_data as ONNX external data (views on the tensors, no copy), which transformers.js reads when
// config.json's "transformers.js_config" says use_external_data_format.
//
// The training graphs have static shapes and go through the shape-checked builder; this one needs symbolic
// dimensions, so it has its own small emitter on the same protobuf writer (onnx-raw.ts).
import { gpt2Params, type GPT2Config } from './gpt2.js';
import type { Weights } from './init.js';
import { DTYPE_CODE, float, int, ints } from '../onnx/graph.js';
import type { OutFile } from '../util/files.js';
import { attentionBias, decoderInputs, RawGraph, serialize } from '../onnx/raw.js';

export const ONNX_MODEL = 'onnx/model.onnx';
export const ONNX_DATA = 'onnx/model.onnx_data';

/** What config.json needs for transformers.js to pick these files on every device (not the q8 default of WASM). */
export const TRANSFORMERS_JS_CONFIG = { dtype: 'fp32', use_external_data_format: { 'model.onnx': 1 } };

/** The transformers.js ONNX files for a GPT-2 with (merged) weights `W`. */
export function gpt2OnnxFiles(c: GPT2Config, W: Weights): OutFile[] {
  const g = new RawGraph();
  const C = c.n_embd;
  const H = c.n_head;
  const D = C / H;
  const eps = c.layer_norm_epsilon;
  const P: Record<string, string> = {};
  for (const p of gpt2Params(c)) P[p.name] = g.const('float32', p.shape, W[p.name], true, p.name);

  decoderInputs(g, c.n_layer, H, D);
  g.outputs.push({ name: 'logits', dtype: 'float32', dims: ['batch_size', 'sequence_length', c.vocab_size] });

  const to32 = (x: string) => g.op('Cast', [x], { to: int(DTYPE_CODE.int32) });
  const h0 = g.op('Add', [
    g.op('Gather', [P['transformer.wte.weight'], to32('input_ids')]),
    g.op('Gather', [P['transformer.wpe.weight'], to32('position_ids')]),
  ]);

  const bias = attentionBias(g); // (B, 1, S, T)

  const linear = (x: string, name: string) =>
    g.op('Add', [g.op('MatMul', [x, P[`${name}.weight`]]), P[`${name}.bias`]]);
  const ln = (x: string, name: string) =>
    g.op('LayerNormalization', [x, P[`${name}.weight`], P[`${name}.bias`]], { axis: int(-1), epsilon: float(eps) });
  const heads = g.i64([0, 0, H, D]);
  const split = g.i64([C, C, C]);
  let h = h0; // (B, S, C)
  for (let i = 0; i < c.n_layer; i++) {
    const pre = `transformer.h.${i}`;
    const qkv = linear(ln(h, `${pre}.ln_1`), `${pre}.attn.c_attn`);
    const [q, k, v] = g.node('Split', [qkv, split], { axis: int(2) }, 3);
    const toHeads = (x: string) => g.op('Transpose', [g.op('Reshape', [x, heads])], { perm: ints([0, 2, 1, 3]) }); // (B, H, S, D)
    const key = g.node('Concat', [`past_key_values.${i}.key`, toHeads(k)], { axis: int(2) }, 1, [
      `present.${i}.key`,
    ])[0];
    const value = g.node('Concat', [`past_key_values.${i}.value`, toHeads(v)], { axis: int(2) }, 1, [
      `present.${i}.value`,
    ])[0];
    const qh = toHeads(g.op('Mul', [q, g.f32(1 / Math.sqrt(D))]));
    const att = g.op('Add', [g.op('MatMul', [qh, g.op('Transpose', [key], { perm: ints([0, 1, 3, 2]) })]), bias]); // (B, H, S, T)
    const y = g.op('MatMul', [g.op('Softmax', [att], { axis: int(-1) }), value]); // (B, H, S, D)
    const merged = g.op('Reshape', [g.op('Transpose', [y], { perm: ints([0, 2, 1, 3]) }), g.i64([0, 0, C])]);
    h = g.op('Add', [h, linear(merged, `${pre}.attn.c_proj`)]);
    const m = linear(ln(h, `${pre}.ln_2`), `${pre}.mlp.c_fc`); // (B, S, F)
    const x3 = g.op('Mul', [g.op('Mul', [m, m]), m]);
    const inner = g.op('Mul', [g.op('Add', [m, g.op('Mul', [x3, g.f32(0.044715)])]), g.f32(Math.sqrt(2 / Math.PI))]);
    const gelu = g.op('Mul', [g.op('Mul', [m, g.f32(0.5)]), g.op('Add', [g.op('Tanh', [inner]), g.f32(1)])]);
    h = g.op('Add', [h, linear(gelu, `${pre}.mlp.c_proj`)]);
    for (const kv of ['key', 'value'])
      g.outputs.push({
        name: `present.${i}.${kv}`,
        dtype: 'float32',
        dims: ['batch_size', H, 'total_sequence_length', D],
      });
  }
  // The tied head as a Gemm against wte (no transposed copy of the 154 MB embedding): (B*S, C) x wte^T.
  const flat = g.op('Reshape', [ln(h, 'transformer.ln_f'), g.i64([-1, C])]);
  const logits2 = g.op('Gemm', [flat, P['transformer.wte.weight']], { transB: int(1) });
  g.node(
    'Reshape',
    [logits2, g.op('Concat', [g.op('Shape', ['input_ids']), g.i64([c.vocab_size])], { axis: int(0) })],
    {},
    1,
    ['logits'],
  );
  // present.* outputs come last in the list, after logits, as in Optimum's export
  const { model, data } = serialize(g, 'model.onnx_data', 'gpt2');
  return [
    { path: ONNX_MODEL, parts: [model] },
    { path: ONNX_DATA, parts: data },
  ];
}
