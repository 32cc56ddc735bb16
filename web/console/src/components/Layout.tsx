// The signed-in frame: a sidebar (an icon rail on tablets, a row of icons on phones), a top bar with
// the organization switcher, language, theme and sign-out, and the current page.

import { Suspense } from "react";
import { useTranslation } from "react-i18next";
import { NavLink, Outlet, useNavigate } from "react-router";
import { PageBoundary } from "./ErrorBoundary";
import { useSession } from "../auth/session";
import { CreateOrg } from "./CreateOrg";
import { LanguageSwitcher, ThemeToggle } from "./Preferences";
import { Button, Loading } from "./ui";

const NAV = [
  { to: "/bots", key: "nav.bots", icon: "M8 3h8v4H8zM5 7h14v12H5zM9 12h.01M15 12h.01M9 16h6" },
  { to: "/knowledge", key: "nav.knowledge", icon: "M4 5a2 2 0 0 1 2-2h13v16H6a2 2 0 0 0-2 2zM4 19V5" },
  { to: "/inbox", key: "nav.inbox", icon: "M3 13h5l2 3h4l2-3h5M5 5h14l2 8v6H3v-6z" },
  { to: "/analytics", key: "nav.analytics", icon: "M4 20V10M10 20V4M16 20v-7M22 20H2" },
] as const;

function OrgSwitcher() {
  const { t } = useTranslation();
  const { orgs, org, selectOrg } = useSession();
  const navigate = useNavigate();
  return (
    <select
      aria-label={t("topbar.organization")}
      value={org?.id ?? ""}
      onChange={(e) => {
        selectOrg(e.target.value);
        // Pages of the previous organization's bots and knowledge bases do not exist in this one.
        void navigate("/bots");
      }}
      className="max-w-48 rounded-md border border-slate-300 bg-white px-2 py-1.5 text-sm dark:border-slate-600 dark:bg-slate-800 dark:text-slate-100"
    >
      {orgs.map((o) => (
        <option key={o.id} value={o.id}>
          {o.name}
        </option>
      ))}
    </select>
  );
}

function Nav() {
  const { t } = useTranslation();
  return (
    <nav aria-label={t("nav.label")} className="flex gap-1 md:flex-col">
      {NAV.map((item) => (
        <NavLink
          key={item.to}
          to={item.to}
          title={t(item.key)}
          className={({ isActive }) =>
            `flex items-center gap-3 rounded-md px-3 py-2 text-sm font-medium ${
              isActive
                ? "bg-indigo-50 text-indigo-700 dark:bg-indigo-950 dark:text-indigo-200"
                : "text-slate-700 hover:bg-slate-100 dark:text-slate-300 dark:hover:bg-slate-800"
            }`
          }
        >
          <svg viewBox="0 0 24 24" className="h-5 w-5 shrink-0" fill="none" stroke="currentColor" strokeWidth="2" aria-hidden="true">
            <path d={item.icon} />
          </svg>
          <span className="sr-only lg:not-sr-only">{t(item.key)}</span>
        </NavLink>
      ))}
    </nav>
  );
}

export function Layout() {
  const { t } = useTranslation();
  const { user, org, signOut } = useSession();
  return (
    <div className="flex min-h-screen flex-col text-slate-900 md:flex-row dark:text-slate-100">
      <aside className="border-b border-slate-200 bg-white p-2 md:w-16 md:border-r md:border-b-0 lg:w-56 dark:border-slate-800 dark:bg-slate-900">
        <div className="mb-2 hidden px-3 py-2 text-lg font-bold text-indigo-700 lg:block dark:text-indigo-300">BotBuilder</div>
        <Nav />
      </aside>
      <div className="flex min-w-0 flex-1 flex-col">
        <header className="flex flex-wrap items-center gap-2 border-b border-slate-200 bg-white px-4 py-2 dark:border-slate-800 dark:bg-slate-900">
          <OrgSwitcher />
          <div className="ml-auto flex items-center gap-2">
            <LanguageSwitcher />
            <ThemeToggle />
            <span className="hidden text-sm text-slate-500 lg:inline dark:text-slate-400">{user?.email}</span>
            <Button variant="secondary" onClick={() => void signOut()}>
              {t("topbar.signOut")}
            </Button>
          </div>
        </header>
        <main className="flex-1 p-4 lg:p-6">
          {org ? (
            <PageBoundary>
              <Suspense fallback={<Loading />}>
                <Outlet key={org.id} />
              </Suspense>
            </PageBoundary>
          ) : (
            <CreateOrg />
          )}
        </main>
      </div>
    </div>
  );
}
