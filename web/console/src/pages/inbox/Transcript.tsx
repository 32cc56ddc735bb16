// One conversation, polled live: its status, and its whole transcript (every page, up to
// TRANSCRIPT_CAP messages) with each message's direction, text, intent and confidence,
// entities, citations and tool calls; and, during a handoff, a reply box and a Release button.

import { type FormEvent, useEffect, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useOrgId } from "../../auth/session";
import { Badge, Button, ErrorBox, Field, INPUT, Loading } from "../../components/ui";
import { api, orgPath } from "../../lib/api";
import { keys } from "../../lib/queries";
import { readAllPages, TRANSCRIPT_CAP } from "../../lib/transcript";
import type { Conversation, Message, Page } from "../../lib/types";

const BUBBLE = {
  inbound: "bg-slate-100 dark:bg-slate-800",
  outbound: "bg-indigo-50 dark:bg-indigo-950",
  agent: "bg-amber-50 dark:bg-amber-950",
};

function MessageItem({ message }: { message: Message }) {
  const { t } = useTranslation();
  const payload = message.payload ?? {};
  const entities = Array.isArray(payload.entities) ? payload.entities : [];
  const citations = Array.isArray(payload.citations) ? payload.citations : [];
  const tools = Array.isArray(payload.tools) ? payload.tools : [];
  return (
    <li className={`rounded-lg p-3 text-sm ${BUBBLE[message.direction] ?? BUBBLE.inbound}`}>
      <div className="mb-1 flex flex-wrap items-center gap-2 text-xs text-slate-500 dark:text-slate-400">
        <Badge tone={message.direction === "agent" ? "amber" : message.direction === "outbound" ? "blue" : "slate"}>
          {t(`transcript.direction.${message.direction}`)}
        </Badge>
        <time dateTime={message.created_at}>{new Date(message.created_at).toLocaleTimeString()}</time>
        {message.intent && (
          <span>
            {t("transcript.intent")}: <strong>{message.intent}</strong>
            {typeof message.confidence === "number" && ` (${(message.confidence * 100).toFixed(0)}%)`}
          </span>
        )}
      </div>
      <p className="whitespace-pre-wrap text-slate-900 dark:text-slate-100">{message.text}</p>
      {entities.length > 0 && (
        <div className="mt-2 text-xs">
          <span className="font-semibold">{t("transcript.entities")}: </span>
          {entities.map((e, i) => (
            <code key={i} className="mr-2 rounded bg-white/60 px-1 dark:bg-black/30">
              {String(e.entity ?? "?")}={JSON.stringify(e.value ?? e.text ?? null)}
            </code>
          ))}
        </div>
      )}
      {citations.length > 0 && (
        <div className="mt-2 text-xs">
          <span className="font-semibold">{t("transcript.citations")}:</span>
          <ol className="mt-1 space-y-1">
            {citations.map((c) => (
              <li key={c.n}>
                [{c.n}] {c.url ? <a href={c.url} className="underline" rel="noreferrer noopener" target="_blank">{c.title ?? c.url}</a> : c.title}
                {c.snippet && <span className="block text-slate-500 dark:text-slate-400">{c.snippet.slice(0, 200)}</span>}
              </li>
            ))}
          </ol>
        </div>
      )}
      {tools.length > 0 && (
        <div className="mt-2 text-xs">
          <span className="font-semibold">{t("transcript.tools")}:</span>
          <ul className="mt-1 space-y-1">
            {tools.map((tool, i) => (
              <li key={i}>
                <code>
                  {String(tool.name)}({JSON.stringify(tool.arguments ?? {})}) → {String(tool.status)}
                  {tool.http_status ? ` ${String(tool.http_status)}` : ""}
                  {typeof tool.duration_ms === "number" ? ` · ${tool.duration_ms} ms` : ""}
                </code>
              </li>
            ))}
          </ul>
        </div>
      )}
    </li>
  );
}

