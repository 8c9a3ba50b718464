// How numbers read in the report's tables. Locale-free, so the same files
// give the same HTML on every machine; a missing value is an em dash.

export const MISSING = '—';

type Maybe = number | null | undefined;

/** An error fraction as a percentage: 0.1234 → "12.34%". */
export function fmtPercent(x: Maybe): string {
  return x === null || x === undefined ? MISSING : `${(x * 100).toFixed(2)}%`;
}

/** Degrees with one decimal: "37.2°". */
export function fmtAngle(x: Maybe): string {
  return x === null || x === undefined ? MISSING : `${x.toFixed(1)}°`;
}

/** Images per second, whole numbers with thin-space thousands: "12 345". */
export function fmtRate(x: Maybe): string {
  if (x === null || x === undefined) return MISSING;
  return String(Math.round(x)).replace(/\B(?=(\d{3})+(?!\d))/g, '\u2009');
}

/** A duration: "42.0 s", "3 min 05 s", "2 h 07 min". */
export function fmtDuration(s: Maybe): string {
  if (s === null || s === undefined) return MISSING;
  if (s < 60) return `${s.toFixed(1)} s`;
  const whole = Math.round(s);
  if (whole < 3600) return `${Math.floor(whole / 60)} min ${String(whole % 60).padStart(2, '0')} s`;
  const min = Math.round(s / 60);
  return `${Math.floor(min / 60)} h ${String(min % 60).padStart(2, '0')} min`;
}

/** A configuration value as text: strings bare, everything else as JSON. */
export function fmtValue(v: unknown): string {
  if (v === undefined) return MISSING;
  return typeof v === 'string' ? v : JSON.stringify(v);
}
