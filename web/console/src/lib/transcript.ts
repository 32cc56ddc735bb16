// A conversation's whole transcript: the messages API answers oldest first, one page at a time,
// so the newest messages are on the last page. Every page is read (following `next_cursor`), up
// to a cap, so a long conversation cannot make the console load without end.

import type { Page } from "./types";

/** The most messages the inbox loads for one conversation. */
export const TRANSCRIPT_CAP = 2000;
/** The API's largest page. */
export const TRANSCRIPT_PAGE = 200;

export interface Transcript<T> {
  /** The messages, oldest first, at most `cap`. */
  items: T[];
  /** Whether the conversation has more messages than were loaded. */
  capped: boolean;
}

/**
 * Reads `path` (a messages URL without query) page by page until the last page or `cap` items.
 * `get` fetches one URL.
 */
export async function readAllPages<T>(
  get: (url: string) => Promise<Page<T>>,
  path: string,
  cap = TRANSCRIPT_CAP,
  pageSize = TRANSCRIPT_PAGE,
): Promise<Transcript<T>> {
  const items: T[] = [];
  let cursor: string | null = null;
  for (;;) {
    const limit = Math.min(pageSize, cap - items.length);
    const query = new URLSearchParams({ limit: String(limit) });
    if (cursor) query.set("cursor", cursor);
    const page = await get(`${path}?${query}`);
    items.push(...page.items.slice(0, cap - items.length));
    cursor = page.next_cursor ?? null;
    if (!cursor || page.items.length === 0) return { items, capped: false };
    if (items.length >= cap) return { items, capped: true };
  }
}
