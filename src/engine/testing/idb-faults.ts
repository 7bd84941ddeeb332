// Fault injection for IndexedDB in tests (fake-indexeddb in Node): after `n` more successful puts, every put
// throws the QuotaExceededError a full disk gives in a browser. Returns the function that undoes it.
export function failPutsAfter(n: number): () => void {
  const proto = (globalThis as unknown as { IDBObjectStore: { prototype: { put: (...a: unknown[]) => unknown } } })
    .IDBObjectStore.prototype;
  const put = proto.put;
  let left = n;
  proto.put = function (this: unknown, ...a: unknown[]) {
    if (left-- <= 0) throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
    return put.apply(this, a);
  };
  return () => {
    proto.put = put;
  };
}
