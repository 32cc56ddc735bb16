// The API client: keeps the access token in memory only, sends it as a Bearer token, and after
// a 401 refreshes it once (through the HttpOnly refresh cookie) and retries the request. The
// server rotates the refresh cookie on each refresh and takes a second use of one cookie for
// theft (revoking the whole session), so refreshes are serialised: one in flight per tab, and
// across the tabs of the browser by a Web Lock. A tab that refreshed posts the new access token
// on a BroadcastChannel (memory only, never stored); a tab that gets the lock next uses a token
// posted in the last few seconds instead of refreshing again. Sign-out is posted there too.

import { problemFromResponse } from "./problem";

type Fetch = (input: string, init?: RequestInit) => Promise<Response>;

/** The part of `navigator.locks` the client uses. */
export interface Locks {
  request<T>(name: string, callback: () => Promise<T>): Promise<T>;
}

/** The part of a BroadcastChannel the client uses. */
export interface Channel {
  postMessage(message: unknown): void;
  onmessage: ((event: MessageEvent) => void) | null;
  close(): void;
}

/** What the tabs of one browser share: a lock manager and a channel, each possibly missing. */
export interface Tabs {
  locks?: Locks | null;
  channel?: Channel | null;
}

/** The messages tabs exchange on the channel. */
export type TabMessage = { type: "refreshed"; token: string; expiresAt: number } | { type: "signed-out" };

export const REFRESH_LOCK = "botbuilder-refresh";
export const AUTH_CHANNEL = "botbuilder-auth";
/** How recent a token from another tab must be to be used instead of refreshing. */
export const SHARED_FRESH_MS = 10_000;

/** This browser's lock manager and an auth channel, where the browser has them. */
export function browserTabs(): Tabs {
  const nav = (globalThis as { navigator?: { locks?: unknown } }).navigator;
  const locks = nav?.locks && typeof (nav.locks as Locks).request === "function" ? (nav.locks as Locks) : null;
  let channel: Channel | null = null;
  if (typeof globalThis.BroadcastChannel === "function") {
    try {
      channel = new globalThis.BroadcastChannel(AUTH_CHANNEL);
    } catch {
      channel = null;
    }
  }
  return { locks, channel };
}

function tabMessage(data: unknown): TabMessage | null {
  if (typeof data !== "object" || data === null) return null;
  const m = data as Record<string, unknown>;
  if (m.type === "signed-out") return { type: "signed-out" };
  if (m.type === "refreshed" && typeof m.token === "string" && m.token && typeof m.expiresAt === "number")
    return { type: "refreshed", token: m.token, expiresAt: m.expiresAt };
  return null;
}

export interface RequestOptions {
  signal?: AbortSignal;
  /** A body sent as is (FormData); `body` is sent as JSON otherwise. */
  raw?: BodyInit;
}

export class ApiClient {
  private token: string | null = null;
  private refreshing: Promise<string | null> | null = null;
  private tabs: Tabs = {};
  /** The last token another tab posted, with when it came and when it expires. */
  private shared: { token: string; expiresAt: number; at: number } | null = null;
  /** Called when a refresh fails or another tab signs out: the session is over. */
  onSignedOut: (() => void) | null = null;

  constructor(
    private readonly fetchImpl: Fetch = (input, init) => globalThis.fetch(input, init),
    private readonly base = "",
    private readonly now: () => number = Date.now,
  ) {}

  /** Shares refreshes and sign-outs with the browser's other tabs; returns the disconnect. */
  connectTabs(tabs: Tabs = browserTabs()): () => void {
    this.tabs = tabs;
    const channel = tabs.channel;
    if (channel) {
      channel.onmessage = (event) => {
        const message = tabMessage(event.data);
        if (message?.type === "refreshed") {
          this.shared = { token: message.token, expiresAt: message.expiresAt, at: this.now() };
          // A signed-in tab takes it at once, which spares its next call a 401.
          if (this.token) this.token = message.token;
        } else if (message?.type === "signed-out") {
          this.token = null;
          this.shared = null;
          this.onSignedOut?.();
        }
      };
    }
    return () => {
      if (channel) {
        channel.onmessage = null;
        channel.close();
      }
      if (this.tabs === tabs) this.tabs = {};
    };
  }

