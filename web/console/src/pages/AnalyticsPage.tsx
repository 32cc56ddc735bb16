// A bot's analytics over a date range: stat cards, a chart of conversations and messages,
// top intents, and a CSV export of the series. Days are UTC days, as the API reads them (today is
// the current UTC date). The "To" day is included: the API's `until` is exclusive, so the request
// asks until the UTC day after.

import { useState } from "react";
import { useTranslation } from "react-i18next";
import { useQuery } from "@tanstack/react-query";
import { useOrgId } from "../auth/session";
import { useBotsGate } from "../components/BotsGate";
import { Button, Card, Empty, ErrorBox, Field, INPUT, Loading, PageTitle } from "../components/ui";
import { api, orgPath } from "../lib/api";
import { downloadText, seriesCsv } from "../lib/csv";
import { lastDays, nextDay } from "../lib/dates";
import type { Analytics } from "../lib/types";
import { SeriesChart } from "./analytics/SeriesChart";
import { StatCards } from "./analytics/StatCards";
import { TopIntents } from "./analytics/TopIntents";

export default function AnalyticsPage() {
  const { t } = useTranslation();
  const org = useOrgId();
  const { bots, placeholder } = useBotsGate(t("analytics.noBots"));
  const [picked, setPicked] = useState("");
  const [range, setRange] = useState(() => lastDays(7));
  const [interval, setInterval] = useState<"day" | "hour">("day");
  const bot = picked || bots?.[0]?.id || "";
  const analytics = useQuery({
    queryKey: ["analytics", org, bot, range.since, range.until, interval],
    queryFn: ({ signal }) =>
      api.get<Analytics>(
        orgPath(org, `/bots/${bot}/analytics?${new URLSearchParams({ since: range.since, until: nextDay(range.until), interval })}`),
        signal,
      ),
    enabled: !!bot && !!range.since && !!range.until,
  });

  if (placeholder) return placeholder;

  const exportCsv = () => {
    if (!analytics.data) return;
    const name = bots.find((b) => b.id === bot)?.name ?? bot;
    downloadText(`${name}-${range.since}-${range.until}-${interval}.csv`.replace(/[^\w.-]+/g, "_"), seriesCsv(analytics.data.series));
  };

  return (
    <div className="mx-auto max-w-6xl space-y-4">
      <PageTitle
        actions={
          <Button variant="secondary" onClick={exportCsv} disabled={!analytics.data}>
            {t("analytics.export")}
          </Button>
        }
      >
        {t("analytics.title")}
      </PageTitle>
      <Card>
        <div className="grid gap-3 sm:grid-cols-2 lg:grid-cols-4">
          <Field label={t("common.bot")}>
            {(p) => (
              <select {...p} className={INPUT} value={bot} onChange={(e) => setPicked(e.target.value)}>
                {bots.map((b) => (
                  <option key={b.id} value={b.id}>
                    {b.name}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <Field label={t("analytics.since")}>
            {(p) => <input {...p} type="date" className={INPUT} value={range.since} max={range.until} onChange={(e) => setRange({ ...range, since: e.target.value })} />}
          </Field>
          <Field label={t("analytics.until")}>
            {(p) => <input {...p} type="date" className={INPUT} value={range.until} min={range.since} onChange={(e) => setRange({ ...range, until: e.target.value })} />}
          </Field>
          <Field label={t("analytics.interval")}>
            {(p) => (
              <select {...p} className={INPUT} value={interval} onChange={(e) => setInterval(e.target.value === "hour" ? "hour" : "day")}>
                <option value="day">{t("analytics.day")}</option>
                <option value="hour">{t("analytics.hour")}</option>
              </select>
            )}
          </Field>
        </div>
        <p role="note" className="mt-2 text-xs text-slate-500 dark:text-slate-400">
          {t("analytics.utcNote")}
        </p>
      </Card>
      {analytics.isPending && analytics.fetchStatus !== "idle" && <Loading />}
      {analytics.error && <ErrorBox error={analytics.error} />}
      {analytics.data && (
        <>
          <StatCards totals={analytics.data.totals} />
          <div className="grid gap-4 lg:grid-cols-3">
            <Card className="lg:col-span-2">
              <h2 className="mb-3 text-base font-semibold">{t("analytics.activity")}</h2>
              {analytics.data.series.length === 0 ? (
                <Empty title={t("analytics.noData")} />
              ) : (
                <SeriesChart series={analytics.data.series} interval={analytics.data.interval} />
              )}
            </Card>
            <Card>
              <h2 className="mb-3 text-base font-semibold">{t("analytics.topIntents")}</h2>
              <TopIntents intents={analytics.data.top_intents} />
            </Card>
          </div>
        </>
      )}
    </div>
  );
}
