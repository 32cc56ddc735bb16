// Date ranges for analytics, in UTC whatever the machine's time zone (run with TZ set to
// America/Los_Angeles or Asia/Tokyo to check): a week with today, and the exclusive end.
import { describe, expect, it } from "vitest";
import { addDays, bucketFormat, isoDay, lastDays, nextDay, utcInstant } from "./dates";

describe("dates", () => {
  it("gives the last 7 UTC days, today included", () => {
    expect(lastDays(7, new Date(Date.UTC(2026, 11, 1, 15, 0)))).toEqual({ since: "2026-11-25", until: "2026-12-01" });
  });

  it("takes today as the UTC date, late in the UTC day and early", () => {
    // 23:30 UTC is already the next day in Tokyo, 00:30 UTC still the previous day in Los Angeles.
    expect(lastDays(1, new Date("2026-12-01T23:30:00Z"))).toEqual({ since: "2026-12-01", until: "2026-12-01" });
    expect(lastDays(1, new Date("2026-12-01T00:30:00Z"))).toEqual({ since: "2026-12-01", until: "2026-12-01" });
    expect(isoDay(new Date("2026-03-08T10:00:00Z"))).toBe("2026-03-08");
  });

  it("crosses month and year ends and DST changes in UTC", () => {
    expect(lastDays(3, new Date("2027-01-01T12:00:00Z"))).toEqual({ since: "2026-12-30", until: "2027-01-01" });
    expect(addDays("2026-03-09", -2)).toBe("2026-03-07");
    expect(addDays("2026-11-02", -1)).toBe("2026-11-01");
  });

  it("turns an inclusive last day into the exclusive end, across months and years", () => {
    expect(nextDay("2026-12-01")).toBe("2026-12-02");
    expect(nextDay("2026-11-30")).toBe("2026-12-01");
    expect(nextDay("2026-12-31")).toBe("2027-01-01");
    expect(nextDay("2028-02-28")).toBe("2028-02-29");
    expect(nextDay("2026-03-08")).toBe("2026-03-09");
  });

  it("formats bucket starts in UTC", () => {
    expect(bucketFormat("en-US", "day").format(new Date("2026-12-01T00:00:00Z"))).toBe("Dec 1");
    expect(bucketFormat("en-US", "hour").format(new Date("2026-12-01T23:00:00Z"))).toMatch(/Dec 1.*23:00/);
    expect(bucketFormat("en-US", "hour").format(new Date("2026-12-01T00:00:00Z"))).toMatch(/Dec 1.*00:00/);
  });

  it("gives bucket starts as UTC instants for the CSV", () => {
    expect(utcInstant("2026-12-01T00:00:00Z")).toBe("2026-12-01T00:00:00Z");
    expect(utcInstant("2026-12-01T01:00:00+01:00")).toBe("2026-12-01T00:00:00Z");
    expect(utcInstant("nonsense")).toBe("nonsense");
  });
});
