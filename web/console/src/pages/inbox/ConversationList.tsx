// A bot's conversations, handoffs first then the most recent, refreshed every 2.5 seconds.
// With "All", every waiting handoff (up to MAX_HANDOFFS) is read apart from the page of recent
// conversations and merged in, so no handoff hides behind 100 newer conversations.

import { useTranslation } from "react-i18next";
import { useQuery } from "@tanstack/react-query";
import { useOrgId } from "../../auth/session";
import { Badge, Empty, ErrorBox, Loading } from "../../components/ui";
import { api, orgPath } from "../../lib/api";
import { readPages } from "../../lib/pages";
import { keys } from "../../lib/queries";
import type { Conversation, Page } from "../../lib/types";

/** Handoffs first, then by last activity, newest first. */
export function inboxOrder(list: readonly Conversation[]): Conversation[] {
  return [...list].sort((a, b) => {
    const h = Number(b.status === "handoff") - Number(a.status === "handoff");
    return h || b.last_activity_at.localeCompare(a.last_activity_at);
  });
}

/** The most handoffs the "All" list reads. */
export const MAX_HANDOFFS = 500;
/** How many recent conversations a list shows. */
export const RECENT = 100;

/** The handoffs and the recent conversations as one list, each once, in inbox order. */
export function mergeInbox(handoffs: readonly Conversation[], recent: readonly Conversation[]): Conversation[] {
  const seen = new Set<string>();
  const all: Conversation[] = [];
  for (const c of [...handoffs, ...recent]) {
    if (seen.has(c.session_id)) continue;
    seen.add(c.session_id);
    all.push(c);
  }
  return inboxOrder(all);
}

export function ConversationList({
  bot,
  status,
  selected,
  onSelect,
}: {
  bot: string;
  status: string;
  selected: string | null;
  onSelect(id: string): void;
}) {
  const { t, i18n } = useTranslation();
  const org = useOrgId();
  const list = useQuery({
    queryKey: keys.conversations(org, bot, status),
    queryFn: async ({ signal }) => {
      const path = orgPath(org, `/bots/${bot}/conversations`);
      const get = (url: string) => api.get<Page<Conversation>>(url, signal);
      const page = (query: string) => get(`${path}?${query}`).then((p) => (Array.isArray(p.items) ? p.items : []));
      if (status !== "all") return inboxOrder(await page(new URLSearchParams({ limit: String(RECENT), status }).toString()));
      const [handoffs, recent] = await Promise.all([
        readPages(get, `${path}?status=handoff`, MAX_HANDOFFS),
        page(`limit=${RECENT}`),
      ]);
      return mergeInbox(handoffs, recent);
    },
    refetchInterval: 2500,
    enabled: !!bot,
  });
  if (list.isPending) return <Loading />;
  if (list.error) return <div className="p-3"><ErrorBox error={list.error} /></div>;
  if (list.data.length === 0) return <div className="p-3"><Empty title={t("inbox.empty")} /></div>;
  const time = new Intl.DateTimeFormat(i18n.resolvedLanguage, { dateStyle: "short", timeStyle: "short" });
  return (
    <ul aria-label={t("inbox.conversations")} className="max-h-[70vh] divide-y divide-slate-200 overflow-y-auto dark:divide-slate-800">
      {list.data.map((c) => (
        <li key={c.session_id}>
          <button
            type="button"
            onClick={() => onSelect(c.session_id)}
            aria-current={selected === c.session_id ? "true" : undefined}
            className={`w-full px-3 py-2 text-left text-sm hover:bg-slate-50 dark:hover:bg-slate-800 ${
              selected === c.session_id ? "bg-indigo-50 dark:bg-indigo-950" : ""
            }`}
          >
            <div className="flex items-center justify-between gap-2">
              <span className="truncate font-medium">{c.external_user}</span>
              <Badge tone={c.status === "handoff" ? "amber" : c.status === "active" ? "green" : "slate"}>
                {t(`inbox.statuses.${c.status}`)}
              </Badge>
            </div>
            <div className="text-xs text-slate-500 dark:text-slate-400">
              {c.channel} · {time.format(new Date(c.last_activity_at))}
            </div>
          </button>
        </li>
      ))}
    </ul>
  );
}
