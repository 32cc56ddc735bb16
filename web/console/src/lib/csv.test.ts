// The analytics CSV export: a header row, one row per bucket, RFC 4180 quoting.
import { describe, expect, it } from "vitest";
import { csvField, seriesCsv, SERIES_COLUMNS, toCsv } from "./csv";
import type { AnalyticsBucket } from "./types";

const bucket = (start: string, over: Partial<AnalyticsBucket> = {}): AnalyticsBucket => ({
  start,
  conversations: 2,
  messages_in: 5,
  messages_out: 6,
  unique_users: 2,
  fallbacks: 1,
  fallback_rate: 0.2,
  handoffs: 0,
  handoff_rate: 0,
  feedback_up: 1,
  feedback_down: 0,
  median_response_ms: 120,
  prompt_tokens: 300,
  completion_tokens: 40,
  cost_micros: 1500,
  ...over,
});

describe("csv", () => {
  it("quotes fields with commas, quotes and line breaks only", () => {
    expect(csvField("plain")).toBe("plain");
    expect(csvField('say "hi", then')).toBe('"say ""hi"", then"');
    expect(csvField("two\nlines")).toBe('"two\nlines"');
    expect(csvField(null)).toBe("");
    expect(csvField(0)).toBe("0");
    expect(toCsv([["a", "b"], [1, null]])).toBe("a,b\r\n1,\r\n");
  });

  it("exports the series with a header row and one row per bucket", () => {
    const csv = seriesCsv([
      bucket("2026-11-30T00:00:00Z"),
      bucket("2026-12-01T00:00:00Z", { fallback_rate: null, handoff_rate: null, median_response_ms: null, conversations: 0 }),
    ]);
    const lines = csv.split("\r\n");
    expect(lines).toHaveLength(4);
    expect(lines[0]).toBe(SERIES_COLUMNS.join(","));
    expect(lines[1]).toBe("2026-11-30T00:00:00Z,2,5,6,2,1,0.2,0,0,1,0,120,300,40,1500");
    expect(lines[2]).toBe("2026-12-01T00:00:00Z,0,5,6,2,1,,0,,1,0,,300,40,1500");
    expect(lines[3]).toBe("");
  });

  it("writes bucket starts in UTC, whatever offset the API gave", () => {
    expect(seriesCsv([bucket("2026-12-01T09:00:00+09:00")]).split("\r\n")[1]).toMatch(/^2026-12-01T00:00:00Z,/);
  });
});
