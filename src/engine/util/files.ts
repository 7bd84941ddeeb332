// What an export is made of before it is written anywhere: files as lists of byte parts (views on the weights,
// never one concatenated copy), so a 124M model's 500 MB of weights can go to a folder, a zip or a Blob without a
// second copy in memory.
export interface OutFile {
  /** Path inside the export, '/'-separated. */
  readonly path: string;
  readonly parts: readonly Uint8Array[];
}

const enc = new TextEncoder();

export function textFile(path: string, text: string): OutFile {
  return { path, parts: [enc.encode(text)] };
}

export function jsonFile(path: string, value: unknown): OutFile {
  return textFile(path, `${JSON.stringify(value, null, 2)}\n`);
}

export function fileSize(f: OutFile): number {
  return f.parts.reduce((n, p) => n + p.byteLength, 0);
}

export function totalSize(files: readonly OutFile[]): number {
  return files.reduce((n, f) => n + fileSize(f), 0);
}

/** One file's content joined (small files, tests). */
export function joined(f: OutFile): Uint8Array {
  const out = new Uint8Array(fileSize(f));
  let o = 0;
  for (const p of f.parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
}

/** Moves every file under a folder. */
export function under(prefix: string, files: readonly OutFile[]): OutFile[] {
  return files.map((f) => ({ path: `${prefix}/${f.path}`, parts: f.parts }));
}
