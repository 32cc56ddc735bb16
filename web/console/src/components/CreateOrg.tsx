// Shown to a signed-in user without any organization: asks for a name and creates one.

import { useState } from "react";
import { useTranslation } from "react-i18next";
import { useSession } from "../auth/session";
import { api } from "../lib/api";
import { useFormSubmit } from "../lib/form";
import type { Org } from "../lib/types";
import { Button, Card, ErrorBox, Field, INPUT } from "./ui";

export function CreateOrg() {
  const { t } = useTranslation();
  const { reloadOrgs, selectOrg } = useSession();
  const [name, setName] = useState("");
  const { submit, busy, error, problem } = useFormSubmit(
    async () => {
      const org = await api.post<Org>("/api/v1/orgs", { name });
      selectOrg(org.id);
      await reloadOrgs();
    },
    { idleAfterSuccess: true },
  );
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
