// A conversation's transcript as the inbox reads it: on opening, the newest TRANSCRIPT_LAST
// messages (`?last=N`, oldest first); then, on each poll, only the messages after the newest one
// it has (`?cursor=<id>&limit=200`, following `next_cursor`), appended without duplicates.

import type { Page } from "./types";

/** How many of the newest messages opening a conversation reads (the API allows 1..=500). */
export const TRANSCRIPT_LAST = 500;
/** The API's largest page of messages after a cursor. */
export const TRANSCRIPT_PAGE = 200;
/** The most pages one poll follows; the rest comes with the next poll. */
export const POLL_PAGES = 10;

export interface Transcript<T> {
  /** The messages, oldest first. */
  items: T[];
  /** Whether the opening read came back full, so older messages may be missing. */
  capped: boolean;
}

type Get<T> = (url: string) => Promise<Page<T>>;

/** The newest `last` messages of `path` (a messages URL without query). */
export async function readLast<T extends { id: string }>(get: Get<T>, path: string, last = TRANSCRIPT_LAST): Promise<Transcript<T>> {
  const page = await get(`${path}?${new URLSearchParams({ last: String(last) })}`);
  const items = appendNew<T>([], Array.isArray(page.items) ? page.items : []);
  return { items, capped: items.length >= last };
}

/** The messages of `path` after message `after`, following `next_cursor` up to `maxPages` pages. */
export async function readAfter<T extends { id: string }>(
  get: Get<T>,
  path: string,
  after: string,
  maxPages = POLL_PAGES,
  limit = TRANSCRIPT_PAGE,
): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | null = after;
  for (let n = 0; cursor && n < maxPages; n++) {
    const page: Page<T> = await get(`${path}?${new URLSearchParams({ cursor, limit: String(limit) })}`);
    const got = Array.isArray(page.items) ? page.items : [];
    items.push(...got);
    const next: string | null = page.next_cursor ?? null;
    if (got.length === 0 || next === cursor) break;
    cursor = next;
  }
  return items;
}

/** `items` followed by the messages of `more` it does not hold yet (by id), in their order. */
export function appendNew<T extends { id: string }>(items: readonly T[], more: readonly T[]): T[] {
  const seen = new Set(items.map((m) => m.id));
  const out = [...items];
  for (const m of more) {
    if (!m || typeof m.id !== "string" || seen.has(m.id)) continue;
    seen.add(m.id);
    out.push(m);
  }
  return out;
}

/**
 * The transcript after one poll: the opening read when there is nothing yet (or no message to
 * read after), otherwise `previous` with the messages after its newest one appended.
 */
export async function pollTranscript<T extends { id: string }>(
  get: Get<T>,
  path: string,
  previous: Transcript<T> | undefined,
): Promise<Transcript<T>> {
  const newest = previous?.items.at(-1)?.id;
  if (!previous || !newest) return readLast(get, path);
  const more = await readAfter(get, path, newest);
  if (more.length === 0) return previous;
  return { items: appendNew(previous.items, more), capped: previous.capped };
}
