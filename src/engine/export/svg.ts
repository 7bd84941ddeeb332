// The loss curve as a small standalone SVG for the model card: training loss (raw, light; smoothed, dark) and
// validation loss (points), with the axes labelled. No fonts or scripts: it renders on the Hub and in any viewer.
interface Point {
  step: number;
  loss: number;
}

const W = 640;
const H = 320;
const PAD = { left: 56, right: 16, top: 20, bottom: 40 };

const esc = (s: string) => s.replace(/[<>&]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;' })[c]!);

/** Exponential moving average, debiased (as the studio's chart smooths). */
function smooth(ps: readonly Point[], beta = 0.9): Point[] {
  let m = 0;
  return ps.map((p, i) => {
    m = beta * m + (1 - beta) * p.loss;
    return { step: p.step, loss: m / (1 - beta ** (i + 1)) };
  });
}

export function lossCurveSvg(train: readonly Point[], evals: readonly Point[]): string {
  const ok = (p: Point) => Number.isFinite(p.loss);
  const tr = train.filter(ok);
  const ev = evals.filter(ok);
  const all = [...tr, ...ev];
  const head = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`;
  if (!all.length)
    return `${head}<text x="${W / 2}" y="${H / 2}" text-anchor="middle">no losses recorded</text></svg>\n`;
  const maxStep = Math.max(1, ...all.map((p) => p.step));
  let lo = Math.min(...all.map((p) => p.loss));
  let hi = Math.max(...all.map((p) => p.loss));
  if (hi - lo < 1e-6) {
    lo -= 0.5;
    hi += 0.5;
  }
  const x = (s: number) => PAD.left + ((W - PAD.left - PAD.right) * s) / maxStep;
  const y = (l: number) => PAD.top + ((H - PAD.top - PAD.bottom) * (hi - l)) / (hi - lo);
  const path = (ps: readonly Point[]) =>
    ps.map((p, i) => `${i ? 'L' : 'M'}${x(p.step).toFixed(1)},${y(p.loss).toFixed(1)}`).join('');
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => lo + f * (hi - lo));
  const out = [head, `<rect width="${W}" height="${H}" fill="white"/>`];
  for (const t of ticks) {
    out.push(
      `<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}" stroke="#e5e5e5"/>`,
    );
    out.push(`<text x="${PAD.left - 6}" y="${(y(t) + 4).toFixed(1)}" text-anchor="end">${t.toFixed(2)}</text>`);
  }
  out.push(
    `<text x="${PAD.left}" y="${H - 20}" text-anchor="middle">0</text><text x="${W - PAD.right}" y="${H - 20}" text-anchor="end">${maxStep}</text>`,
  );
  out.push(`<text x="${(PAD.left + W - PAD.right) / 2}" y="${H - 6}" text-anchor="middle">${esc('step')}</text>`);
  if (tr.length) {
    out.push(`<path d="${path(tr)}" fill="none" stroke="#9ecae1" stroke-width="1"/>`);
    out.push(`<path d="${path(smooth(tr))}" fill="none" stroke="#08519c" stroke-width="2"/>`);
  }
  for (const p of ev)
    out.push(`<circle cx="${x(p.step).toFixed(1)}" cy="${y(p.loss).toFixed(1)}" r="4" fill="#d94801"/>`);
  out.push(
    `<text x="${W - PAD.right}" y="14" text-anchor="end"><tspan fill="#08519c">training loss (smoothed)</tspan>${ev.length ? ' <tspan fill="#d94801">● validation loss</tspan>' : ''}</text>`,
  );
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
