// A bot's conversations, handoffs first then the most recent, refreshed every 2.5 seconds.

import { useTranslation } from "react-i18next";
import { useQuery } from "@tanstack/react-query";
import { useOrgId } from "../../auth/session";
import { Badge, Empty, ErrorBox, Loading } from "../../components/ui";
import { api, orgPath } from "../../lib/api";
import { keys } from "../../lib/queries";
import type { Conversation, Page } from "../../lib/types";

/** Handoffs first, then by last activity, newest first. */
export function inboxOrder(list: readonly Conversation[]): Conversation[] {
  return [...list].sort((a, b) => {
    const h = Number(b.status === "handoff") - Number(a.status === "handoff");
    return h || b.last_activity_at.localeCompare(a.last_activity_at);
  });
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
    queryFn: ({ signal }) =>
      api
        .get<Page<Conversation>>(
          orgPath(org, `/bots/${bot}/conversations?limit=100${status === "all" ? "" : `&status=${status}`}`),
          signal,
        )
        .then((p) => inboxOrder(p.items)),
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