function HandoffControls({ bot, session }: { bot: string; session: string }) {
  const { t } = useTranslation();
  const org = useOrgId();
  const queries = useQueryClient();
  const [text, setText] = useState("");
  const base = orgPath(org, `/bots/${bot}/conversations/${session}/handoff`);
  // The list and the open conversation (its status and transcript) share this prefix.
  const refresh = () => queries.invalidateQueries({ queryKey: ["conversations", org, bot] });
  const reply = useMutation({
    mutationFn: () => api.post(`${base}/reply`, { text }),
    onSuccess: () => {
      setText("");
      void refresh();
    },
  });
  const release = useMutation({ mutationFn: () => api.post(`${base}/release`), onSuccess: refresh });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (text.trim()) reply.mutate();
  };
  return (
    <form onSubmit={submit} className="mt-4 space-y-2 border-t border-slate-200 pt-4 dark:border-slate-800">
      <Field label={t("transcript.reply")}>
        {(p) => <textarea {...p} rows={2} className={INPUT} value={text} onChange={(e) => setText(e.target.value)} />}
      </Field>
      <ErrorBox error={reply.error ?? release.error} />
      <div className="flex gap-2">
        <Button type="submit" disabled={reply.isPending || !text.trim()}>
          {t("transcript.send")}
        </Button>
        <Button variant="secondary" onClick={() => release.mutate()} disabled={release.isPending}>
          {t("transcript.release")}
        </Button>
      </div>
    </form>
  );
}

const STATUS_TONE = { handoff: "amber", active: "green", ended: "slate" } as const;

export function Transcript({ bot, session }: { bot: string; session: string }) {
  const { t, i18n } = useTranslation();
  const org = useOrgId();
  const list = useRef<HTMLOListElement>(null);
  // The conversation (for its status) and every page of its transcript, read together and
  // polled together, so the status and the messages always agree.
  const conversation = useQuery({
    queryKey: keys.conversation(org, bot, session),
    queryFn: async ({ signal }) => {
      const path = orgPath(org, `/bots/${bot}/conversations/${session}`);
      const [info, transcript] = await Promise.all([
        api.get<Conversation>(path, signal),
        readAllPages((url) => api.get<Page<Message>>(url, signal), `${path}/messages`),
      ]);
      return { info, ...transcript };
    },
    refetchInterval: 2500,
  });
  const data = conversation.data;
  const count = data?.items.length ?? 0;
  const last = data?.items.at(-1)?.id;
  // Keep the newest message in view as messages arrive, unless the reader scrolled up.
  const pinned = useRef(true);
  useEffect(() => {
    const el = list.current;
    if (el && pinned.current) el.scrollTop = el.scrollHeight;
  }, [count, last]);
  const status = data?.info.status;
  return (
    <div>
      <h2 className="mb-3 flex items-center gap-2 text-base font-semibold">
        {t("transcript.title")}
        {status && (
          <Badge tone={STATUS_TONE[status] ?? "slate"}>
            {t(`inbox.statuses.${status}`)}
          </Badge>
        )}
      </h2>
      {conversation.isPending && <Loading />}
      {conversation.error && <ErrorBox error={conversation.error} />}
      {data?.items.length === 0 && <p className="text-sm text-slate-500">{t("transcript.empty")}</p>}
      {data?.capped && (
        <p role="note" className="mb-2 text-sm text-amber-700 dark:text-amber-300">
          {t("transcript.capped", { max: new Intl.NumberFormat(i18n.resolvedLanguage).format(TRANSCRIPT_CAP) })}
        </p>
      )}
      <ol
        ref={list}
        onScroll={(e) => {
          const el = e.currentTarget;
          pinned.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
        }}
        aria-label={t("transcript.title")}
        className="max-h-[60vh] space-y-2 overflow-y-auto"
      >
        {data?.items.map((m) => <MessageItem key={m.id} message={m} />)}
      </ol>
      {status === "handoff" && <HandoffControls bot={bot} session={session} />}
    </div>
  );
}
