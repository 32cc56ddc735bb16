// The API client: bearer token, one refresh after a 401 then a retry, one refresh at a time.
import { describe, expect, it, vi } from "vitest";
import { ApiClient, browserTabs, type Channel, type Locks, REFRESH_LOCK, SHARED_FRESH_MS } from "./api";
import { ApiProblem } from "./problem";

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

/** A fake server: the refresh endpoint hands out `fresh-N`; other calls need the latest token. */
function fakeServer(options: { refreshOk?: boolean } = {}) {
  let issued = 0;
  let current = "stale";
  const calls: { path: string; auth: string | null }[] = [];
  const fetch = vi.fn(async (input: string, init?: RequestInit) => {
    const auth = new Headers(init?.headers).get("authorization");
    calls.push({ path: input, auth });
    if (input === "/api/v1/auth/refresh") {
      await new Promise((r) => setTimeout(r, 5));
      if (options.refreshOk === false) return json(401, { title: "Unauthorized", detail: "no session", status: 401 });
      issued += 1;
      current = `fresh-${issued}`;
      return json(200, { access_token: current, token_type: "Bearer", expires_in: 900 });
    }
    if (auth !== `Bearer ${current}`) return json(401, { title: "Unauthorized", detail: "expired", status: 401 });
    return json(200, { ok: true, path: input });
  });
  return { fetch, calls, refreshes: () => calls.filter((c) => c.path === "/api/v1/auth/refresh").length };
}

describe("ApiClient", () => {
  it("sends the token and returns the JSON body", async () => {
    const server = fakeServer();
    const client = new ApiClient(server.fetch);
    client.setToken("stale");
    await expect(client.get("/api/v1/orgs")).resolves.toEqual({ ok: true, path: "/api/v1/orgs" });
    expect(server.calls[0]?.auth).toBe("Bearer stale");
    expect(server.refreshes()).toBe(0);
  });

  it("refreshes once after a 401 and retries with the new token", async () => {
    const server = fakeServer();
    const client = new ApiClient(server.fetch);
    client.setToken("expired");
    await expect(client.get("/api/v1/me")).resolves.toMatchObject({ ok: true });
    expect(server.refreshes()).toBe(1);
    expect(server.calls.at(-1)).toEqual({ path: "/api/v1/me", auth: "Bearer fresh-1" });
    expect(client.accessToken).toBe("fresh-1");
  });

  it("shares one refresh between concurrent requests", async () => {
    const server = fakeServer();
    const client = new ApiClient(server.fetch);
    client.setToken("expired");
    const results = await Promise.all([client.get("/a"), client.get("/b"), client.get("/c")]);
    expect(results).toHaveLength(3);
    expect(server.refreshes()).toBe(1);
  });

  it("signs out and throws the problem when the refresh fails", async () => {
    const server = fakeServer({ refreshOk: false });
    const client = new ApiClient(server.fetch);
    const signedOut = vi.fn();
    client.onSignedOut = signedOut;
    client.setToken("expired");
    const error = await client.get("/api/v1/me").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiProblem);
    expect((error as ApiProblem).status).toBe(401);
    expect(signedOut).toHaveBeenCalledOnce();
    expect(client.accessToken).toBeNull();
  });

  it("does not refresh after a 401 from the auth endpoints themselves", async () => {
    const fetch = vi.fn(async () => json(401, { title: "Unauthorized", detail: "wrong email or password", status: 401 }));
    const client = new ApiClient(fetch);
    await expect(client.post("/api/v1/auth/login", { email: "a", password: "b" })).rejects.toThrow("wrong email or password");
    expect(fetch).toHaveBeenCalledOnce();
  });

  it("sends JSON bodies and accepts 204", async () => {
    const fetch = vi.fn(async (_input: string, _init?: RequestInit) => new Response(null, { status: 204 }));
    const client = new ApiClient(fetch);
    await expect(client.post("/api/v1/auth/logout", { x: 1 })).resolves.toBeUndefined();
    const init = fetch.mock.calls[0]?.[1];
    expect(init?.body).toBe('{"x":1}');
    expect(new Headers(init?.headers).get("content-type")).toBe("application/json");
    expect(init?.credentials).toBe("same-origin");
  });
});

/** Tabs of one browser: a lock manager that runs one holder at a time, and a channel hub. */
function fakeBrowser() {
  let queue: Promise<unknown> = Promise.resolve();
  const lockNames: string[] = [];
  const locks: Locks = {
    request<T>(name: string, callback: () => Promise<T>): Promise<T> {
      lockNames.push(name);
      const run = queue.then(callback);
      queue = run.catch(() => undefined);
      return run;
    },
  };
  const channels: Channel[] = [];
  const posted: unknown[] = [];
  const channel = (): Channel => {
    const ch: Channel = {
      onmessage: null,
      postMessage(message) {
        posted.push(message);
        // Delivered to every other channel, as a BroadcastChannel does (not to the sender).
        for (const other of channels) if (other !== ch) other.onmessage?.({ data: structuredClone(message) } as MessageEvent);
      },
      close() {
        channels.splice(channels.indexOf(ch), 1);
      },
    };
    channels.push(ch);
    return ch;
  };
  return { locks, channel, posted, lockNames, channels };
}

