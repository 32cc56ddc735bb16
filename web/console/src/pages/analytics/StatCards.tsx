// The totals of an analytics range as a grid of labelled numbers.

import { useTranslation } from "react-i18next";
import { formatDuration } from "../../lib/duration";
import type { AnalyticsCounts } from "../../lib/types";

export function StatCards({ totals }: { totals: AnalyticsCounts }) {
  const { t, i18n } = useTranslation();
  const lang = i18n.resolvedLanguage ?? "en";
  const num = new Intl.NumberFormat(lang);
  const pct = new Intl.NumberFormat(lang, { style: "percent", maximumFractionDigits: 1 });
  const usd = new Intl.NumberFormat(lang, { style: "currency", currency: "USD", maximumFractionDigits: 4 });
  const rate = (v: number | null) => (v === null ? "—" : pct.format(v));
  const cards: [string, string][] = [
    ["conversations", num.format(totals.conversations)],
    ["messages_in", num.format(totals.messages_in)],
    ["messages_out", num.format(totals.messages_out)],
    ["unique_users", num.format(totals.unique_users)],
    ["fallback_rate", `${rate(totals.fallback_rate)} (${num.format(totals.fallbacks)})`],
    ["handoff_rate", `${rate(totals.handoff_rate)} (${num.format(totals.handoffs)})`],
    ["feedback", `${num.format(totals.feedback_up)} / ${num.format(totals.feedback_down)}`],
    ["median_response_ms", totals.median_response_ms === null ? "—" : formatDuration(totals.median_response_ms, lang)],
    ["tokens", `${num.format(totals.prompt_tokens)} / ${num.format(totals.completion_tokens)}`],
    ["cost", usd.format(totals.cost_micros / 1_000_000)],
  ];
  return (
    <dl className="grid grid-cols-2 gap-3 md:grid-cols-3 lg:grid-cols-5">
      {cards.map(([key, value]) => (
        <div key={key} className="rounded-lg border border-slate-200 bg-white p-3 dark:border-slate-700 dark:bg-slate-900">
          <dt className="text-xs text-slate-500 dark:text-slate-400">{t(`analytics.stat.${key}`)}</dt>
          <dd className="mt-1 text-lg font-semibold" data-stat={key}>
            {value}
          </dd>
        </div>
      ))}
    </dl>
  );
}
