// Deploying a bot: the widget snippet with a copy button, and a live preview of the widget.

import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Button, Card } from "../../components/ui";
import type { Bot } from "../../lib/types";
import { WidgetPreview } from "./WidgetPreview";

export function snippet(origin: string, bot: string): string {
  return `<script src="${origin}/widget.js" data-bot="${bot}" async></script>`;
}

export default function DeployTab({ bot }: { bot: Bot }) {
  const { t, i18n } = useTranslation();
  const code = snippet(location.origin, bot.id);
  const [copied, setCopied] = useState<"yes" | "no" | null>(null);

  async function copy() {
    try {
      await navigator.clipboard.writeText(code);
      setCopied("yes");
    } catch {
      setCopied("no");
    }
  }

  return (
    <div className="grid gap-4 xl:grid-cols-2">
      <Card>
        <h2 className="mb-2 text-base font-semibold">{t("deploy.snippetTitle")}</h2>
        <p className="mb-3 text-sm text-slate-600 dark:text-slate-300">{t("deploy.snippetHint")}</p>
        <pre className="rounded-md bg-slate-900 p-3 text-xs break-all whitespace-pre-wrap text-slate-100" aria-label={t("deploy.snippetTitle")}>
          <code>{code}</code>
        </pre>
        <div className="mt-3 flex items-center gap-3">
          <Button onClick={() => void copy()}>{t("deploy.copy")}</Button>
          {copied && (
            <span role="status" className="text-sm text-slate-600 dark:text-slate-300">
              {copied === "yes" ? t("deploy.copied") : t("deploy.copyFailed")}
            </span>
          )}
        </div>
        <p className="mt-4 text-sm text-slate-600 dark:text-slate-300">{t("deploy.originsHint")}</p>
      </Card>
      <Card>
        <h2 className="mb-3 text-base font-semibold">{t("deploy.preview")}</h2>
        <WidgetPreview key={bot.id} bot={bot.id} language={i18n.resolvedLanguage ?? "en"} />
      </Card>
    </div>
  );
}
