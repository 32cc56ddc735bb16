// Whether the bot's language model can be called: the server's verdict for the saved provider,
// and whether the organization has stored credentials for the selected one.

import { useTranslation } from "react-i18next";
import { Badge, Card, ErrorBox, Loading } from "../../components/ui";
import { useCredentials } from "../../lib/queries";
import type { Bot } from "../../lib/types";

export function ProviderStatus({ bot, provider }: { bot: Bot; provider: string }) {
  const { t } = useTranslation();
  const credentials = useCredentials();
  const status = bot.provider_status ?? "unknown";
  const stored = credentials.data?.find((c) => c.provider === provider);
  return (
    <Card className="self-start">
      <h2 className="mb-3 text-base font-semibold">{t("provider.title")}</h2>
      <dl className="space-y-3 text-sm">
        <div>
          <dt className="text-slate-500 dark:text-slate-400">{t("provider.saved", { provider: bot.ai_config.provider })}</dt>
          <dd>
            <Badge tone={status === "ready" ? "green" : "amber"}>{t(`provider.status.${status}`, { defaultValue: status })}</Badge>
          </dd>
        </div>
        <div>
          <dt className="text-slate-500 dark:text-slate-400">{t("provider.credentials", { provider })}</dt>
          <dd>
            {credentials.isPending && <Loading />}
            {credentials.error && <ErrorBox error={credentials.error} />}
            {credentials.data &&
              (provider === "local" ? (
                <Badge tone="green">{t("provider.notNeeded")}</Badge>
              ) : stored ? (
                <Badge tone="green">{t("provider.configured", { hint: stored.hint || "—" })}</Badge>
              ) : (
                <Badge tone="amber">{t("provider.notConfigured")}</Badge>
              ))}
          </dd>
        </div>
      </dl>
    </Card>
  );
}
