// TanStack Query hooks for the lists several pages share (bots, knowledge bases, credentials).

import { useQuery } from "@tanstack/react-query";
import { useOrgId } from "../auth/session";
import { api, orgPath } from "./api";
import { readPages } from "./pages";
import type { Bot, Credential, KnowledgeBase, Page } from "./types";

export const keys = {
  bots: (org: string) => ["bots", org] as const,
  bot: (org: string, bot: string) => ["bots", org, bot] as const,
  kbs: (org: string) => ["kbs", org] as const,
  kb: (org: string, kb: string) => ["kbs", org, kb] as const,
  documents: (org: string, kb: string) => ["documents", org, kb] as const,
  credentials: (org: string) => ["credentials", org] as const,
  conversations: (org: string, bot: string, status: string) => ["conversations", org, bot, status] as const,
  /** One conversation, under the bot's conversations (one invalidation refreshes the list, it and its transcript). */
  conversation: (org: string, bot: string, session: string) => ["conversations", org, bot, "session", session] as const,
  /** One conversation's transcript, under the conversation. */
  transcript: (org: string, bot: string, session: string) => ["conversations", org, bot, "session", session, "messages"] as const,
};

/** The most bots the console lists. */
export const MAX_BOTS = 1000;

export function useBots() {
  const org = useOrgId();
  return useQuery({
    queryKey: keys.bots(org),
    // Every page, up to MAX_BOTS, so the pickers list them all.
    queryFn: ({ signal }) => readPages((url) => api.get<Page<Bot>>(url, signal), orgPath(org, "/bots"), MAX_BOTS),
  });
}

export function useBot(bot: string) {
  const org = useOrgId();
  return useQuery({
    queryKey: keys.bot(org, bot),
    queryFn: ({ signal }) => api.get<Bot>(orgPath(org, `/bots/${bot}`), signal),
  });
}

export function useKnowledgeBases() {
  const org = useOrgId();
  return useQuery({
    queryKey: keys.kbs(org),
    queryFn: ({ signal }) =>
      api.get<Page<KnowledgeBase>>(orgPath(org, "/knowledge-bases?limit=100"), signal).then((p) => p.items),
  });
}

export function useCredentials() {
  const org = useOrgId();
  return useQuery({
    queryKey: keys.credentials(org),
    queryFn: ({ signal }) => api.get<Credential[]>(orgPath(org, "/provider-credentials"), signal),
  });
}
