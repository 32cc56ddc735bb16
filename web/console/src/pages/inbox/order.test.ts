// The inbox lists handoffs first, then the most recently active conversations.
import { describe, expect, it } from "vitest";
import type { Conversation } from "../../lib/types";
import { inboxOrder, mergeInbox } from "./ConversationList";

const c = (id: string, status: Conversation["status"], last: string): Conversation => ({
  session_id: id,
  channel: "web",
  external_user: id,
  status,
  created_at: last,
  last_activity_at: last,
});

describe("inboxOrder", () => {
  it("puts handoffs first, newest first within each group", () => {
    const order = inboxOrder([
      c("a", "active", "2026-12-01T10:00:00Z"),
      c("b", "handoff", "2026-12-01T08:00:00Z"),
      c("c", "ended", "2026-12-01T11:00:00Z"),
      c("d", "handoff", "2026-12-01T09:00:00Z"),
    ]);
    expect(order.map((x) => x.session_id)).toEqual(["d", "b", "c", "a"]);
  });

  it("merges the handoffs into the recent ones, each once, handoffs first", () => {
    const recent = [c("r1", "active", "2026-12-01T10:00:00Z"), c("h1", "handoff", "2026-12-01T09:00:00Z"), c("r2", "ended", "2026-12-01T08:00:00Z")];
    const handoffs = [c("h1", "handoff", "2026-12-01T09:00:00Z"), c("h2", "handoff", "2026-11-01T09:00:00Z")];
    expect(mergeInbox(handoffs, recent).map((x) => x.session_id)).toEqual(["h1", "h2", "r1", "r2"]);
  });
});
