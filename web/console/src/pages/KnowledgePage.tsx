// The organization's knowledge bases: a list, and a form to create one.

import { type FormEvent, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate } from "react-router";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useOrgId } from "../auth/session";
import { Badge, Button, Card, Empty, ErrorBox, Field, INPUT, Loading, PageTitle } from "../components/ui";
import { api, orgPath } from "../lib/api";
import { ApiProblem } from "../lib/problem";
import { keys, useKnowledgeBases } from "../lib/queries";
import type { KnowledgeBase } from "../lib/types";

export default function KnowledgePage() {
  const { t } = useTranslation();
  const org = useOrgId();
  const queries = useQueryClient();
  const navigate = useNavigate();
  const kbs = useKnowledgeBases();
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const create = useMutation({
    mutationFn: () => api.post<KnowledgeBase>(orgPath(org, "/knowledge-bases"), { name: name.trim(), description }),
    onSuccess: (kb) => {
      void queries.invalidateQueries({ queryKey: keys.kbs(org) });
      void navigate(`/knowledge/${kb.id}`);
    },
  });
  const problem = create.error instanceof ApiProblem ? create.error : null;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate();
  };

  return (
    <div className="mx-auto max-w-5xl space-y-4">
      <PageTitle>{t("knowledge.title")}</PageTitle>
      <Card>
        <h2 className="mb-3 text-sm font-semibold">{t("knowledge.new")}</h2>
        <form onSubmit={submit} className="grid items-end gap-3 md:grid-cols-[1fr_2fr_auto]">
          <Field label={t("knowledge.name")} error={problem?.fieldError("name")}>
            {(p) => <input {...p} className={INPUT} value={name} onChange={(e) => setName(e.target.value)} />}
          </Field>
          <Field label={t("knowledge.description")} error={problem?.fieldError("description")}>
            {(p) => <input {...p} className={INPUT} value={description} onChange={(e) => setDescription(e.target.value)} />}
          </Field>
          <Button type="submit" disabled={create.isPending}>
            {t("knowledge.create")}
          </Button>
        </form>
        {create.error && !problem?.errors.length && <div className="mt-3"><ErrorBox error={create.error} /></div>}
      </Card>
      {kbs.isPending && <Loading />}
      {kbs.error && <ErrorBox error={kbs.error} />}
      {kbs.data?.length === 0 && <Empty title={t("knowledge.empty")} />}
      {kbs.data && kbs.data.length > 0 && (
        <Card className="p-0">
          <ul className="divide-y divide-slate-200 dark:divide-slate-800" aria-label={t("knowledge.title")}>
            {kbs.data.map((kb) => (
              <li key={kb.id} className="flex flex-wrap items-center gap-3 px-4 py-3">
                <Link to={`/knowledge/${kb.id}`} className="font-medium text-indigo-700 hover:underline dark:text-indigo-300">
                  {kb.name}
                </Link>
                <span className="text-sm text-slate-500 dark:text-slate-400">{kb.description}</span>
                <span className="ml-auto">
                  <Badge>{`${kb.embedding_provider || "default"} · ${kb.embedding_model}`}</Badge>
                </span>
              </li>
            ))}
          </ul>
        </Card>
      )}
    </div>
  );
}