  /** Tells the other tabs this one signed out (they sign out too). */
  broadcastSignOut(): void {
    this.shared = null;
    this.tell({ type: "signed-out" });
  }

  private tell(message: TabMessage): void {
    try {
      this.tabs.channel?.postMessage(message);
    } catch {
      // A closed channel: the other tabs will find out on their own.
    }
  }

  get accessToken(): string | null {
    return this.token;
  }

  setToken(token: string | null): void {
    this.token = token;
  }

  /** Exchanges the refresh cookie for a new access token; `null` when there is no session. */
  refresh(): Promise<string | null> {
    if (!this.refreshing) {
      const stale = this.token;
      const locks = this.tabs.locks;
      const run = () => this.refreshHoldingLock(stale);
      this.refreshing = (locks ? locks.request(REFRESH_LOCK, run) : run())
        .catch(() => {
          this.token = null;
          return null;
        })
        .finally(() => {
          this.refreshing = null;
        });
    }
    return this.refreshing;
  }

  /** The refresh itself, run while this tab holds the refresh lock (or where there is none). */
  private async refreshHoldingLock(stale: string | null): Promise<string | null> {
    // Another tab may have refreshed while this one waited: its token serves this tab too.
    const shared = this.shared;
    const now = this.now();
    if (shared && shared.token !== stale && now - shared.at < SHARED_FRESH_MS && shared.expiresAt - now > 5_000) {
      this.token = shared.token;
      return shared.token;
    }
    try {
      const res = await this.fetchImpl(`${this.base}/api/v1/auth/refresh`, {
        method: "POST",
        credentials: "same-origin",
      });
      if (!res.ok) {
        this.token = null;
        return null;
      }
      const body = (await res.json()) as { access_token: string; expires_in?: number };
      this.token = body.access_token;
      const lifetime = typeof body.expires_in === "number" && body.expires_in > 0 ? body.expires_in * 1000 : 60_000;
      this.shared = null;
      this.tell({ type: "refreshed", token: body.access_token, expiresAt: this.now() + lifetime });
      return this.token;
    } catch {
      this.token = null;
      return null;
    }
  }

  private send(method: string, path: string, body: unknown, options: RequestOptions, token: string | null) {
    const headers: Record<string, string> = { accept: "application/json" };
    if (token) headers.authorization = `Bearer ${token}`;
    let payload: BodyInit | undefined = options.raw;
    if (payload === undefined && body !== undefined) {
      headers["content-type"] = "application/json";
      payload = JSON.stringify(body);
    }
    const init: RequestInit = { method, headers, credentials: "same-origin" };
    if (payload !== undefined) init.body = payload;
    if (options.signal) init.signal = options.signal;
    return this.fetchImpl(`${this.base}${path}`, init);
  }

  /** Calls the API; throws an ApiProblem when it answers with an error. */
  async request<T>(method: string, path: string, body?: unknown, options: RequestOptions = {}): Promise<T> {
    const used = this.token;
    let res = await this.send(method, path, body, options, used);
    if (res.status === 401 && !path.startsWith("/api/v1/auth/")) {
      // Another call may have refreshed meanwhile: then retry with its token.
      const fresh = this.token !== used && this.token ? this.token : await this.refresh();
      if (fresh) res = await this.send(method, path, body, options, fresh);
      else this.onSignedOut?.();
    }
    if (!res.ok) throw await problemFromResponse(res);
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  get<T>(path: string, signal?: AbortSignal): Promise<T> {
    return this.request<T>("GET", path, undefined, signal ? { signal } : {});
  }

  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>("POST", path, body);
  }

  patch<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>("PATCH", path, body);
  }

  delete(path: string): Promise<void> {
    return this.request<void>("DELETE", path);
  }
}

/** The console's one client. */
export const api = new ApiClient();

/** `/api/v1/orgs/{org}` followed by `path`. */
export const orgPath = (org: string, path = "") => `/api/v1/orgs/${encodeURIComponent(org)}${path}`;
