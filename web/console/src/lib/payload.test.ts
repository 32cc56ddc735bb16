// Payload fields are shown only as strings and numbers; links only to http(s) URLs.
import { describe, expect, it } from "vitest";
import { httpUrl, json, records, scalar } from "./payload";

describe("payload", () => {
  it("keeps only the object items of a list", () => {
    expect(records(undefined)).toEqual([]);
    expect(records("x")).toEqual([]);
    expect(records({ n: 1 })).toEqual([]);
    expect(records([{ n: 1 }, null, 3, "s", [1], { n: 2 }])).toEqual([{ n: 1 }, { n: 2 }]);
  });

  it("shows strings and finite numbers only", () => {
    expect(scalar("a")).toBe("a");
    expect(scalar(3)).toBe("3");
    expect(scalar(Number.NaN)).toBeUndefined();
    expect(scalar({ toString: () => "x" })).toBeUndefined();
    expect(scalar(null)).toBeUndefined();
    expect(scalar(["a"])).toBeUndefined();
  });

  it("writes values as JSON, cut short, and never throws", () => {
    expect(json({ a: 1 })).toBe('{"a":1}');
    expect(json("x".repeat(10), 4)).toBe('"xxx…');
    expect(json(undefined)).toBe("");
    const loop: Record<string, unknown> = {};
    loop.self = loop;
    expect(json(loop)).toBe("");
    expect(json(10n)).toBe("");
  });

  it("links only to http(s) URLs", () => {
    expect(httpUrl("https://example.com/a")).toBe("https://example.com/a");
    expect(httpUrl("http://example.com")).toBe("http://example.com/");
    expect(httpUrl("javascript:alert(1)")).toBeUndefined();
    expect(httpUrl("data:text/html,x")).toBeUndefined();
    expect(httpUrl("/relative")).toBeUndefined();
    expect(httpUrl(42)).toBeUndefined();
  });
});
