// One bot, with its tabs: Settings (name, AI settings, provider status) and Deploy (snippet, preview).

import { lazy } from "react";
import { useTranslation } from "react-i18next";
import { NavLink, useParams } from "react-router";
import { BackLink, ErrorBox, Loading, PageTitle } from "../components/ui";
import { useBot } from "../lib/queries";

const SettingsTab = lazy(() => import("./bot/SettingsTab"));
const DeployTab = lazy(() => import("./bot/DeployTab"));

const TABS = ["settings", "deploy"] as const;

export default function BotPage() {
  const { t } = useTranslation();
  const { botId = "", tab = "settings" } = useParams();
  const bot = useBot(botId);
  if (bot.isPending) return <Loading />;
  if (bot.error) return <ErrorBox error={bot.error} />;
  const current = (TABS as readonly string[]).includes(tab) ? tab : "settings";
  return (
    <div className="mx-auto max-w-5xl">
      <BackLink to="/bots" className="mb-1 text-sm">
        {t("bots.title")}
      </BackLink>
      <PageTitle>{bot.data.name}</PageTitle>
      <nav aria-label={t("bot.tabs")} className="mb-4 flex gap-1 border-b border-slate-200 dark:border-slate-800">
        {TABS.map((name) => (
          <NavLink
            key={name}
            to={`/bots/${botId}/${name}`}
            className={() =>
              `-mb-px border-b-2 px-4 py-2 text-sm font-medium ${
                current === name
                  ? "border-indigo-600 text-indigo-700 dark:text-indigo-300"
                  : "border-transparent text-slate-600 hover:text-slate-900 dark:text-slate-400 dark:hover:text-slate-100"
              }`
            }
          >
            {t(`bot.tab.${name}`)}
          </NavLink>
        ))}
      </nav>
      {current === "settings" ? <SettingsTab key={bot.data.id} bot={bot.data} /> : <DeployTab bot={bot.data} />}
    </div>
  );
}
