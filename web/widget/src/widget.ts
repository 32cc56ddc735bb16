// The chat UI: a launcher button and a panel (or the panel alone inside a page element), in a
// Shadow DOM of its own. Accessible: the launcher says whether the panel is open, the panel is
// a labelled dialog, new messages are announced by a polite live region, Escape closes the
// panel and gives focus back to the launcher, Enter sends and Shift+Enter breaks the line.

import { ApiError, type Appearance, ChatApi, type Choice, type Citation, type Delivery, type Message, TurnFailed } from "./api";
import { type Language, pickLanguage } from "./i18n";
import { image, renderMarkdown, safeUrl } from "./markdown";
import { CSS } from "./styles";

/** How to mount a widget. */
export interface MountOptions {
  /** The bot's id. */
  bot: string;
  /** The server's origin (`https://bots.example.com`). */
  host: string;
  /** `launcher` (a floating button, the default) or `inline` (inside `target`). */
  mode?: "launcher" | "inline";
  /** Where an inline widget goes. */
  target?: HTMLElement | null;
  /** A language for the widget's own words, before the bot's and the page's. */
  language?: string | null;
}

const CHAT_ICON =
  "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z";

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Partial<Record<string, string>> = {},
  children: readonly (Node | string)[] = [],
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) if (value !== undefined) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

/** `#rgb` or `#rrggbb`, else `undefined`. */
function hexColor(value: string | null | undefined): string | undefined {
  return value && /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.test(value) ? value : undefined;
}

const DARK_TEXT = "#111827";
/** Relative luminance of {@link DARK_TEXT}. */
const DARK_LUMINANCE = 0.0116;

/** Dark or white text, whichever contrasts more with `hex` (WCAG 2.2 contrast ratio,
 * https://www.w3.org/TR/WCAG22/#dfn-contrast-ratio). */
function textOn(hex: string): string {
  const full = hex.length === 4 ? [...hex.slice(1)].map((c) => c + c).join("") : hex.slice(1);
  const [r, g, b] = [0, 2, 4].map((i) => {
    const c = parseInt(full.slice(i, i + 2), 16) / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  }) as [number, number, number];
  const luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b;
  const withWhite = 1.05 / (luminance + 0.05);
  const withDark = (luminance + 0.05) / (DARK_LUMINANCE + 0.05);
  return withDark > withWhite ? DARK_TEXT : "#ffffff";
}

/** One mounted widget. */
export class Widget {
  private readonly api: ChatApi;
  private readonly root: ShadowRoot;
  private readonly host: HTMLElement;
  private readonly frame: HTMLDivElement;
  private readonly panel: HTMLDivElement;
  private readonly log: HTMLDivElement;
  private readonly status: HTMLDivElement;
  private readonly quick: HTMLDivElement;
  private readonly input: HTMLTextAreaElement;
  private readonly sendButton: HTMLButtonElement;
  private readonly launcher: HTMLButtonElement | undefined;
  private readonly listening = new AbortController();
  private lang: Language;
  private loaded = false;
  private busy = false;
  private handoffShown = false;
  private listeningStarted = false;
  /** The visitor's message being sent, until its turn ends. */
  private pending: HTMLElement | undefined;
  private readonly appearance: Appearance;

