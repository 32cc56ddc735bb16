// Reading every page of a list, up to a most items.
import { describe, expect, it } from "vitest";
import { readPages } from "./pages";
import type { Page } from "./types";

function fakeApi(total: number) {
  const urls: string[] = [];
  const get = async (url: string): Promise<Page<number>> => {
    urls.push(url);
    const q = new URL(url, "http://x").searchParams;
    const limit = Number(q.get("limit"));
    const from = q.has("cursor") ? Number(q.get("cursor")) + 1 : 0;
    const items = Array.from({ length: Math.max(0, Math.min(limit, total - from)) }, (_, i) => from + i);
    return { items, next_cursor: from + limit < total ? String(from + limit - 1) : null };
  };
  return { get, urls };
}

describe("readPages", () => {
  it("reads one page of a short list", async () => {
    const api = fakeApi(3);
    expect(await readPages(api.get, "/bots", 1000)).toEqual([0, 1, 2]);
    expect(api.urls).toEqual(["/bots?limit=100"]);
  });

  it("follows next_cursor, keeping the path's query", async () => {
    const api = fakeApi(250);
    const items = await readPages(api.get, "/c?status=handoff", 500);
    expect(items).toHaveLength(250);
    expect(api.urls).toEqual(["/c?status=handoff&limit=100", "/c?status=handoff&limit=100&cursor=99", "/c?status=handoff&limit=100&cursor=199"]);
  });

  it("stops at the most items", async () => {
    const api = fakeApi(5000);
    expect(await readPages(api.get, "/bots", 1000)).toHaveLength(1000);
    expect(api.urls).toHaveLength(10);
    const few = fakeApi(5000);
    expect(await readPages(few.get, "/c", 150)).toHaveLength(150);
    expect(few.urls.at(-1)).toBe("/c?limit=50&cursor=99");
  });
});
