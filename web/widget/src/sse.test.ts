import { describe, expect, it } from "vitest";
import { SseParser } from "./sse";

describe("SseParser", () => {
  it("dispatches events split anywhere, with ids, comments and multi-line data", () => {
    const stream = ": keep-alive\n\nid: e.1\nevent: message\ndata: {\"a\":1}\n\nevent: delta\ndata: line one\ndata: line two\r\n\r\n";
    for (let cut = 0; cut <= stream.length; cut += 1) {
      const parser = new SseParser();
      const events = [...parser.push(stream.slice(0, cut)), ...parser.push(stream.slice(cut))];
      expect(events).toEqual([
        { event: "message", data: '{"a":1}', id: "e.1" },
        { event: "delta", data: "line one\nline two", id: "e.1" },
      ]);
    }
  });

  it("ignores an event without data and treats a missing space after the colon alike", () => {
    const parser = new SseParser();
    expect(parser.push("event: done\n\nevent:x\ndata:y\n\n")).toEqual([{ event: "x", data: "y", id: undefined }]);
  });
});