  constructor(options: MountOptions, appearance: Appearance) {
    this.api = new ChatApi(options.host, options.bot);
    this.api.onSessionReplaced = () => {
      // The token expired (after 24 hours): what the page shows is another conversation.
      this.log.replaceChildren();
      this.handoffShown = false;
      this.notice(this.lang.strings.newConversation);
      if (this.pending) this.log.append(this.pending);
    };
    this.appearance = appearance;
    this.lang = pickLanguage([options.language, appearance.language, document.documentElement.lang, navigator.language]);
    const t = this.lang.strings;
    const inline = options.mode === "inline";
    // An element of its own name: a page's `div` rules cannot reach (or hide) it.
    this.host = el("botbuilder-chat" as "div", {
      "data-botbuilder-widget": options.bot,
      "data-mode": inline ? "inline" : "launcher",
    });
    this.root = this.host.attachShadow({ mode: "open" });
    adoptStyles(this.root);

    const color = hexColor(appearance.color);
    const title = appearance.title || appearance.bot_name || t.title;
    const panelId = `bb-panel-${options.bot}`;
    this.frame = el("div", {
      class: `${inline ? "inline" : "floating"} ${appearance.position === "left" ? "left" : "right"}`,
      dir: this.lang.dir,
      lang: this.lang.code,
    });
    if (color) {
      this.frame.style.setProperty("--bb-color", color);
      this.frame.style.setProperty("--bb-on-color", textOn(color));
    }
    const header = el("header");
    const avatar = safeUrl(appearance.avatar_url ?? "", new Set(["https:"]));
    if (avatar) header.append(el("img", { src: avatar, alt: "", referrerpolicy: "no-referrer" }));
    header.append(el("h2", {}, [title]));
    this.log = el("div", { class: "log", role: "log", "aria-live": "polite", "aria-relevant": "additions", tabindex: "0" });
    this.status = el("div", { class: "status", role: "status" });
    this.quick = el("div", { class: "quick" });
    this.input = el("textarea", {
      rows: "1",
      placeholder: appearance.placeholder || t.placeholder,
      "aria-label": appearance.placeholder || t.placeholder,
      dir: "auto",
      maxlength: "4000",
    });
    this.sendButton = el("button", { type: "submit", class: "send" }, [t.send]);
    const form = el("form", {}, [this.input, this.sendButton]);
    this.panel = el("div", { class: "panel", id: panelId, role: inline ? "region" : "dialog", "aria-label": title }, [
      header,
      this.log,
      this.status,
      this.quick,
      form,
    ]);

    form.addEventListener("submit", (event) => {
      event.preventDefault();
      void this.send(this.input.value);
    });
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        void this.send(this.input.value);
      }
    });

    if (inline) {
      this.frame.append(this.panel);
      (options.target ?? document.body).append(this.host);
      void this.load();
    } else {
      const close = el("button", { type: "button", class: "close", "aria-label": t.close }, ["×"]);
      close.addEventListener("click", () => this.close());
      header.append(close);
      this.launcher = el("button", {
        type: "button",
        class: "launcher",
        "aria-label": t.open,
        "aria-expanded": "false",
        "aria-controls": panelId,
      });
      const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
      svg.setAttribute("viewBox", "0 0 24 24");
      svg.setAttribute("aria-hidden", "true");
      const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
      path.setAttribute("d", CHAT_ICON);
      svg.append(path);
      this.launcher.append(svg);
      this.launcher.addEventListener("click", () => (this.panel.hidden ? this.open() : this.close()));
      this.panel.hidden = true;
      this.panel.addEventListener("keydown", (event) => {
        if (event.key === "Escape" && !event.isComposing) this.close();
      });
      this.frame.append(this.panel, this.launcher);
      document.body.append(this.host);
      // A returning visitor's conversation resumes where it was.
      if (this.api.hasSession()) void this.load();
    }
    this.root.append(this.frame);
  }

  /** Opens the panel and puts the focus in the input. */
  open(): void {
    this.panel.hidden = false;
    this.frame.classList.add("open");
    this.launcher?.classList.remove("unread");
    this.launcher?.setAttribute("aria-expanded", "true");
    this.launcher?.setAttribute("aria-label", this.lang.strings.close);
    if (!this.loaded) void this.load();
    this.input.focus();
  }

  /** Closes the panel and gives the focus back to the launcher. */
  close(): void {
    if (!this.launcher) return;
    this.panel.hidden = true;
    this.frame.classList.remove("open");
    this.launcher.setAttribute("aria-expanded", "false");
    this.launcher.setAttribute("aria-label", this.lang.strings.open);
    this.launcher.focus();
  }

  /** Removes the widget from the page. */
  destroy(): void {
    this.listening.abort();
    this.host.remove();
  }

  /** Shows the greeting and the history, and starts listening for agents' replies. */
  private async load(): Promise<void> {
    if (this.loaded) return;
    this.loaded = true;
    const greeting = this.appearance?.greeting;
    if (greeting) this.log.append(this.bubble("outbound", greeting));
    // The history holds whatever the event stream missed while no page listened.
    this.api.forgetResumePoint();
    this.log.setAttribute("aria-busy", "true");
    try {
      const history = await this.api.history();
      for (const message of history) this.showMessage(message, false);
      if (history.length > 0) this.listen();
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 401)) this.notice(this.lang.strings.unavailable);
    }
    this.log.removeAttribute("aria-busy");
    this.scroll();
  }

  private listen(): void {
    if (this.listeningStarted) return;
    this.listeningStarted = true;
    void this.api.listen((delivery) => this.showDelivery(delivery), this.listening.signal);
  }

  private scroll(): void {
    this.log.scrollTop = this.log.scrollHeight;
  }

  private notice(text: string): void {
    this.log.append(el("div", { class: "notice" }, [text]));
    this.scroll();
  }

  private bubble(direction: Message["direction"], text: string, citations: Citation[] = []): HTMLDivElement {
    const bubble = el("div", { class: `msg ${direction}`, dir: "auto" });
    if (direction === "agent") bubble.append(el("span", { class: "who" }, [this.lang.strings.agent]));
    if (direction === "inbound") {
      bubble.append(...text.split("\n").flatMap((line, i) => (i ? [el("br"), line] : [line])));
      return bubble;
    }
    const cited = new Map(citations.map((c) => [c.n, c]));
    bubble.append(
      renderMarkdown(text, (n) => {
        const label = `[${n}]`;
        const source = cited.get(n);
        if (!source) return document.createTextNode(label);
        const url = safeUrl(source.url ?? "", new Set(["http:", "https:"]));
        const mark = url
          ? el("a", { href: url, target: "_blank", rel: "noopener noreferrer nofollow" }, [label])
          : label;
        return el("sup", { title: source.title ?? "" }, [mark]);
      }),
    );
    if (citations.length > 0) {
      const list = el("ol", { class: "sources", "aria-label": this.lang.strings.sources });
      for (const c of citations) {
        const item = el("li", { value: String(c.n) });
        const url = safeUrl(c.url ?? "", new Set(["http:", "https:"]));
        const title = c.title || c.snippet || `#${c.n}`;
        if (url) item.append(el("a", { href: url, target: "_blank", rel: "noopener noreferrer nofollow" }, [title]));
        else item.append(title);
        list.append(item);
      }
      bubble.append(list);
    }
    return bubble;
  }

  private choices(options: Choice[], quick: boolean): HTMLElement {
    const box = quick ? this.quick : el("div", { class: "choices" });
    box.replaceChildren();
    for (const option of options) {
      const button = el("button", { type: "button" }, [option.title]);
      button.addEventListener("click", () => {
        void this.send(option.payload, option.title);
        // The quick replies go away with the click: the focus goes back to the input.
        this.input.focus();
      });
      box.append(button);
    }
    return box;
  }

  private showMessage(received: Message, live: boolean): HTMLDivElement {
    // A message without structured content has a `null` payload.
    const message: Message = { ...received, payload: received.payload ?? {} };
    const bubble = this.bubble(message.direction, message.text, message.payload.citations ?? []);
    const picture = message.payload.image;
    const img = picture ? image(picture.url, picture.alt ?? "") : undefined;
    if (img) bubble.prepend(img);
    const buttons = message.payload.buttons ?? [];
    if (buttons.length > 0 && message.direction !== "inbound") bubble.append(this.choices(buttons, false));
    if (live) this.choices(message.payload.quick_replies ?? [], true);
    if (message.text.trim() || buttons.length > 0 || img) this.log.append(bubble);
    if (message.payload.handoff === "waiting" && !this.handoffShown) {
      this.handoffShown = true;
      this.notice(this.lang.strings.handoff);
    }
    this.scroll();
    return bubble;
  }

  private showDelivery(delivery: Delivery): void {
    if (delivery.type === "typing") {
      this.status.textContent = this.lang.strings.typing;
      return;
    }
    this.status.textContent = "";
    const bubble = this.bubble("agent", delivery.text ?? "");
    const img = delivery.type === "image" ? image(delivery.url ?? "", delivery.alt ?? "") : undefined;
    if (img) bubble.append(img);
    const options = delivery.choices?.options ?? [];
    if (options.length > 0) bubble.append(this.choices(options, false));
    this.log.append(bubble);
    this.scroll();
    if (this.launcher && this.panel.hidden) {
      // Someone answered while the panel was closed: the launcher says so.
      this.launcher.classList.add("unread");
      this.launcher.setAttribute("aria-label", `${this.lang.strings.open} (${this.lang.strings.newMessage})`);
    }
  }

  /** Sends `text` (shown as `shown`, a button's title) and shows the turn as it streams. */
  private async send(text: string, shown = text): Promise<void> {
    if (this.busy || !text.trim()) return;
    this.busy = true;
    this.sendButton.disabled = true;
    const typed = text === this.input.value;
    if (typed) this.input.value = "";
    this.quick.replaceChildren();
    const mine = this.bubble("inbound", shown);
    this.pending = mine;
    this.log.append(mine);
    this.status.textContent = this.lang.strings.typing;
    this.scroll();
    let streaming: HTMLDivElement | undefined;
    let streamed = "";
    let replaced = false;
    try {
      await this.api.send(text, {
        delta: (piece) => {
          this.status.textContent = "";
          streamed += piece;
          if (!streaming) {
            streaming = el("div", { class: "msg outbound", dir: "auto", "aria-busy": "true" });
            this.log.append(streaming);
          }
          streaming.textContent = streamed;
          this.scroll();
        },
        tool: (name, status) => {
          this.status.textContent = status === "running" ? this.lang.strings.tool.replace("{name}", name) : "";
        },
        message: (message) => {
          this.status.textContent = "";
          const shownMessage = this.showMessage(message, true);
          if (streaming && !replaced) {
            replaced = true;
            streaming.replaceWith(shownMessage);
          }
        },
      });
      this.listen();
    } catch (e) {
      streaming?.remove();
      if (e instanceof TurnFailed) {
        // The message is stored: keep it, and do not offer to send it twice.
        this.log.append(el("div", { class: "error", role: "alert" }, [this.lang.strings.noReply]));
        this.listen();
      } else {
        mine.remove();
        if (typed && !this.input.value) this.input.value = text;
        const retry = el("button", { type: "button", class: "retry" }, [this.lang.strings.retry]);
        const error = el("div", { class: "error", role: "alert" }, [this.lang.strings.notSent, retry]);
        retry.addEventListener("click", () => {
          error.remove();
          this.input.focus();
          void this.send(text, shown);
        });
        this.log.append(error);
      }
    } finally {
      this.pending = undefined;
      this.status.textContent = "";
      this.busy = false;
      this.sendButton.disabled = false;
      this.scroll();
    }
  }
}

/** Applies the widget's styles to `root`: a constructed style sheet where the browser has them
 * (allowed by a page's Content-Security-Policy that forbids inline styles), else a `<style>`. */
function adoptStyles(root: ShadowRoot): void {
  try {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
    root.adoptedStyleSheets = [sheet];
  } catch {
    root.append(el("style", {}, [CSS]));
  }
}

/** Mounts a widget for `options.bot` once its appearance is known; logs why when it cannot. */
export async function mount(options: MountOptions): Promise<Widget | undefined> {
  const api = new ChatApi(options.host, options.bot);
  try {
    return new Widget(options, await api.config());
  } catch (e) {
    const why = e instanceof ApiError && e.status === 404 ? "no such bot" : e instanceof Error ? e.message : String(e);
    console.error(
      `BotBuilder widget: cannot load bot ${options.bot} from ${options.host} (${why}). ` +
        `A page may use the widget only from an origin in the bot's allowed origins ` +
        `(settings.allowed_origins); add "${location.origin}" there if this page should.`,
    );
    return undefined;
  }
}
