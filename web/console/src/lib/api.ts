// The API client: keeps the access token in memory only, sends it as a Bearer token, and after
// a 401 refreshes it once (through the HttpOnly refresh cookie) and retries the request. Only
// one refresh is in flight at a time, because a refresh token presented twice revokes them all.

import { problemFromResponse } from "./problem";

type Fetch = (input: string, init?: RequestInit) => Promise<Response>;

export interface RequestOptions {
  signal?: AbortSignal;
  /** A body sent as is (FormData); `body` is sent as JSON otherwise. */
  raw?: BodyInit;
}

export class ApiClient {
  private token: string | null = null;
  private refreshing: Promise<string | null> | null = null;
  /** Called when a refresh fails: the session is over. */
  onSignedOut: (() => void) | null = null;

  constructor(
    private readonly fetchImpl: Fetch = (input, init) => globalThis.fetch(input, init),
    private readonly base = "",
  ) {}

  get accessToken(): string | null {
    return this.token;
  }

  setToken(token: string | null): void {
    this.token = token;
  }

  /** Exchanges the refresh cookie for a new access token; `null` when there is no session. */
  refresh(): Promise<string | null> {
    if (!this.refreshing) {
      this.refreshing = (async () => {
        try {
          const res = await this.fetchImpl(`${this.base}/api/v1/auth/refresh`, {
            method: "POST",
            credentials: "same-origin",
          });
          if (!res.ok) {
            this.token = null;
            return null;
          }
          const body = (await res.json()) as { access_token: string };
          this.token = body.access_token;
          return this.token;
        } catch {
          this.token = null;
          return null;
        }
      })().finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
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