/** A server like the real one: the refresh cookie rotates, and a cookie used twice revokes the session. */
function rotatingServer() {
  let cookie = 0;
  let revoked = false;
  let issued = 0;
  let current = "stale";
  const used = new Set<number>();
  const calls: string[] = [];
  const fetch = vi.fn(async (input: string, init?: RequestInit) => {
    calls.push(input);
    if (input === "/api/v1/auth/refresh") {
      const presented = cookie;
      await new Promise((r) => setTimeout(r, 5));
      if (revoked || used.has(presented)) {
        revoked = true;
        return json(401, { title: "Unauthorized", detail: "refresh token reused", status: 401 });
      }
      used.add(presented);
      cookie += 1;
      issued += 1;
      current = `fresh-${issued}`;
      return json(200, { access_token: current, token_type: "Bearer", expires_in: 900 });
    }
    if (new Headers(init?.headers).get("authorization") !== `Bearer ${current}`)
      return json(401, { title: "Unauthorized", detail: "expired", status: 401 });
    return json(200, { ok: true });
  });
  return { fetch, calls, revoked: () => revoked, refreshes: () => calls.filter((c) => c === "/api/v1/auth/refresh").length };
}

describe("ApiClient across tabs", () => {
  it("lets two tabs refreshing at once use one refresh, without revoking the session", async () => {
    const server = rotatingServer();
    const browser = fakeBrowser();
    const [a, b] = [new ApiClient(server.fetch), new ApiClient(server.fetch)];
    a.connectTabs({ locks: browser.locks, channel: browser.channel() });
    b.connectTabs({ locks: browser.locks, channel: browser.channel() });
    a.setToken("expired");
    b.setToken("expired");
    await expect(Promise.all([a.get("/x"), b.get("/y"), a.get("/z")])).resolves.toHaveLength(3);
    expect(server.revoked()).toBe(false);
    expect(server.refreshes()).toBe(1);
    expect(a.accessToken).toBe("fresh-1");
    expect(b.accessToken).toBe("fresh-1");
    expect(browser.lockNames.every((n) => n === REFRESH_LOCK)).toBe(true);
    expect(browser.posted).toEqual([{ type: "refreshed", token: "fresh-1", expiresAt: expect.any(Number) }]);
  });

  it("restores two tabs opened at once from one refresh", async () => {
    const server = rotatingServer();
    const browser = fakeBrowser();
    const [a, b] = [new ApiClient(server.fetch), new ApiClient(server.fetch)];
    a.connectTabs({ locks: browser.locks, channel: browser.channel() });
    b.connectTabs({ locks: browser.locks, channel: browser.channel() });
    expect(await Promise.all([a.refresh(), b.refresh()])).toEqual(["fresh-1", "fresh-1"]);
    expect(server.refreshes()).toBe(1);
  });

  it("refreshes again, in turn, when the other tab's token is old or is the one that failed", async () => {
    let clock = 1_000_000;
    const server = rotatingServer();
    const browser = fakeBrowser();
    const a = new ApiClient(server.fetch, "", () => clock);
    const b = new ApiClient(server.fetch, "", () => clock);
    a.connectTabs({ locks: browser.locks, channel: browser.channel() });
    b.connectTabs({ locks: browser.locks, channel: browser.channel() });
    expect(await a.refresh()).toBe("fresh-1");
    clock += SHARED_FRESH_MS + 1;
    expect(await b.refresh()).toBe("fresh-2");
    // A's token is now fresh-2 (taken from the channel); a 401 with it refreshes for real.
    expect(a.accessToken).toBe("fresh-2");
    expect(await a.refresh()).toBe("fresh-3");
    expect(server.refreshes()).toBe(3);
    expect(server.revoked()).toBe(false);
  });

  it("still refreshes once per tab where the browser has no locks or channel", async () => {
    const server = rotatingServer();
    const client = new ApiClient(server.fetch);
    client.connectTabs({ locks: null, channel: null });
    client.setToken("expired");
    await expect(Promise.all([client.get("/a"), client.get("/b")])).resolves.toHaveLength(2);
    expect(server.refreshes()).toBe(1);
  });

  it("signs the other tabs out when one signs out, and ignores stray messages", async () => {
    const browser = fakeBrowser();
    const [a, b] = [new ApiClient(vi.fn()), new ApiClient(vi.fn())];
    const signedOut = vi.fn();
    a.connectTabs({ locks: browser.locks, channel: browser.channel() });
    const disconnect = b.connectTabs({ locks: browser.locks, channel: browser.channel() });
    b.onSignedOut = signedOut;
    b.setToken("t");
    browser.channel().postMessage({ type: "refreshed", token: 42 });
    browser.channel().postMessage("nonsense");
    expect(b.accessToken).toBe("t");
    a.broadcastSignOut();
    expect(signedOut).toHaveBeenCalledOnce();
    expect(b.accessToken).toBeNull();
    disconnect();
    a.broadcastSignOut();
    expect(signedOut).toHaveBeenCalledOnce();
  });

  it("finds the browser's locks and channel, and does without them", () => {
    const request = vi.fn();
    vi.stubGlobal("navigator", { locks: { request } });
    const tabs = browserTabs();
    expect(tabs.locks?.request).toBe(request);
    expect(tabs.channel).toBeTruthy();
    tabs.channel?.close();
    vi.stubGlobal("navigator", {});
    vi.stubGlobal("BroadcastChannel", undefined);
    expect(browserTabs()).toEqual({ locks: null, channel: null });
    vi.unstubAllGlobals();
  });
});
