/**
 * What a benchmark reports to the runner (bench/run.js): each figure with the baseline it is compared
 * with, measured in the same run, and the ratio between them. The runner collects every benchmark's
 * figures into bench/results/latest.json and a Markdown table; run on its own (`npm run bench -- NAME`
 * without the runner), a benchmark only prints its own table, and recordFigures does nothing.
 */
import { appendFileSync } from 'node:fs';
import { loadavg } from 'node:os';

export interface Figure {
  /** What was measured, e.g. "fast-upload: server CPU per request". */
  name: string;
  value: number;
  /** e.g. "µs/request", "events/s", "MiB/s", "ms", "MB". */
  unit: string;
  /** The floor or peer it is compared with, in the same unit, measured in the same run. */
  baseline?: { name: string; value: number };
  /**
   * value ÷ baseline. Lower is better for costs (CPU, latency, memory), higher for rates; `better`
   * says which, so a table can show it.
   */
  ratio?: number;
  better?: 'lower' | 'higher';
  /** The goal for the ratio (or, without a baseline, for the value), and whether it was met. */
  goal?: { limit: number; met: boolean };
}

/** `baseline` and `ratio` filled in from two measures in the same unit. */
export function compared(
  name: string,
  value: number,
  unit: string,
  baseline: { name: string; value: number },
  better: 'lower' | 'higher',
  goalLimit?: number,
): Figure {
  const ratio = baseline.value > 0 ? value / baseline.value : Number.NaN;
  const figure: Figure = { name, value, unit, baseline, ratio, better };
  if (goalLimit !== undefined)
    figure.goal = { limit: goalLimit, met: better === 'lower' ? ratio <= goalLimit : ratio >= goalLimit };
  return figure;
}

/**
 * Hands the figures of one benchmark (or of one of its scenarios, e.g. "dock-events, 1000 docks") to the
 * runner, with the machine's load average at that moment. Without the runner (BENCH_RESULTS_FILE unset)
 * it does nothing: the benchmark's own printed table is its report.
 */
export function recordFigures(
  scenario: string,
  figures: Figure[],
  notes: Record<string, unknown> = {},
): void {
  const file = process.env.BENCH_RESULTS_FILE;
  if (!file) return;
  const [load1, load5] = loadavg();
  appendFileSync(
    file,
    JSON.stringify({ scenario, at: new Date().toISOString(), load: [load1, load5], figures, notes }) + '\n',
  );
}
