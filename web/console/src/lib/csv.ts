// CSV export of the analytics series (RFC 4180: CRLF lines, fields quoted when needed).

import { utcInstant } from "./dates";
import type { AnalyticsBucket } from "./types";

/** One CSV field: empty for null, quoted when it holds a comma, quote or line break. */
export function csvField(value: unknown): string {
  if (value === null || value === undefined) return "";
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** Rows (the first one a header) as CSV text. */
export function toCsv(rows: readonly (readonly unknown[])[]): string {
  return rows.map((row) => row.map(csvField).join(",")).join("\r\n") + "\r\n";
}

/** The columns of an analytics export, in order. */
export const SERIES_COLUMNS = [
  "start",
  "conversations",
  "messages_in",
  "messages_out",
  "unique_users",
  "fallbacks",
  "fallback_rate",
  "handoffs",
  "handoff_rate",
  "feedback_up",
  "feedback_down",
  "median_response_ms",
  "prompt_tokens",
  "completion_tokens",
  "cost_micros",
] as const satisfies readonly (keyof AnalyticsBucket)[];

/** The series as CSV: a header row and one row per bucket, each bucket's start a UTC instant. */
export function seriesCsv(series: readonly AnalyticsBucket[]): string {
  return toCsv([
    SERIES_COLUMNS,
    ...series.map((bucket) => SERIES_COLUMNS.map((column) => (column === "start" ? utcInstant(bucket.start) : bucket[column]))),
  ]);
}

/** Makes the browser download `text` as `filename`. */
export function downloadText(filename: string, text: string, type = "text/csv;charset=utf-8"): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
