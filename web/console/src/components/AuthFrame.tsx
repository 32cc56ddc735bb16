// The frame of the sign-in and sign-up pages: a centred card with the language and theme controls,
// and the link from either page to the other.

import type { ReactNode } from "react";
import { Link } from "react-router";
import { LanguageSwitcher, ThemeToggle } from "./Preferences";
import { Card } from "./ui";

export function AuthFrame({ title, children }: { title: string; children: ReactNode }) {
  return (
    <div className="flex min-h-screen flex-col items-center justify-center p-4 text-slate-900 dark:text-slate-100">
      <div className="mb-4 flex w-full max-w-sm items-center justify-between">
        <span className="text-lg font-bold text-indigo-700 dark:text-indigo-300">BotBuilder</span>
        <div className="flex items-center gap-2">
          <LanguageSwitcher />
          <ThemeToggle />
        </div>
      </div>
      <Card className="w-full max-w-sm">
        <h1 className="mb-4 text-xl font-semibold">{title}</h1>
        {children}
      </Card>
    </div>
  );
}

/** Under the form: "`prompt` <link to `to`>". */
export function AuthSwitch({ prompt, to, children }: { prompt: string; to: string; children: ReactNode }) {
  return (
    <p className="mt-4 text-sm text-slate-600 dark:text-slate-300">
      {prompt}{" "}
      <Link to={to} className="font-medium text-indigo-600 hover:underline dark:text-indigo-300">
        {children}
      </Link>
    </p>
  );
}
