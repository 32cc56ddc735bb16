// A knowledge base's documents with their ingestion status, polled while any is in progress.

import { useTranslation } from "react-i18next";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useOrgId } from "../../auth/session";
import { Badge, Button, Card, Empty, ErrorBox, Loading } from "../../components/ui";
import { api, orgPath } from "../../lib/api";
import { keys } from "../../lib/queries";
import type { KbDocument, Page } from "../../lib/types";

const TONE = { pending: "slate", processing: "blue", ready: "green", failed: "red" } as const;

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

export function DocumentsTable({ kb }: { kb: string }) {
  const { t } = useTranslation();
  const org = useOrgId();
  const queries = useQueryClient();
  const docs = useQuery({
    queryKey: keys.documents(org, kb),
    queryFn: ({ signal }) =>
      api.get<Page<KbDocument>>(orgPath(org, `/knowledge-bases/${kb}/documents?limit=200`), signal).then((p) => p.items),
    refetchInterval: (query) =>
      query.state.data?.some((d) => d.status === "pending" || d.status === "processing") ? 1000 : false,
  });
  const remove = useMutation({
    mutationFn: (doc: string) => api.delete(orgPath(org, `/knowledge-bases/${kb}/documents/${doc}`)),
    onSettled: () => queries.invalidateQueries({ queryKey: keys.documents(org, kb) }),
  });
  const retry = useMutation({
    mutationFn: (doc: string) => api.post(orgPath(org, `/knowledge-bases/${kb}/documents/${doc}/retry`)),
    onSettled: () => queries.invalidateQueries({ queryKey: keys.documents(org, kb) }),
  });

  return (
    <Card>
      <h2 className="mb-3 text-base font-semibold">{t("documents.title")}</h2>
      {docs.isPending && <Loading />}
      {docs.error && <ErrorBox error={docs.error} />}
      {(remove.error || retry.error) && <ErrorBox error={remove.error ?? retry.error} />}
      {docs.data?.length === 0 && <Empty title={t("documents.empty")} />}
      {docs.data && docs.data.length > 0 && (
        <div className="overflow-x-auto">
          <table className="w-full text-left text-sm">
            <thead className="text-xs text-slate-500 uppercase dark:text-slate-400">
              <tr>
                <th className="py-2 pr-3">{t("documents.name")}</th>
                <th className="py-2 pr-3">{t("documents.source")}</th>
                <th className="py-2 pr-3">{t("documents.size")}</th>
                <th className="py-2 pr-3">{t("documents.chunks")}</th>
                <th className="py-2 pr-3">{t("documents.status")}</th>
                <th className="py-2">
                  <span className="sr-only">{t("documents.actions")}</span>
                </th>
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-200 dark:divide-slate-800">
              {docs.data.map((doc) => (
                <tr key={doc.id}>
                  <td className="py-2 pr-3 font-medium">{doc.title}</td>
                  <td className="py-2 pr-3 text-slate-500 dark:text-slate-400">
                    {doc.source.url ?? doc.source.filename ?? t(`documents.sourceType.${doc.source.type}`, { defaultValue: doc.source.type })}
                  </td>
                  <td className="py-2 pr-3">{formatBytes(doc.size_bytes)}</td>
                  <td className="py-2 pr-3">{doc.chunk_count}</td>
                  <td className="py-2 pr-3">
                    <Badge tone={TONE[doc.status] ?? "slate"}>{t(`documents.state.${doc.status}`)}</Badge>
                    {doc.status === "processing" && <span className="ml-2 text-xs">{Math.round(doc.progress * 100)}%</span>}
                    {doc.error && <p className="mt-1 text-xs text-red-600 dark:text-red-400">{doc.error}</p>}
                  </td>
                  <td className="py-2 text-right whitespace-nowrap">
                    {doc.status === "failed" && (
                      <Button variant="ghost" onClick={() => retry.mutate(doc.id)} aria-label={t("documents.retryNamed", { name: doc.title })}>
                        {t("documents.retry")}
                      </Button>
                    )}
                    <Button
                      variant="ghost"
                      onClick={() => {
                        if (confirm(t("documents.confirmDelete", { name: doc.title }))) remove.mutate(doc.id);
                      }}
                      aria-label={t("documents.deleteNamed", { name: doc.title })}
                    >
                      {t("common.delete")}
                    </Button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Card>
  );
}
