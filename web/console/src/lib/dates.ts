// Dates as the analytics API takes them: YYYY-MM-DD read as midnight UTC, buckets that are UTC
// days or hours. Everything here is UTC, whatever the browser's time zone, so the days picked
// in the form are the days the API counts.

const pad = (n: number) => String(n).padStart(2, "0");

/** The UTC calendar day of `date`, as YYYY-MM-DD. */
export function isoDay(date: Date): string {
  return `${date.getUTCFullYear()}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())}`;
}

/** The UTC day `offset` days from `day` (YYYY-MM-DD). */
export function addDays(day: string, offset: number): string {
  const [y, m, d] = day.split("-").map(Number) as [number, number, number];
  return isoDay(new Date(Date.UTC(y, m - 1, d + offset)));
}

/** The last `days` UTC days, today (the current UTC date) included. */
export function lastDays(days: number, now = new Date()): { since: string; until: string } {
  const today = isoDay(now);
  return { since: addDays(today, -(days - 1)), until: today };
}

/** The day after `day` (YYYY-MM-DD): the API's `until` is exclusive, the form's "To" is not. */
export function nextDay(day: string): string {
  return addDays(day, 1);
}

/** Formats a bucket start (an RFC 3339 instant) in UTC, as the API's buckets are UTC. */
export function bucketFormat(locale: string | undefined, interval: "hour" | "day"): Intl.DateTimeFormat {
  return new Intl.DateTimeFormat(
    locale,
    interval === "hour"
      ? { timeZone: "UTC", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23" }
      : { timeZone: "UTC", month: "short", day: "numeric" },
  );
}

/** A bucket start as an ISO 8601 UTC instant (`…Z`), for the CSV; the input when unparsable. */
export function utcInstant(start: string): string {
  const time = Date.parse(start);
  return Number.isNaN(time) ? start : new Date(time).toISOString().replace(".000Z", "Z");
}
