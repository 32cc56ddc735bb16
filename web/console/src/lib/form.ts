// The plumbing of a form that sends one request: prevent the page's submit, mark the form busy,
// remember the failure (a problem document names the fields at fault).

import { type FormEvent, useState } from "react";
import { ApiProblem } from "./problem";

/**
 * `submit` runs `action`; `busy` is true while it runs and after it fails no longer, `error` is
 * its failure (`problem` the same, if the API described it). After a success the form stays busy
 * (it is about to be left) unless `idleAfterSuccess`.
 */
export function useFormSubmit(action: () => Promise<unknown>, { idleAfterSuccess = false } = {}) {
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await action();
      if (idleAfterSuccess) setBusy(false);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  }

  const problem = error instanceof ApiProblem ? error : null;
  return { submit, busy, error, problem };
}
