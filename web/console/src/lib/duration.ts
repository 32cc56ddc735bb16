// Response times as the analytics cards show them: milliseconds with one decimal under a
// second ("2.1 ms"), seconds with one decimal from a second on ("1.2 s"), in the user's
// language ("2,1 ms" in French).

export function formatDuration(ms: number, lang: string): string {
  const one = new Intl.NumberFormat(lang, { minimumFractionDigits: 1, maximumFractionDigits: 1 });
  // 999.96 ms would read "1,000.0 ms": from where it rounds to a second, show seconds.
  if (Math.round(ms * 10) < 10_000) return `${one.format(ms)} ms`;
  return `${one.format(ms / 1000)} s`;
}
