// The most frequent intents as horizontal bars.

import { useTranslation } from "react-i18next";

export function TopIntents({ intents }: { intents: { intent: string; count: number }[] }) {
  const { t } = useTranslation();
  if (intents.length === 0) return <p className="text-sm text-slate-500 dark:text-slate-400">{t("analytics.noIntents")}</p>;
  const max = Math.max(...intents.map((i) => i.count), 1);
  return (
    <ul className="space-y-2" aria-label={t("analytics.topIntents")}>
      {intents.map((i) => (
        <li key={i.intent} className="text-sm">
          <div className="flex justify-between">
            <span>{i.intent}</span>
            <span className="font-mono">{i.count}</span>
          </div>
          <div className="h-2 rounded bg-slate-100 dark:bg-slate-800">
            <div className="h-2 rounded bg-indigo-500" style={{ width: `${(i.count / max) * 100}%` }} />
          </div>
        </li>
      ))}
    </ul>
  );
}
