// Sign-in: email and password; the access token stays in memory, the refresh cookie is HttpOnly.

import { type FormEvent, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import { useSession } from "../auth/session";
import { AuthFrame } from "../components/AuthFrame";
import { Button, ErrorBox, Field, INPUT } from "../components/ui";
import { ApiProblem } from "../lib/problem";

export default function LoginPage() {
  const { t } = useTranslation();
  const { signIn } = useSession();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await signIn(email, password);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  }

  const problem = error instanceof ApiProblem ? error : null;
  const fields = ["email", "password"];
  return (
    <AuthFrame title={t("auth.loginTitle")}>
      <form onSubmit={submit} className="space-y-4" noValidate>
        <Field label={t("auth.email")} error={problem?.fieldError("email")}>
          {(p) => (
            <input {...p} type="email" autoComplete="email" className={INPUT} value={email} onChange={(e) => setEmail(e.target.value)} required />
          )}
        </Field>
        <Field label={t("auth.password")} error={problem?.fieldError("password")}>
          {(p) => (
            <input
              {...p}
              type="password"
              autoComplete="current-password"
              className={INPUT}
              value={password}
              onChange={(e) => setPassword(e.target.value)}
              required
            />
          )}
        </Field>
        {error !== null && (!problem || problem.errors.every((f) => !fields.includes(f.field))) && (
          <ErrorBox message={problem ? problem.summary(fields) : undefined} error={error} />
        )}
        <Button type="submit" disabled={busy} className="w-full">
          {t("auth.signIn")}
        </Button>
      </form>
      <p className="mt-4 text-sm text-slate-600 dark:text-slate-300">
        {t("auth.noAccount")}{" "}
        <Link to="/signup" className="font-medium text-indigo-600 hover:underline dark:text-indigo-300">
          {t("auth.signUp")}
        </Link>
      </p>
    </AuthFrame>
  );
}
