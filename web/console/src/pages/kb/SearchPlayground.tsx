// A search playground: one query, run in keyword, vector and hybrid mode side by side, with the
// scores and the text of each chunk found.

import { type FormEvent, useState } from "react";
import { useTranslation } from "react-i18next";
import { useQuery } from "@tanstack/react-query";
import { useOrgId } from "../../auth/session";
import { Button, Card, Empty, ErrorBox, Field, INPUT, Loading } from "../../components/ui";
import { api, orgPath } from "../../lib/api";
import type { SearchHit, SearchMode } from "../../lib/types";

const MODES: SearchMode[] = ["keyword", "vector", "hybrid"];
const fmt = (n: number | null | undefined) => (n === null || n === undefined ? "—" : n.toFixed(3));

function Results({ kb, query, mode }: { kb: string; query: string; mode: SearchMode }) {
  const { t } = useTranslation();
  const org = useOrgId();
  const hits = useQuery({
    queryKey: ["search", org, kb, mode, query],
    queryFn: () => api.post<SearchHit[]>(orgPath(org, `/knowledge-bases/${kb}/search`), { query, mode, top_k: 5 }),
  });
  return (
    <section aria-label={t(`search.mode.${mode}`)} className="min-w-0">
      <h3 className="mb-2 text-sm font-semibold">{t(`search.mode.${mode}`)}</h3>
      {hits.isPending && <Loading />}
      {hits.error && <ErrorBox error={hits.error} />}
      {hits.data?.length === 0 && <p className="text-sm text-slate-500">{t("search.none")}</p>}
      <ol className="space-y-2">
        {hits.data?.map((hit) => (
          <li key={hit.chunk_id} className="rounded-md border border-slate-200 p-2 text-sm dark:border-slate-700">
            <div className="mb-1 flex flex-wrap items-baseline justify-between gap-2">
              <span className="font-medium">{[hit.document_title, ...hit.heading_path].join(" › ")}</span>
              <span className="font-mono text-xs text-slate-500 dark:text-slate-400">
                {t("search.score")} {fmt(hit.score)}
              </span>
            </div>
            <p className="font-mono text-xs text-slate-500 dark:text-slate-400">
              {t("search.keywordScore")} {fmt(hit.keyword_score)} · {t("search.vectorScore")} {fmt(hit.vector_score)}
            </p>
            <p className="mt-1 line-clamp-6 whitespace-pre-wrap text-slate-700 dark:text-slate-200">{hit.text}</p>
          </li>
        ))}
      </ol>
    </section>
  );
}

export function SearchPlayground({ kb }: { kb: string }) {
  const { t } = useTranslation();
  const [draft, setDraft] = useState("");
  const [query, setQuery] = useState("");
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setQuery(draft.trim());
  };
  return (
    <Card>
      <h2 className="mb-3 text-base font-semibold">{t("search.title")}</h2>
      <form onSubmit={submit} className="mb-4 flex flex-wrap items-end gap-3">
        <div className="min-w-64 flex-1">
          <Field label={t("search.query")}>
            {(p) => <input {...p} type="search" className={INPUT} value={draft} onChange={(e) => setDraft(e.target.value)} />}
          </Field>
        </div>
        <Button type="submit" disabled={!draft.trim()}>
          {t("search.run")}
        </Button>
      </form>
      {query ? (
        <div className="grid gap-4 lg:grid-cols-3">
          {MODES.map((mode) => (
            <Results key={mode} kb={kb} query={query} mode={mode} />
          ))}
        </div>
      ) : (
        <Empty title={t("search.hint")} />
      )}
    </Card>
  );
}
