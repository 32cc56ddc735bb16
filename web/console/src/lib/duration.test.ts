// The "Median response" card: one decimal, milliseconds under a second, seconds above.
import { describe, expect, it } from "vitest";
import { formatDuration } from "./duration";

describe("formatDuration", () => {
  it("shows milliseconds with one decimal under a second", () => {
    expect(formatDuration(2.06, "en")).toBe("2.1 ms");
    expect(formatDuration(0, "en")).toBe("0.0 ms");
    expect(formatDuration(250, "en")).toBe("250.0 ms");
    expect(formatDuration(999.9, "en")).toBe("999.9 ms");
  });

  it("shows seconds with one decimal from a second on", () => {
    expect(formatDuration(1000, "en")).toBe("1.0 s");
    expect(formatDuration(1234, "en")).toBe("1.2 s");
    expect(formatDuration(999.96, "en")).toBe("1.0 s");
    expect(formatDuration(61_500, "en")).toBe("61.5 s");
  });

  it("uses the language's decimal separator", () => {
    expect(formatDuration(2.06, "fr")).toBe("2,1 ms");
    expect(formatDuration(1234, "fr")).toBe("1,2 s");
  });
});
