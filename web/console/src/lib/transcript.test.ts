// The inbox opens a conversation with its newest messages, then polls only for what came after.
import { describe, expect, it } from "vitest";
import type { Page } from "./types";
import { appendNew, pollTranscript, readAfter, readLast } from "./transcript";

type M = { id: string };
const m = (n: number): M => ({ id: `m${String(n).padStart(5, "0")}` });

/** A fake messages API over a growing list of numbered messages, answering like the server. */
function fakeApi(total: number) {
  const urls: string[] = [];
  const messages = Array.from({ length: total }, (_, i) => m(i));
  const get = async (url: string): Promise<Page<M>> => {
    urls.push(url);
    const q = new URL(url, "http://x").searchParams;
    if (q.has("last")) {
      const last = Number(q.get("last"));
      return { items: messages.slice(Math.max(0, messages.length - last)), next_cursor: null };
    }
    const limit = Math.min(Number(q.get("limit") ?? 50), 200);
    const cursor = q.get("cursor");
    const from = cursor ? messages.findIndex((x) => x.id === cursor) + 1 : 0;
    const items = messages.slice(from, from + limit);
    const more = from + limit < messages.length;
    return { items, next_cursor: more ? items[items.length - 1]!.id : null };
  };
  return { get, urls, add: (n: number) => messages.push(...Array.from({ length: n }, (_, i) => m(messages.length + i))) };
}

describe("transcript", () => {
  it("opens a short conversation with all its messages, not capped", async () => {
    const api = fakeApi(3);
    expect(await readLast(api.get, "/m")).toEqual({ items: [m(0), m(1), m(2)], capped: false });
    expect(api.urls).toEqual(["/m?last=500"]);
  });

  it("opens a long conversation with its newest 500 and says older ones are missing", async () => {
    const api = fakeApi(1200);
    const t = await readLast(api.get, "/m");
    expect(t.items).toHaveLength(500);
    expect(t.items[0]).toEqual(m(700));
    expect(t.items.at(-1)).toEqual(m(1199));
    expect(t.capped).toBe(true);
  });

  it("says so when exactly 500 came back", async () => {
    expect((await readLast(fakeApi(500).get, "/m")).capped).toBe(true);
    expect((await readLast(fakeApi(499).get, "/m")).capped).toBe(false);
  });

  it("reads what came after a message, following next_cursor", async () => {
    const api = fakeApi(450);
    const after = await readAfter(api.get, "/m", m(9).id);
    expect(after).toHaveLength(440);
    expect(after[0]).toEqual(m(10));
    expect(api.urls).toEqual(["/m?cursor=m00009&limit=200", "/m?cursor=m00209&limit=200", "/m?cursor=m00409&limit=200"]);
  });

  it("stops after the most pages one poll follows", async () => {
    const api = fakeApi(5000);
    expect(await readAfter(api.get, "/m", m(0).id, 2)).toHaveLength(400);
    expect(api.urls).toHaveLength(2);
  });

  it("polls for new messages only and appends them once", async () => {
    const api = fakeApi(2);
    let t = await pollTranscript(api.get, "/m", undefined);
    expect(t.items).toEqual([m(0), m(1)]);
    const same = await pollTranscript(api.get, "/m", t);
    expect(same).toBe(t);
    api.add(3);
    t = await pollTranscript(api.get, "/m", t);
    expect(t.items.map((x) => x.id)).toEqual(["m00000", "m00001", "m00002", "m00003", "m00004"]);
    expect(api.urls).toEqual(["/m?last=500", "/m?cursor=m00001&limit=200", "/m?cursor=m00001&limit=200"]);
  });

  it("keeps the capped note while polling, and opens again while a conversation is empty", async () => {
    const api = fakeApi(0);
    let t = await pollTranscript(api.get, "/m", undefined);
    expect(t).toEqual({ items: [], capped: false });
    api.add(1);
    t = await pollTranscript(api.get, "/m", t);
    expect(t.items).toEqual([m(0)]);
    expect(api.urls).toEqual(["/m?last=500", "/m?last=500"]);
    const capped = await pollTranscript(api.get, "/m", { items: [m(0)], capped: true });
    expect(capped.capped).toBe(true);
  });

  it("drops duplicates and items without an id", () => {
    expect(appendNew([m(1), m(2)], [m(2), m(3), m(3), null as unknown as M, { id: 4 } as unknown as M])).toEqual([m(1), m(2), m(3)]);
  });
});
