// A local stand-in for the Hugging Face Hub, for tests: GET /{repo}/resolve/{revision}/{file} with Range requests
// (206 + Content-Range), If-Range, ETags (LFS-style sha256 in X-Linked-Etag for .safetensors), 404, 401 for gated
// repos without the token, and a connection cut after N bytes (once per file) to test resume.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface StandInHub {
  url: string;
  /** Every request as "METHOD path [range]". */
  requests: string[];
  /** Cut the next download of `file` after `bytes` bytes. */
  cutNext(file: string, bytes: number): void;
  close(): Promise<void>;
}

export interface StandInOptions {
  /** "repo@revision/file" -> bytes */
  files: Record<string, Uint8Array>;
  gated?: { repo: string; token: string }[];
  /** Delay per 64 KiB, to make progress observable (files under 64 MiB only: real-size checkpoints go at full speed). */
  slowMs?: number;
  /** Allow a page on another origin to fetch (the studio, under COEP). */
  cors?: boolean;
  /** Test controls: GET /__requests lists the requests, GET /__cut?file=F&bytes=N cuts the next download of F. */
  control?: boolean;
}

export async function startStandInHub(o: StandInOptions, port = 0): Promise<StandInHub> {
  const requests: string[] = [];
  const cuts = new Map<string, number>();
  const etags = new Map<string, string>();
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    requests.push(`${req.method} ${req.url}${req.headers.range ? ` ${req.headers.range}` : ''}`);
    if (o.cors) {
      res.setHeader('Access-Control-Allow-Origin', '*');
      res.setHeader('Access-Control-Allow-Headers', 'Range, If-Range, Authorization');
      res.setHeader(
        'Access-Control-Expose-Headers',
        'ETag, X-Linked-Etag, Content-Range, Content-Length, X-Linked-Size',
      );
      res.setHeader('Cross-Origin-Resource-Policy', 'cross-origin');
      if (req.method === 'OPTIONS') return void res.writeHead(204).end();
    }
    if (o.control && req.url?.startsWith('/__')) {
      const u = new URL(req.url, 'http://x');
      if (u.pathname === '/__cut') cuts.set(u.searchParams.get('file')!, Number(u.searchParams.get('bytes')));
      res.writeHead(200, { 'Content-Type': 'application/json' });
      return void res.end(JSON.stringify(requests.filter((r) => !r.includes(' /__'))));
    }
    const m = decodeURIComponent(req.url ?? '').match(/^\/(.+?)\/resolve\/([^/]+)\/(.+)$/);
    const key = m && `${m[1]}@${m[2]}/${m[3]}`;
    const gate = m && o.gated?.find((g) => g.repo === m[1]);
    if (gate && req.headers.authorization !== `Bearer ${gate.token}`) return void res.writeHead(401).end('gated');
    const body = key ? o.files[key] : undefined;
    if (!body) return void res.writeHead(404).end('not found');
    const etag = etags.get(key!) ?? createHash('sha256').update(body).digest('hex');
    etags.set(key!, etag);
    const headers: Record<string, string> = {
      ETag: `"${etag}"`,
      'Accept-Ranges': 'bytes',
      'Content-Type': 'application/octet-stream',
    };
    if (m![3].endsWith('.safetensors')) headers['X-Linked-Etag'] = `"${etag}"`;
    let start = 0;
    const range = req.headers.range?.match(/^bytes=(\d+)-$/);
    const ifRange = String(req.headers['if-range'] ?? '').replace(/"/g, '');
    if (range && (!ifRange || ifRange === etag)) start = Number(range[1]);
    const part = body.subarray(start);
    res.writeHead(start > 0 ? 206 : 200, {
      ...headers,
      'Content-Length': String(part.length),
      ...(start > 0 ? { 'Content-Range': `bytes ${start}-${body.length - 1}/${body.length}` } : {}),
    });
    if (req.method === 'HEAD') return void res.end();
    const cut = cuts.get(m![3]);
    if (cut !== undefined) cuts.delete(m![3]);
    const step = 64 * 1024;
    for (let off = 0; off < part.length; off += step) {
      if (cut !== undefined && off >= cut) return void res.destroy();
      if (o.slowMs && body.length < 64 * 2 ** 20) await new Promise((r) => setTimeout(r, o.slowMs));
      if (!res.write(part.subarray(off, Math.min(off + step, part.length))))
        await new Promise((r) => res.once('drain', r));
    }
    res.end();
  };
  const server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  const { port: p } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${p}`,
    requests,
    cutNext: (file, bytes) => cuts.set(file, bytes),
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
