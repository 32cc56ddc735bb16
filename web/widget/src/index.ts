// Entry point of `widget.js`. Loaded by
// `<script src="https://HOST/widget.js" data-bot="BOT_ID" async></script>`, it mounts a
// launcher for that bot; `data-mode="inline"` with `data-target="#css-selector"` mounts the
// panel inside that element instead, and `data-lang` picks the widget's language. Pages
// that mount widgets themselves call `BotBuilderWidget.mount({ bot, host, … })`.

import { mount } from "./widget";

export { mount };
export type { MountOptions, Widget } from "./widget";

const script = document.currentScript as HTMLScriptElement | null;
if (script?.dataset.bot) {
  const { bot, mode, target, lang } = script.dataset;
  const host = new URL(script.src, location.href).origin;
  const start = () =>
    void mount({
      bot,
      host,
      mode: mode === "inline" ? "inline" : "launcher",
      target: target ? document.querySelector<HTMLElement>(target) : null,
      language: lang ?? null,
    });
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start, { once: true });
  else start();
}
