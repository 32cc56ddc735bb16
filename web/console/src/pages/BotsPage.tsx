// The organization's bots: a list, and a form to create one.

import { type FormEvent, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate } from "react-router";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useOrgId } from "../auth/session";
import { Badge, Button, Card, Empty, ErrorBox, Field, INPUT, Loading, PageTitle } from "../components/ui";
import { api, orgPath } from "../lib/api";
import { ApiProblem } from "../lib/problem";
import { keys, useBots } from "../lib/queries";
import type { Bot } from "../lib/types";

function CreateBotForm({ onDone }: { onDone?: () => void }) {
  const { t } = useTranslation();
  const org = useOrgId();
  const queries = useQueryClient();
  const navigate = useNavigate();
  const [name, setName] = useState("");
  const create = useMutation({
    mutationFn: (botName: string) => api.post<Bot>(orgPath(org, "/bots"), { name: botName }),
    onSuccess: (bot) => {
      void queries.invalidateQueries({ queryKey: keys.bots(org) });
      onDone?.();
      void navigate(`/bots/${bot.id}/settings`);
    },
  });
  const problem = create.error instanceof ApiProblem ? create.error : null;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate(name.trim());
  };
  return (
    <form onSubmit={submit} className="flex flex-wrap items-end gap-3">
      <div className="min-w-64 flex-1">
        <Field label={t("bots.name")} error={problem?.fieldError("name")}>
          {(p) => <input {...p} className={INPUT} value={name} onChange={(e) => setName(e.target.value)} />}
        </Field>
      </div>
      <Button type="submit" disabled={create.isPending}>
        {t("bots.create")}
      </Button>
      {create.error && !problem?.fieldError("name") && <ErrorBox error={create.error} />}
    </form>
  );
}

export default function BotsPage() {
  const { t } = useTranslation();
  const bots = useBots();
  return (
    <div className="mx-auto max-w-5xl space-y-4">
      <PageTitle>{t("bots.title")}</PageTitle>
      <Card>
        <h2 className="mb-3 text-sm font-semibold">{t("bots.new")}</h2>
        <CreateBotForm />
      </Card>
      {bots.isPending && <Loading />}
      {bots.error && <ErrorBox error={bots.error} />}
      {bots.data && bots.data.length === 0 && <Empty title={t("bots.empty")} />}
      {bots.data && bots.data.length > 0 && (
        <Card className="p-0">
          <ul className="divide-y divide-slate-200 dark:divide-slate-800" aria-label={t("bots.title")}>
            {bots.data.map((bot) => (
              <li key={bot.id} className="flex flex-wrap items-center gap-3 px-4 py-3">
                <Link to={`/bots/${bot.id}/settings`} className="font-medium text-indigo-700 hover:underline dark:text-indigo-300">
                  {bot.name}
                </Link>
                <span className="text-sm text-slate-500 dark:text-slate-400">{bot.description}</span>
                <span className="ml-auto flex gap-2">
                  <Badge>{bot.ai_config.provider}</Badge>
                  <Badge tone="blue">{t("bots.kbCount", { count: bot.ai_config.knowledge_base_ids.length })}</Badge>
                </span>
              </li>
            ))}
          </ul>
        </Card>
      )}
    </div>
  );
}
