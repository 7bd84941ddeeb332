// The loss charts (uPlot: canvas, stays fluid over thousands of points), in the theme's colours, each with a text
// alternative (the last values) for screen readers. LossChart: the run's training loss raw and smoothed (EMA) and
// its validation points, optional log scale, redrawn at most once per animation frame. OverlayChart: the smoothed
// training loss of several stored runs, one line each.
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { EvalPoint, RunCurve, StepPoint } from '../protocol.js';

interface Props {
  steps: StepPoint[];
  evals: EvalPoint[];
  smoothing: number;
  log: boolean;
  /** Changes whenever steps grows (the array is appended in place). */
  version: number;
}

const css = (name: string) => getComputedStyle(document.documentElement).getPropertyValue(name).trim() || undefined;
const chartHeight = () => Math.round(Math.max(160, Math.min(380, window.innerHeight * 0.3)));

function ema(values: ArrayLike<number>, smoothing: number): Float64Array {
  const out = new Float64Array(values.length);
  let e = NaN;
  for (let i = 0; i < values.length; i++)
    out[i] = e = Number.isNaN(e) ? values[i] : smoothing * e + (1 - smoothing) * values[i];
  return out;
}

function series(steps: StepPoint[], evals: EvalPoint[], smoothing: number): uPlot.AlignedData {
  const x = Float64Array.from(steps, (p) => p.step);
  const raw = Float64Array.from(steps, (p) => p.loss);
  const evalAt = new Map(evals.map((e) => [e.step, e.loss]));
  const ev = steps.map((p) => evalAt.get(p.step) ?? null);
  return [x, raw, ema(raw, smoothing), ev] as unknown as uPlot.AlignedData;
}

/** A uPlot in `el`, rebuilt when `deps` change, resized with the window. */
function usePlot(
  el: React.RefObject<HTMLDivElement | null>,
  make: () => uPlot.Options,
  data: () => uPlot.AlignedData,
  deps: unknown[],
) {
  const plot = useRef<uPlot | null>(null);
  useEffect(() => {
    plot.current = new uPlot(make(), data(), el.current!);
    const resize = () => plot.current?.setSize({ width: el.current!.clientWidth, height: chartHeight() });
    window.addEventListener('resize', resize);
    return () => {
      window.removeEventListener('resize', resize);
      plot.current?.destroy();
      plot.current = null;
    };
    // `deps` is the caller's say on what rebuilds the plot (as for useEffect); `make` and `data` are new each render
    // eslint-disable-next-line react-hooks/exhaustive-deps -- see the line above
  }, deps);
  return plot;
}

const axes = (): uPlot.Axis[] => {
  const stroke = css('--muted');
  const grid = { stroke: css('--chart-grid'), width: 1 };
  return [
    { label: 'step', stroke, grid, ticks: grid },
    { label: 'loss', stroke, grid, ticks: grid },
  ];
};

export function LossChart({ steps, evals, smoothing, log, version }: Props) {
  const el = useRef<HTMLDivElement>(null);
  const frame = useRef(0);
  const plot = usePlot(
    el,
    () => ({
      width: el.current!.clientWidth || 600,
      height: chartHeight(),
      scales: { x: { time: false }, y: { distr: log ? 3 : 1 } },
      axes: axes(),
      series: [
        {},
        { label: 'train (raw)', stroke: css('--chart-raw'), width: 1 },
        { label: 'train (smoothed)', stroke: css('--chart-line'), width: 2 },
        {
          label: 'validation',
          stroke: css('--chart-eval'),
          width: 0,
          points: { show: true, size: 7, fill: css('--chart-eval') },
          spanGaps: true,
        },
      ],
      legend: { live: false },
    }),
    () => series(steps, evals, smoothing),
    [log],
  ); // data goes through setData below

  useEffect(() => {
    cancelAnimationFrame(frame.current);
    frame.current = requestAnimationFrame(() => plot.current?.setData(series(steps, evals, smoothing)));
  }, [steps, evals, smoothing, version, plot]);

  const last = steps[steps.length - 1];
  const lastEval = evals[evals.length - 1];
  const summary = !last
    ? 'Loss chart: no steps yet.'
    : `Loss chart: ${steps.length} steps; training loss ${last.loss.toFixed(3)} at step ${last.step} (first ${steps[0].loss.toFixed(3)})` +
      (lastEval
        ? `; validation loss ${lastEval.loss.toFixed(3)} at step ${lastEval.step}.`
        : '; no validation loss yet.');
  return (
    <figure style={{ margin: 0 }}>
      <div
        ref={el}
        className="chart"
        data-testid="loss-chart"
        data-points={steps.length}
        role="img"
        aria-label={summary}
      />
      <figcaption className="sr-only" data-testid="chart-summary">
        {summary}
      </figcaption>
    </figure>
  );
}

const PALETTE = ['#2f6fd6', '#d6542f', '#1f9d55', '#9b59b6', '#c9a100', '#0097a7', '#e91e63', '#6d4c41'];

/** The smoothed training loss of each run in `curves`, on a shared step axis. */
export function OverlayChart({
  curves,
  smoothing = 0.6,
}: {
  curves: (RunCurve & { label: string })[];
  smoothing?: number;
}) {
  const el = useRef<HTMLDivElement>(null);
  const data = (): uPlot.AlignedData => {
    const xs = [...new Set(curves.flatMap((c) => c.steps.map((p) => p.step)))].sort((a, b) => a - b);
    const cols = curves.map((c) => {
      const smooth = ema(
        c.steps.map((p) => p.loss),
        smoothing,
      );
      const at = new Map(c.steps.map((p, i) => [p.step, smooth[i]]));
      return xs.map((x) => at.get(x) ?? null);
    });
    return [xs, ...cols] as unknown as uPlot.AlignedData;
  };
  usePlot(
    el,
    () => ({
      width: el.current!.clientWidth || 600,
      height: chartHeight(),
      scales: { x: { time: false } },
      axes: axes(),
      series: [
        {},
        ...curves.map((c, i) => ({ label: c.label, stroke: PALETTE[i % PALETTE.length], width: 2, spanGaps: true })),
      ],
      legend: { live: false },
    }),
    data,
    [curves, smoothing],
  );
  const summary =
    `Training loss of ${curves.length} runs: ` +
    curves
      .map((c) => `${c.label}: ${c.steps.at(-1)?.loss.toFixed(3) ?? '-'} at step ${c.steps.at(-1)?.step ?? 0}`)
      .join('; ') +
    '.';
  return (
    <figure style={{ margin: '8px 0' }}>
      <div
        ref={el}
        className="chart"
        data-testid="overlay-chart"
        data-series={curves.length}
        role="img"
        aria-label={summary}
      />
      <figcaption className="sr-only">{summary}</figcaption>
    </figure>
  );
}
