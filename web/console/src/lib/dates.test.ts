// Date ranges for analytics: a week with today, and the exclusive end the API takes.
import { describe, expect, it } from "vitest";
import { lastDays, nextDay } from "./dates";

describe("dates", () => {
  it("gives the last 7 days, today included", () => {
    expect(lastDays(7, new Date(2026, 11, 1, 15, 0))).toEqual({ since: "2026-11-25", until: "2026-12-01" });
  });

  it("turns an inclusive last day into the exclusive end, across months and years", () => {
    expect(nextDay("2026-12-01")).toBe("2026-12-02");
    expect(nextDay("2026-11-30")).toBe("2026-12-01");
    expect(nextDay("2026-12-31")).toBe("2027-01-01");
    expect(nextDay("2028-02-28")).toBe("2028-02-29");
  });
});
