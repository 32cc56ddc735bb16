// The organization's bots for a page that works on one of them: while they load, if they fail,
// or if there are none yet (with a link to create one), the page shows a placeholder instead.

import type { ReactElement } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import { useBots } from "../lib/queries";
import type { Bot } from "../lib/types";
import { Empty, ErrorBox, Loading } from "./ui";

/** The bots as far as known, and what to show instead of the page (null once there are bots). */
export type BotsGate = { bots: Bot[]; placeholder: null } | { bots: Bot[] | undefined; placeholder: ReactElement };

/** The bots, or the placeholder to show instead; `noBots` is the text shown when there are none. */
export function useBotsGate(noBots: string): BotsGate {
  const { t } = useTranslation();
  const bots = useBots();
  if (bots.isPending) return { bots: undefined, placeholder: <Loading /> };
  if (bots.error) return { bots: bots.data, placeholder: <ErrorBox error={bots.error} /> };
  if (bots.data.length === 0)
    return {
      bots: bots.data,
      placeholder: (
        <Empty title={noBots}>
          <Link to="/bots" className="text-indigo-700 hover:underline dark:text-indigo-300">
            {t("bots.create")}
          </Link>
        </Empty>
      ),
    };
  return { bots: bots.data, placeholder: null };
}
