// The live loss chart (uPlot: canvas, stays fluid over thousands of points): training loss with EMA smoothing,
// validation loss as points, optional log scale. Redraws at most once per animation frame.
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { EvalPoint, StepPoint } from '../protocol.js';

interface Props {
  steps: StepPoint[];
  evals: EvalPoint[];
  smoothing: number;
  log: boolean;
  /** Changes whenever steps grows (the array is appended in place). */
  version: number;
}

function series(steps: StepPoint[], evals: EvalPoint[], smoothing: number): uPlot.AlignedData {
  const x = new Float64Array(steps.length);
  const raw = new Float64Array(steps.length);
  const smooth = new Float64Array(steps.length);
  const ev: (number | null)[] = new Array(steps.length).fill(null);
  const evalAt = new Map(evals.map((e) => [e.step, e.loss]));
  let ema = NaN;
  steps.forEach((p, i) => {
    x[i] = p.step;
    raw[i] = p.loss;
    ema = Number.isNaN(ema) ? p.loss : smoothing * ema + (1 - smoothing) * p.loss;
    smooth[i] = ema;
    ev[i] = evalAt.get(p.step) ?? null;
  });
  return [x, raw, smooth, ev] as unknown as uPlot.AlignedData;
}

export function LossChart({ steps, evals, smoothing, log, version }: Props) {
  const el = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const frame = useRef(0);

  useEffect(() => {
    const opts: uPlot.Options = {
      width: el.current!.clientWidth || 600,
      height: 260,
      scales: { x: { time: false }, y: { distr: log ? 3 : 1 } },
      axes: [{ label: 'step' }, { label: 'loss' }],
      series: [
        {},
        { label: 'train (raw)', stroke: 'rgba(80,120,200,0.3)', width: 1 },
        { label: 'train (smoothed)', stroke: '#2f6fd6', width: 2 },
        { label: 'validation', stroke: '#d6542f', width: 0, points: { show: true, size: 7, fill: '#d6542f' }, spanGaps: true },
      ],
      legend: { live: false },
    };
    plot.current = new uPlot(opts, series(steps, evals, smoothing), el.current!);
    const resize = () => plot.current?.setSize({ width: el.current!.clientWidth, height: 260 });
    window.addEventListener('resize', resize);
    return () => {
      window.removeEventListener('resize', resize);
      plot.current?.destroy();
      plot.current = null;
    };
    // rebuilt only when the scale kind changes; data goes through setData below
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [log]);

  useEffect(() => {
    cancelAnimationFrame(frame.current);
    frame.current = requestAnimationFrame(() => plot.current?.setData(series(steps, evals, smoothing)));
  }, [steps, evals, smoothing, version]);

  return <div ref={el} className="chart" data-testid="loss-chart" data-points={steps.length} />;
}
