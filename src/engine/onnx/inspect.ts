// Reads back what a serialized ONNX model holds, from its bytes (what onnxruntime receives): the op type of every
// node, for counting dispatches per graph. A protobuf wire-format walk over ModelProto.graph (7) -> node (1) ->
// op_type (4) and domain (7); nothing else is decoded.

function varint(b: Uint8Array, at: number): [value: number, next: number] {
  let v = 0;
  let mul = 1;
  for (;;) {
    const x = b[at++];
    if (x === undefined) throw new RangeError('truncated ONNX bytes (varint runs past the end)');
    v += (x & 0x7f) * mul;
    if (x < 0x80) return [v, at];
    mul *= 128;
  }
}

/** Calls `f(field, start, end)` for each length-delimited field of the message in b[start, end); skips the rest. */
function fields(b: Uint8Array, start: number, end: number, f: (field: number, s: number, e: number) => void): void {
  let at = start;
  while (at < end) {
    let key;
    [key, at] = varint(b, at);
    const wire = key % 8;
    const field = Math.floor(key / 8);
    if (wire === 0) [, at] = varint(b, at);
    else if (wire === 1) at += 8;
    else if (wire === 5) at += 4;
    else if (wire === 2) {
      let len;
      [len, at] = varint(b, at);
      f(field, at, at + len);
      at += len;
    } else throw new RangeError(`unsupported protobuf wire type ${wire} at byte ${at}`);
  }
  if (at !== end) throw new RangeError('truncated ONNX bytes (a field runs past its message)');
}

const utf8 = new TextDecoder();

/** The op type of each node, in graph order; contrib ops as `domain:OpType`. */
export function nodeOps(model: Uint8Array): string[] {
  const ops: string[] = [];
  fields(model, 0, model.length, (f, s, e) => {
    if (f !== 7) return;
    fields(model, s, e, (gf, gs, ge) => {
      if (gf !== 1) return;
      let op = '';
      let domain = '';
      fields(model, gs, ge, (nf, ns, ne) => {
        if (nf === 4) op = utf8.decode(model.subarray(ns, ne));
        else if (nf === 7) domain = utf8.decode(model.subarray(ns, ne));
      });
      ops.push(domain && domain !== 'ai.onnx' ? `${domain}:${op}` : op);
    });
  });
  return ops;
}

/** Node counts per op type, largest first. */
export function opHistogram(model: Uint8Array): [op: string, count: number][] {
  const n = new Map<string, number>();
  for (const op of nodeOps(model)) n.set(op, (n.get(op) ?? 0) + 1);
  return [...n].sort((a, b) => b[1] - a[1]);
}
