// Lists the API pages with `next_cursor`: read page after page, up to a most items.

import type { Page } from "./types";

/**
 * The items of `path` (which may already hold a query), `pageSize` at a time, following
 * `next_cursor` until the last page or `max` items. `get` fetches one URL.
 */
export async function readPages<T>(get: (url: string) => Promise<Page<T>>, path: string, max: number, pageSize = 100): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | null = null;
  const sep = path.includes("?") ? "&" : "?";
  while (items.length < max) {
    const query = new URLSearchParams({ limit: String(Math.min(pageSize, max - items.length)) });
    if (cursor) query.set("cursor", cursor);
    const page: Page<T> = await get(`${path}${sep}${query}`);
    const got = Array.isArray(page.items) ? page.items : [];
    items.push(...got.slice(0, max - items.length));
    const next: string | null = page.next_cursor ?? null;
    if (!next || got.length === 0 || next === cursor) break;
    cursor = next;
  }
  return items;
}
