// The API client: bearer token, one refresh after a 401 then a retry, one refresh at a time.
import { describe, expect, it, vi } from "vitest";
import { ApiClient } from "./api";
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
