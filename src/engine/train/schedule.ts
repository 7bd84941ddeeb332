// Learning-rate schedules: linear warmup from 0, then cosine or linear decay to minLrRatio * lr, or constant.
// Step numbers are 1-based optimizer steps, as in HF's get_cosine_schedule_with_warmup (which is 0-based; the
// curve is the same shifted by one so that step 1 already trains).
export type ScheduleKind = 'cosine' | 'linear' | 'constant';

export interface Schedule {
  readonly kind: ScheduleKind;
  readonly lr: number;
  readonly warmupSteps: number;
  readonly totalSteps: number;
  /** Final learning rate as a fraction of lr. */
  readonly minLrRatio: number;
}

export function learningRate(s: Schedule, step: number): number {
  if (s.warmupSteps > 0 && step <= s.warmupSteps) return (s.lr * step) / s.warmupSteps;
  if (s.kind === 'constant') return s.lr;
  const span = Math.max(1, s.totalSteps - s.warmupSteps);
  const progress = Math.min(1, Math.max(0, (step - s.warmupSteps) / span));
  const shape = s.kind === 'cosine' ? 0.5 * (1 + Math.cos(Math.PI * progress)) : 1 - progress;
  return s.lr * (s.minLrRatio + (1 - s.minLrRatio) * shape);
}
