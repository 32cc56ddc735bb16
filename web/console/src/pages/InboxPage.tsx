// The agents' inbox: pick a bot, see its conversations (handoffs first, polled live), read a
// transcript, and reply to or release a conversation a human has taken over.

import { useTranslation } from "react-i18next";
import { useSearchParams } from "react-router";
import { useBotsGate } from "../components/BotsGate";
import { Card, Empty, Field, INPUT, PageTitle } from "../components/ui";
import { ConversationList } from "./inbox/ConversationList";
import { Transcript } from "./inbox/Transcript";

export const STATUSES = ["all", "handoff", "active", "ended"] as const;

export default function InboxPage() {
  const { t } = useTranslation();
  const { bots, placeholder } = useBotsGate(t("inbox.noBots"));
  const [params, setParams] = useSearchParams();
  const botId = params.get("bot") ?? bots?.[0]?.id ?? "";
  const status = params.get("status") ?? "all";
  const session = params.get("session");
  const change = (next: Record<string, string | null>) => {
    const merged = new URLSearchParams(params);
    for (const [k, v] of Object.entries(next)) {
      if (v === null) merged.delete(k);
      else merged.set(k, v);
    }
    setParams(merged, { replace: true });
  };

  if (placeholder) return placeholder;

  return (
    <div className="space-y-4">
      <PageTitle>{t("inbox.title")}</PageTitle>
      <div className="flex flex-wrap gap-4">
        <div className="w-64">
          <Field label={t("common.bot")}>
            {(p) => (
              <select {...p} className={INPUT} value={botId} onChange={(e) => change({ bot: e.target.value, session: null })}>
                {bots.map((b) => (
                  <option key={b.id} value={b.id}>
                    {b.name}
                  </option>
                ))}
              </select>
            )}
          </Field>
        </div>
        <div className="w-48">
          <Field label={t("inbox.status")}>
            {(p) => (
              <select {...p} className={INPUT} value={status} onChange={(e) => change({ status: e.target.value })}>
                {STATUSES.map((s) => (
                  <option key={s} value={s}>
                    {t(`inbox.statuses.${s}`)}
                  </option>
                ))}
              </select>
            )}
          </Field>
        </div>
      </div>
      <div className="grid gap-4 md:grid-cols-[minmax(16rem,1fr)_2fr]">
        <Card className="p-0">
          <ConversationList bot={botId} status={status} selected={session} onSelect={(id) => change({ session: id })} />
        </Card>
        <Card>
          {session ? <Transcript key={`${botId}/${session}`} bot={botId} session={session} /> : <Empty title={t("inbox.pick")} />}
        </Card>
      </div>
    </div>
  );
}
