// A live preview of the web chat widget, mounted inline in the page. `/widget.js` is loaded once
// (without `data-bot`, so it mounts nothing by itself); each preview then calls its
// `BotBuilderWidget.mount` and destroys the widget on unmount, so revisits and bot switches
// remount cleanly.

import { useEffect, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { ErrorBox } from "../../components/ui";

interface MountedWidget {
  destroy(): void;
}

interface WidgetGlobal {
  mount(options: {
    bot: string;
    host: string;
    mode: "inline";
    target: HTMLElement;
    language?: string | null;
  }): Promise<MountedWidget | undefined>;
}

declare global {
  interface Window {
    BotBuilderWidget?: WidgetGlobal;
  }
}

let loading: Promise<WidgetGlobal> | null = null;

/** Loads `/widget.js` once and resolves with its global API. */
function loadWidget(): Promise<WidgetGlobal> {
  if (window.BotBuilderWidget) return Promise.resolve(window.BotBuilderWidget);
  if (!loading) {
    loading = new Promise<WidgetGlobal>((resolve, reject) => {
      const script = document.createElement("script");
      script.src = "/widget.js";
      script.async = true;
      script.dataset.botbuilderPreview = "";
      script.onload = () => (window.BotBuilderWidget ? resolve(window.BotBuilderWidget) : reject(new Error("widget.js did not load")));
      script.onerror = () => reject(new Error("widget.js did not load"));
      document.head.append(script);
    }).catch((e: unknown) => {
      loading = null;
      throw e;
    });
  }
  return loading;
}

export function WidgetPreview({ bot, language }: { bot: string; language: string }) {
  const { t } = useTranslation();
  const target = useRef<HTMLDivElement>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let widget: MountedWidget | undefined;
    let cancelled = false;
    setError(null);
    void (async () => {
      try {
        const api = await loadWidget();
        if (cancelled || !target.current) return;
        const mounted = await api.mount({ bot, host: location.origin, mode: "inline", target: target.current, language });
        if (cancelled) mounted?.destroy();
        else if (!mounted) setError(t("deploy.previewFailed"));
        else widget = mounted;
      } catch (e) {
        if (!cancelled) setError(e instanceof Error ? e.message : String(e));
      }
    })();
    return () => {
      cancelled = true;
      widget?.destroy();
    };
  }, [bot, language, t]);

  return (
    <div>
      {error && <ErrorBox message={error} />}
      <div ref={target} className="h-[560px] max-w-md" data-testid="widget-preview" />
    </div>
  );
}
