// Dates as the analytics API takes them (YYYY-MM-DD, the user's calendar days).

const pad = (n: number) => String(n).padStart(2, "0");

export function isoDay(date: Date): string {
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

/** The last `days` days, today included. */
export function lastDays(days: number, today = new Date()): { since: string; until: string } {
  const start = new Date(today);
  start.setDate(start.getDate() - (days - 1));
  return { since: isoDay(start), until: isoDay(today) };
}

/** The day after `day` (YYYY-MM-DD): the API's `until` is exclusive, the form's "To" is not. */
export function nextDay(day: string): string {
  const [y, m, d] = day.split("-").map(Number) as [number, number, number];
  return isoDay(new Date(y, m - 1, d + 1));
}
