// Catches a render error (or a lazy page's chunk that failed to load, as after an upgrade when
// the old hashed files are gone) and shows "Something went wrong" with a Reload button instead
// of a blank page. One wraps the whole app; one wraps each page, reset when the path changes.

import { Component, type ErrorInfo, type ReactNode } from "react";
import { useTranslation } from "react-i18next";
import { useLocation } from "react-router";

/** Whether `error` is a failed load of a code-split chunk (a dynamic import). */
export function isChunkLoadError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return (
    error.name === "ChunkLoadError" ||
    /dynamically imported module|module script failed|Importing a module script|error loading dynamically imported|Unable to preload CSS/i.test(
      error.message,
    )
  );
}

function Fallback({ error }: { error: unknown }) {
  const { t } = useTranslation();
  const chunk = isChunkLoadError(error);
  return (
    <div role="alert" className="mx-auto my-8 max-w-md rounded-lg border border-red-200 bg-red-50 p-4 text-sm text-red-900 dark:border-red-900 dark:bg-red-950 dark:text-red-100">
      <p className="font-semibold">{t("crash.title")}</p>
      <p className="mt-1">{t(chunk ? "crash.updated" : "crash.hint")}</p>
      <button
        type="button"
        onClick={() => window.location.reload()}
        className="mt-3 rounded-md bg-red-700 px-3 py-2 text-sm font-medium text-white hover:bg-red-800"
      >
        {t("crash.reload")}
      </button>
    </div>
  );
}

export class ErrorBoundary extends Component<{ children: ReactNode; resetKey?: string }, { error: unknown; failed: boolean }> {
  override state = { error: null as unknown, failed: false };

  static getDerivedStateFromError(error: unknown) {
    return { error, failed: true };
  }

  override componentDidCatch(error: unknown, info: ErrorInfo) {
    console.error(error, info.componentStack);
  }

  override componentDidUpdate(previous: { resetKey?: string }) {
    // Going elsewhere clears a failure (without remounting the page on every path change).
    if (this.state.failed && previous.resetKey !== this.props.resetKey) this.setState({ error: null, failed: false });
  }

  override render() {
    return this.state.failed ? <Fallback error={this.state.error} /> : this.props.children;
  }
}

/** An error boundary for one page, cleared by going to another path. */
export function PageBoundary({ children }: { children: ReactNode }) {
  const { pathname } = useLocation();
  return <ErrorBoundary resetKey={pathname}>{children}</ErrorBoundary>;
}
