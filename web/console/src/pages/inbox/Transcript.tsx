// One conversation, polled live: its status, and its transcript (the newest TRANSCRIPT_LAST
// messages on opening, then every 2.5 seconds only the ones after the newest) with each message's
// direction, text, intent and confidence, entities, citations and tool calls; and, during a
// handoff, a reply box and a Release button. Payloads are rendered defensively: only strings and
// numbers are shown, and citations link only to http(s) URLs.

import { type FormEvent, type ReactNode, useEffect, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useOrgId } from "../../auth/session";
import { Badge, Button, ErrorBox, Field, INPUT, Loading } from "../../components/ui";
import { api, orgPath } from "../../lib/api";
import { httpUrl, json, records, scalar } from "../../lib/payload";
import { keys } from "../../lib/queries";
import { pollTranscript, TRANSCRIPT_LAST, type Transcript as TranscriptData } from "../../lib/transcript";
import type { Conversation, Message, Page } from "../../lib/types";

const BUBBLE: Record<string, string> = {
  inbound: "bg-slate-100 dark:bg-slate-800",
  outbound: "bg-indigo-50 dark:bg-indigo-950",
  agent: "bg-amber-50 dark:bg-amber-950",
};

function MessageItem({ message }: { message: Message }) {
  const { t } = useTranslation();
  const payload: Record<string, unknown> =
    typeof message.payload === "object" && message.payload !== null && !Array.isArray(message.payload) ? message.payload : {};
  const entities = records(payload.entities);
  const citations = records(payload.citations);
  const tools = records(payload.tools);
  const direction = typeof message.direction === "string" ? message.direction : "inbound";
  const created = typeof message.created_at === "string" ? new Date(message.created_at) : null;
  const intent = scalar(message.intent);
  return (
    <li className={`rounded-lg p-3 text-sm ${BUBBLE[direction] ?? BUBBLE.inbound}`}>
      <div className="mb-1 flex flex-wrap items-center gap-2 text-xs text-slate-500 dark:text-slate-400">
        <Badge tone={direction === "agent" ? "amber" : direction === "outbound" ? "blue" : "slate"}>
          {t(`transcript.direction.${direction}`, { defaultValue: direction })}
        </Badge>
        {created && !Number.isNaN(created.getTime()) && <time dateTime={message.created_at}>{created.toLocaleTimeString()}</time>}
        {intent && (
          <span>
            {t("transcript.intent")}: <strong>{intent}</strong>
            {typeof message.confidence === "number" && Number.isFinite(message.confidence) && ` (${(message.confidence * 100).toFixed(0)}%)`}
          </span>
        )}
      </div>
      <p className="whitespace-pre-wrap text-slate-900 dark:text-slate-100">{scalar(message.text) ?? ""}</p>
      {entities.length > 0 && (
        <div className="mt-2 text-xs">
          <span className="font-semibold">{t("transcript.entities")}: </span>
          {entities.map((e, i) => (
            <code key={i} className="mr-2 rounded bg-white/60 px-1 dark:bg-black/30">
              {scalar(e.entity) ?? "?"}={json(e.value ?? e.text ?? null, 120)}
            </code>
          ))}
        </div>
      )}
      {citations.length > 0 && (
        <div className="mt-2 text-xs">
          <span className="font-semibold">{t("transcript.citations")}:</span>
          <ol className="mt-1 space-y-1">
            {citations.map((c, i) => {
              const n = scalar(c.n) ?? String(i + 1);
              const url = httpUrl(c.url);
              const title = scalar(c.title) ?? url ?? "";
              const snippet = scalar(c.snippet);
              let label: ReactNode = title;
              if (url)
                label = (
                  <a href={url} className="underline" rel="noreferrer noopener" target="_blank">
                    {title}
                  </a>
                );
              return (
                <li key={i}>
                  [{n}] {label}
                  {snippet && <span className="block text-slate-500 dark:text-slate-400">{snippet.slice(0, 200)}</span>}
                </li>
              );
            })}
          </ol>
        </div>
      )}
      {tools.length > 0 && (
        <div className="mt-2 text-xs">
          <span className="font-semibold">{t("transcript.tools")}:</span>
          <ul className="mt-1 space-y-1">
            {tools.map((tool, i) => {
              const status = scalar(tool.status);
              const http = scalar(tool.http_status);
              return (
                <li key={i}>
                  <code>
                    {scalar(tool.name) ?? "?"}({json(tool.arguments ?? {})}){status !== undefined ? ` → ${status}` : ""}
                    {http ? ` ${http}` : ""}
                    {typeof tool.duration_ms === "number" && Number.isFinite(tool.duration_ms) ? ` · ${tool.duration_ms} ms` : ""}
                  </code>
                </li>
              );
            })}
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
  const queries = useQueryClient();
  const list = useRef<HTMLOListElement>(null);
  const path = orgPath(org, `/bots/${bot}/conversations/${session}`);
  // The conversation itself, polled for its status.
  const conversation = useQuery({
    queryKey: keys.conversation(org, bot, session),
    queryFn: ({ signal }) => api.get<Conversation>(path, signal),
    refetchInterval: 2500,
  });
  // Its messages: the newest ones on opening, then only the ones after the newest, appended.
  // Kept for this conversation only (gcTime 0), so opening another one, or this one again,
  // starts afresh.
  const messagesKey = keys.transcript(org, bot, session);
  const messages = useQuery({
    queryKey: messagesKey,
    queryFn: ({ signal }) =>
      pollTranscript(
        (url) => api.get<Page<Message>>(url, signal),
        `${path}/messages`,
        queries.getQueryData<TranscriptData<Message>>(messagesKey),
      ),
    refetchInterval: 2500,
    gcTime: 0,
  });
  const items = messages.data?.items;
  const count = items?.length ?? 0;
  const last = items?.at(-1)?.id;
  // Keep the newest message in view as messages arrive, unless the reader scrolled up.
  const pinned = useRef(true);
  useEffect(() => {
    pinned.current = true;
  }, [session]);
  useEffect(() => {
    const el = list.current;
    if (el && pinned.current) el.scrollTop = el.scrollHeight;
  }, [count, last]);
  const status = conversation.data?.status;
  return (
    <div>
      <h2 className="mb-3 flex items-center gap-2 text-base font-semibold">
        {t("transcript.title")}
        {status && <Badge tone={STATUS_TONE[status] ?? "slate"}>{t(`inbox.statuses.${status}`)}</Badge>}
      </h2>
      {messages.isPending && <Loading />}
      {(conversation.error ?? messages.error) && <ErrorBox error={conversation.error ?? messages.error} />}
      {items?.length === 0 && <p className="text-sm text-slate-500">{t("transcript.empty")}</p>}
      {messages.data?.capped && (
        <p role="note" className="mb-2 text-sm text-amber-700 dark:text-amber-300">
          {t("transcript.capped", { max: new Intl.NumberFormat(i18n.resolvedLanguage).format(TRANSCRIPT_LAST) })}
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
        {items?.map((m) => <MessageItem key={m.id} message={m} />)}
      </ol>
      {status === "handoff" && <HandoffControls bot={bot} session={session} />}
    </div>
  );
}
