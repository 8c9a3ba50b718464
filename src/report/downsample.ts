// Keeps figures and the HTML small: a long series is thinned to evenly
// spaced points (by index, first and last always kept) before it is plotted.
// The tables are computed from the full series, never from the thinned one.

/** Most points drawn per line; a 600-pixel-wide plot cannot show more. */
export const MAX_POINTS = 600;

/** Every point when there are at most `max`, else `max` points at evenly spaced indices including both ends. */
export function downsample<T>(xs: readonly T[], max = MAX_POINTS): T[] {
  if (xs.length <= max) return xs.slice();
  if (max < 2) return [xs[xs.length - 1]];
  const out: T[] = [];
  for (let k = 0; k < max; k++) out.push(xs[Math.round((k * (xs.length - 1)) / (max - 1))]);
  return out;
}
