// The bot's public web chat API (`/api/v1/webchat/{bot}/…`, see the server's OpenAPI
// document at `/docs`): appearance, a session token per visitor, messages streamed as
// server-sent events, the visitor's history, and the visitor's event stream for replies sent
// outside their own requests (a human agent's).

import { readEvents } from "./sse";

/** What the bot's settings say the widget looks like (`GET …/config`). */
export interface Appearance {
  bot_name: string;
  title: string | null;
  color: string | null;
  avatar_url: string | null;
  greeting: string | null;
  placeholder: string | null;
  position: "right" | "left";
  language: string | null;
}

/** A button or quick reply: `title` is shown, `payload` is sent back when pressed. */
export interface Choice {
  title: string;
  payload: string;
}

/** A numbered source of an answer. */
export interface Citation {
  n: number;
  title?: string | null;
  url?: string | null;
  snippet?: string | null;
}

/** A stored message, as a visitor sees it. */
export interface Message {
  id: string;
  direction: "inbound" | "outbound" | "agent";
  text: string;
  payload: {
    buttons?: Choice[];
    quick_replies?: Choice[];
    citations?: Citation[];
    handoff?: string;
    image?: { url: string; alt?: string };
    [key: string]: unknown;
  };
  created_at: string;
}

/** A part of what reaches the visitor outside their requests (`GET …/events`). */
export interface Delivery {
  type: "text" | "image" | "typing";
  text?: string;
  url?: string;
  alt?: string;
  choices?: { style: string; options: Choice[] };
}

/** What a turn streams while it runs. */
export interface TurnHandlers {
  delta(text: string): void;
  tool(name: string, status: string): void;
  message(message: Message): void;
}

/** The server took the visitor's message but no complete answer came (the stream broke or
 * reported an error): the message is stored, so sending it again would repeat it. */
export class TurnFailed extends Error {}

/** A failed call: the HTTP status (0 when the server could not be reached). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

interface StoredSession {
  token: string;
  expires_at: number;
  last_event_id?: string;
}

const SESSION_MARGIN_MS = 60_000;

/** The client of one bot's web chat API, keeping the visitor's session in `localStorage`. */
export class ChatApi {
  private readonly base: string;
  private readonly storageKey: string;
  /** Whether this page has used a session (a new one then replaces it). */
  private hadSession = false;
  /** Called when a new session replaces the one this page showed (the old one expired). */
  onSessionReplaced: (() => void) | undefined;

  constructor(host: string, bot: string) {
    this.base = `${host.replace(/\/$/, "")}/api/v1/webchat/${encodeURIComponent(bot)}`;
    this.storageKey = `botbuilder.widget.${bot}`;
  }

  private stored(): StoredSession | undefined {
    try {
      const raw = localStorage.getItem(this.storageKey);
      const session = raw ? (JSON.parse(raw) as StoredSession) : undefined;
      if (session && typeof session.token === "string" && session.expires_at > Date.now() + SESSION_MARGIN_MS) {
        return session;
      }
    } catch {
      // Storage refused (privacy mode) or a damaged entry: a new session.
    }
    return undefined;
  }

  private store(session: StoredSession | undefined): void {
    try {
      if (session) localStorage.setItem(this.storageKey, JSON.stringify(session));
      else localStorage.removeItem(this.storageKey);
    } catch {
      // The session then lasts as long as the page.
    }
  }

  /** Whether a stored session can be resumed (its history shown). */
  hasSession(): boolean {
    const has = this.stored() !== undefined;
    this.hadSession ||= has;
    return has;
  }

  private async fetch(path: string, init: RequestInit = {}): Promise<Response> {
    let response: Response;
    try {
      response = await fetch(`${this.base}${path}`, { ...init, credentials: "omit" });
    } catch (e) {
      throw new ApiError(0, e instanceof Error ? e.message : String(e));
    }
    if (!response.ok) {
      const problem = (await response.json().catch(() => ({}))) as { detail?: string; title?: string };
      throw new ApiError(response.status, problem.detail ?? problem.title ?? response.statusText);
    }
    return response;
  }

