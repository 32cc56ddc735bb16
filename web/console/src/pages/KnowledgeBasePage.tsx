// One knowledge base: its documents (live status), ways to add documents, a search playground.

import { useTranslation } from "react-i18next";
import { useParams } from "react-router";
import { useQuery } from "@tanstack/react-query";
import { useOrgId } from "../auth/session";
import { BackLink, ErrorBox, Loading, PageTitle } from "../components/ui";
import { api, orgPath } from "../lib/api";
import { keys } from "../lib/queries";
import type { KnowledgeBase } from "../lib/types";
import { AddDocuments } from "./kb/AddDocuments";
import { DocumentsTable } from "./kb/DocumentsTable";
import { SearchPlayground } from "./kb/SearchPlayground";

export default function KnowledgeBasePage() {
  const { t } = useTranslation();
  const org = useOrgId();
  const { kbId = "" } = useParams();
  const kb = useQuery({
    queryKey: keys.kb(org, kbId),
    queryFn: ({ signal }) => api.get<KnowledgeBase>(orgPath(org, `/knowledge-bases/${kbId}`), signal),
  });
  if (kb.isPending) return <Loading />;
  if (kb.error) return <ErrorBox error={kb.error} />;
  return (
    <div className="mx-auto max-w-6xl space-y-4">
      <BackLink to="/knowledge" className="text-sm">
        {t("knowledge.title")}
      </BackLink>
      <PageTitle>{kb.data.name}</PageTitle>
      {kb.data.description && <p className="text-sm text-slate-600 dark:text-slate-300">{kb.data.description}</p>}
      <AddDocuments kb={kbId} />
      <DocumentsTable kb={kbId} />
      <SearchPlayground kb={kbId} />
    </div>
  );
}
