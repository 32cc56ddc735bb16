// The inbox reads a transcript to its last page, and stops at the cap.
import { describe, expect, it } from "vitest";
import type { Page } from "./types";
import { readAllPages } from "./transcript";

/** A fake messages API over `total` numbered messages, answering like the server. */
function fakeApi(total: number) {
  const urls: string[] = [];
  const get = async (url: string): Promise<Page<number>> => {
    urls.push(url);
    const q = new URL(url, "http://x").searchParams;
    const limit = Math.min(Number(q.get("limit") ?? 50), 200);
    const after = q.has("cursor") ? Number(q.get("cursor")) : -1;
    const items = Array.from({ length: total }, (_, i) => i).filter((i) => i > after).slice(0, limit + 1);
    const more = items.length > limit;
    const kept = items.slice(0, limit);
    return { items: kept, next_cursor: more ? String(kept[kept.length - 1]) : null };
  };
  return { get, urls };
}

describe("readAllPages", () => {
  it("reads one page when the conversation is short", async () => {
    const api = fakeApi(3);
    expect(await readAllPages(api.get, "/m")).toEqual({ items: [0, 1, 2], capped: false });
    expect(api.urls).toEqual(["/m?limit=200"]);
  });

  it("follows next_cursor to the newest message", async () => {
    const api = fakeApi(450);
    const t = await readAllPages(api.get, "/m");
    expect(t.items).toHaveLength(450);
    expect(t.items.at(-1)).toBe(449);
    expect(t.capped).toBe(false);
    expect(api.urls).toEqual(["/m?limit=200", "/m?limit=200&cursor=199", "/m?limit=200&cursor=399"]);
  });

  it("is not capped when the conversation has exactly the cap", async () => {
    const t = await readAllPages(fakeApi(2000).get, "/m");
    expect(t.items).toHaveLength(2000);
    expect(t.capped).toBe(false);
  });

  it("stops at the cap and says so", async () => {
    const api = fakeApi(5000);
    const t = await readAllPages(api.get, "/m");
    expect(t.items).toHaveLength(2000);
    expect(t.capped).toBe(true);
    expect(api.urls).toHaveLength(10);
  });

  it("asks only for what fits under a cap that is not a multiple of the page", async () => {
    const api = fakeApi(1000);
    const t = await readAllPages(api.get, "/m", 250, 200);
    expect(t.items).toHaveLength(250);
    expect(t.capped).toBe(true);
    expect(api.urls).toEqual(["/m?limit=200", "/m?limit=50&cursor=199"]);
  });
});
