// Shown to a signed-in user without any organization: asks for a name and creates one.

import { type FormEvent, useState } from "react";
import { useTranslation } from "react-i18next";
import { useSession } from "../auth/session";
import { api } from "../lib/api";
import { ApiProblem } from "../lib/problem";
import type { Org } from "../lib/types";
import { Button, Card, ErrorBox, Field, INPUT } from "./ui";

export function CreateOrg() {
  const { t } = useTranslation();
  const { reloadOrgs, selectOrg } = useSession();
  const [name, setName] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const org = await api.post<Org>("/api/v1/orgs", { name });
      selectOrg(org.id);
      await reloadOrgs();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  const problem = error instanceof ApiProblem ? error : null;
  return (
    <Card className="mx-auto max-w-md">
      <h1 className="mb-2 text-lg font-semibold">{t("org.createTitle")}</h1>
      <p className="mb-4 text-sm text-slate-600 dark:text-slate-300">{t("org.createHint")}</p>
      <form onSubmit={submit} className="space-y-4">
        <Field label={t("org.name")} error={problem?.fieldError("name")}>
          {(p) => <input {...p} className={INPUT} value={name} onChange={(e) => setName(e.target.value)} required />}
        </Field>
        {error !== null && !problem?.fieldError("name") && <ErrorBox error={error} />}
        <Button type="submit" disabled={busy}>
          {t("org.create")}
        </Button>
      </form>
    </Card>
  );
}
