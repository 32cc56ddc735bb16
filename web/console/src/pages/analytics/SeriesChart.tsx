// A chart of conversations and messages in/out per bucket (Recharts, loaded with this page only),
// labelled in UTC like the buckets.

import { useTranslation } from "react-i18next";
import { Bar, CartesianGrid, ComposedChart, Legend, Line, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { bucketFormat } from "../../lib/dates";
import type { AnalyticsBucket } from "../../lib/types";

export function SeriesChart({ series, interval }: { series: AnalyticsBucket[]; interval: "hour" | "day" }) {
  const { t, i18n } = useTranslation();
  // The API's buckets are UTC days and hours: labelled in UTC, not the browser's zone.
  const format = bucketFormat(i18n.resolvedLanguage, interval);
  const data = series.map((b) => ({ ...b, label: format.format(new Date(b.start)) }));
  return (
    <div className="h-72 w-full" role="img" aria-label={t("analytics.chartLabel")}>
      <ResponsiveContainer width="100%" height="100%">
        <ComposedChart data={data} margin={{ top: 8, right: 8, bottom: 0, left: -16 }}>
          <CartesianGrid strokeDasharray="3 3" stroke="currentColor" strokeOpacity={0.15} />
          <XAxis dataKey="label" tick={{ fontSize: 12, fill: "currentColor" }} />
          <YAxis allowDecimals={false} tick={{ fontSize: 12, fill: "currentColor" }} />
          <Tooltip contentStyle={{ color: "#0f172a" }} />
          <Legend wrapperStyle={{ fontSize: 13 }} />
          <Bar dataKey="messages_in" name={t("analytics.stat.messages_in")} fill="#818cf8" maxBarSize={28} />
          <Bar dataKey="messages_out" name={t("analytics.stat.messages_out")} fill="#34d399" maxBarSize={28} />
          <Line dataKey="conversations" name={t("analytics.stat.conversations")} stroke="#f59e0b" strokeWidth={2} type="monotone" />
        </ComposedChart>
      </ResponsiveContainer>
    </div>
  );
}