  /** The bot's appearance. */
  async config(): Promise<Appearance> {
    return (await this.fetch("/config")).json() as Promise<Appearance>;
  }

  /** The stored session's token, or a new session's. */
  private async token(): Promise<string> {
    const stored = this.stored();
    if (stored) {
      this.hadSession = true;
      return stored.token;
    }
    if (this.hadSession) this.onSessionReplaced?.();
    this.hadSession = true;
    const created = (await (await this.fetch("/sessions", { method: "POST" })).json()) as {
      session_token: string;
      expires_in: number;
    };
    this.store({ token: created.session_token, expires_at: Date.now() + created.expires_in * 1000 });
    return created.session_token;
  }

  /** Calls `path` with the session token; a token the server no longer accepts is replaced once. */
  private async authorized(path: string, init: RequestInit = {}): Promise<Response> {
    for (let attempt = 0; ; attempt += 1) {
      const token = await this.token();
      try {
        return await this.fetch(path, {
          ...init,
          headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${token}` },
        });
      } catch (e) {
        if (e instanceof ApiError && e.status === 401 && attempt === 0) {
          this.store(undefined);
          continue;
        }
        throw e;
      }
    }
  }

  /** The visitor's conversation so far (empty without a stored session). */
  async history(): Promise<Message[]> {
    if (!this.hasSession()) return [];
    return (await this.authorized("/messages")).json() as Promise<Message[]>;
  }

  /**
   * Sends `text` and streams the turn to `on`; resolves when the turn is done.
   *
   * Fails with {@link ApiError} when the message was not taken (nothing stored: it may be sent
   * again), with {@link TurnFailed} when it was but the answer broke off.
   */
  async send(text: string, on: TurnHandlers): Promise<void> {
    const response = await this.authorized("/messages", {
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/event-stream" },
      body: JSON.stringify({ text }),
    });
    try {
      if (!response.body) throw new Error("no response body");
      for await (const event of readEvents(response.body)) {
        const data = JSON.parse(event.data) as Record<string, unknown>;
        if (event.event === "delta") on.delta(String(data.text ?? ""));
        else if (event.event === "tool") on.tool(String(data.name ?? ""), String(data.status ?? ""));
        else if (event.event === "message") on.message(data as unknown as Message);
        else if (event.event === "error") throw new Error(String(data.title ?? "error"));
        else if (event.event === "done") return;
      }
      throw new Error("the answer ended early");
    } catch (e) {
      throw new TurnFailed(e instanceof Error ? e.message : String(e));
    }
  }

  /** Forgets where the event stream was: the history about to be read holds what it missed. */
  forgetResumePoint(): void {
    const session = this.stored();
    if (session?.last_event_id) {
      delete session.last_event_id;
      this.store(session);
    }
  }

  /**
   * Listens for deliveries until `signal` aborts, reconnecting after a failure (1 s, doubling
   * to 30 s) with `Last-Event-ID`, so what was sent meanwhile arrives first.
   */
  async listen(onDelivery: (delivery: Delivery) => void, signal: AbortSignal): Promise<void> {
    let wait = 1000;
    while (!signal.aborted) {
      try {
        const lastId = this.stored()?.last_event_id;
        const headers: Record<string, string> = { accept: "text/event-stream" };
        if (lastId) headers["last-event-id"] = lastId;
        const response = await this.authorized("/events", { headers, signal });
        if (!response.body) throw new ApiError(0, "no response body");
        wait = 1000;
        for await (const event of readEvents(response.body)) {
          if (event.id) {
            const session = this.stored();
            if (session) this.store({ ...session, last_event_id: event.id });
          }
          if (event.event === "message") onDelivery(JSON.parse(event.data) as Delivery);
        }
      } catch (e) {
        if (signal.aborted) return;
        if (e instanceof ApiError && e.status >= 400 && e.status < 500 && e.status !== 429) return;
      }
      // Jittered, so instances that restart are not all called back at once.
      await new Promise((resolve) => setTimeout(resolve, wait * (0.5 + Math.random())));
      wait = Math.min(wait * 2, 30_000);
    }
  }
}
