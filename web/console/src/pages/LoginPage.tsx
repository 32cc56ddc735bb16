// Sign-in: email and password; the access token stays in memory, the refresh cookie is HttpOnly.

import { useState } from "react";
import { useTranslation } from "react-i18next";
import { useSession } from "../auth/session";
import { AuthFrame, AuthSwitch } from "../components/AuthFrame";
import { Button, ErrorBox, Field, INPUT } from "../components/ui";
import { useFormSubmit } from "../lib/form";

export default function LoginPage() {
  const { t } = useTranslation();
  const { signIn } = useSession();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const { submit, busy, error, problem } = useFormSubmit(() => signIn(email, password));

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
      <AuthSwitch prompt={t("auth.noAccount")} to="/signup">
        {t("auth.signUp")}
      </AuthSwitch>
    </AuthFrame>
  );
}
