// Sign-up: a user and their first organization in one request (the API requires both).

import { type FormEvent, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import { useSession } from "../auth/session";
import { AuthFrame } from "../components/AuthFrame";
import { Button, ErrorBox, Field, INPUT } from "../components/ui";
import { ApiProblem } from "../lib/problem";

const FIELDS = ["name", "email", "password", "organization_name"] as const;
type FieldName = (typeof FIELDS)[number];

export default function SignupPage() {
  const { t } = useTranslation();
  const { signUp } = useSession();
  const [form, setForm] = useState<Record<FieldName, string>>({ name: "", email: "", password: "", organization_name: "" });
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await signUp(form);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  }

  const problem = error instanceof ApiProblem ? error : null;
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
      <p className="mt-4 text-sm text-slate-600 dark:text-slate-300">
        {t("auth.haveAccount")}{" "}
        <Link to="/login" className="font-medium text-indigo-600 hover:underline dark:text-indigo-300">
          {t("auth.signIn")}
        </Link>
      </p>
    </AuthFrame>
  );
}
