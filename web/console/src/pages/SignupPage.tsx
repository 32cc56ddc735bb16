// Sign-up: a user and their first organization in one request (the API requires both).

import { useState } from "react";
import { useTranslation } from "react-i18next";
import { useSession } from "../auth/session";
import { AuthFrame, AuthSwitch } from "../components/AuthFrame";
import { Button, ErrorBox, Field, INPUT } from "../components/ui";
import { useFormSubmit } from "../lib/form";

const FIELDS = ["name", "email", "password", "organization_name"] as const;
type FieldName = (typeof FIELDS)[number];

export default function SignupPage() {
  const { t } = useTranslation();
  const { signUp } = useSession();
  const [form, setForm] = useState<Record<FieldName, string>>({ name: "", email: "", password: "", organization_name: "" });
  const { submit, busy, error, problem } = useFormSubmit(() => signUp(form));
  const input = (name: FieldName, type: string, autoComplete: string) => (
    <Field label={t(`auth.${name}`)} error={problem?.fieldError(name)} {...(name === "password" ? { hint: t("auth.passwordHint") } : {})}>
      {(p) => (
        <input
          {...p}
          type={type}
          autoComplete={autoComplete}
          className={INPUT}
          value={form[name]}
          onChange={(e) => setForm({ ...form, [name]: e.target.value })}
          required
        />
      )}
    </Field>
  );
  const unshown = problem ? problem.errors.filter((f) => !(FIELDS as readonly string[]).includes(f.field)) : [];
  return (
    <AuthFrame title={t("auth.signupTitle")}>
      <form onSubmit={submit} className="space-y-4" noValidate>
        {input("name", "text", "name")}
        {input("email", "email", "email")}
        {input("password", "password", "new-password")}
        {input("organization_name", "text", "organization")}
        {error !== null && (!problem || problem.errors.length === 0 || unshown.length > 0) && (
          <ErrorBox error={error} message={problem ? problem.summary(FIELDS) : undefined} />
        )}
        <Button type="submit" disabled={busy} className="w-full">
          {t("auth.createAccount")}
        </Button>
      </form>
      <AuthSwitch prompt={t("auth.haveAccount")} to="/login">
        {t("auth.signIn")}
      </AuthSwitch>
    </AuthFrame>
  );
}
