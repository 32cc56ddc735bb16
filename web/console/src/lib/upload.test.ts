// Uploads: a retry after a refreshed 401, sign-out when the refresh fails, and no promise that
// hangs on a network error, a timeout or an abort.
import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiClient } from "./api";
import { ApiProblem } from "./problem";
import { uploadFile } from "./upload";

type Outcome = { status: number; body?: unknown } | "error" | "timeout" | "hang";

/** Installs a fake XMLHttpRequest answering each send with the next outcome. */
function fakeXhr(outcomes: Outcome[]) {
  const sent: { auth: string | null; timeout: number }[] = [];
  class FakeXhr {
    static instances: FakeXhr[] = [];
    status = 0;
    statusText = "";
    responseText = "";
    timeout = 0;
    withCredentials = true;
    upload: { onprogress: ((e: ProgressEvent) => void) | null } = { onprogress: null };
    onload: (() => void) | null = null;
    onerror: (() => void) | null = null;
    ontimeout: (() => void) | null = null;
    onabort: (() => void) | null = null;
    private headers: Record<string, string> = {};
    private finished = false;
    open() {}
    setRequestHeader(name: string, value: string) {
      this.headers[name.toLowerCase()] = value;
    }
    abort() {
      if (this.finished) return;
      this.finished = true;
      queueMicrotask(() => this.onabort?.());
    }
    send() {
      sent.push({ auth: this.headers.authorization ?? null, timeout: this.timeout });
      const outcome = outcomes.shift() ?? "hang";
      setTimeout(() => {
        if (this.finished) return;
        if (outcome === "hang") return;
        this.finished = true;
        if (outcome === "error") return this.onerror?.();
        if (outcome === "timeout") return this.ontimeout?.();
        this.status = outcome.status;
        this.responseText = JSON.stringify(outcome.body ?? {});
        this.upload.onprogress?.({ lengthComputable: true, loaded: 5, total: 10 } as ProgressEvent);
        this.onload?.();
      }, 1);
    }
  }
  vi.stubGlobal("XMLHttpRequest", FakeXhr);
  return sent;
}

const problem = (status: number) => ({ title: "Unauthorized", detail: "nope", status });
const file = () => new File(["hello"], "a.txt", { type: "text/plain" });

function client(refreshOk: boolean) {
  const fetch = vi.fn(async () =>
    refreshOk
      ? new Response(JSON.stringify({ access_token: "fresh", expires_in: 900 }), { status: 200 })
      : new Response(JSON.stringify(problem(401)), { status: 401 }),
  );
  const c = new ApiClient(fetch);
  c.setToken("stale");
  const signedOut = vi.fn();
  c.onSignedOut = signedOut;
  return { c, signedOut, fetch };
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe("uploadFile", () => {
  it("uploads, reports progress and resolves with the body", async () => {
    const sent = fakeXhr([{ status: 201, body: { id: "d1" } }]);
    const { c } = client(true);
    const progress: number[] = [];
    await expect(uploadFile(c, "/u", file(), (p) => progress.push(p))).resolves.toEqual({ id: "d1" });
    expect(progress).toEqual([0.5, 1]);
    expect(sent[0]).toEqual({ auth: "Bearer stale", timeout: 600_000 });
  });

  it("retries once with a refreshed token after a 401", async () => {
    const sent = fakeXhr([{ status: 401, body: problem(401) }, { status: 201, body: { id: "d1" } }]);
    const { c, signedOut } = client(true);
    await expect(uploadFile(c, "/u", file(), () => {})).resolves.toEqual({ id: "d1" });
    expect(sent.map((s) => s.auth)).toEqual(["Bearer stale", "Bearer fresh"]);
    expect(signedOut).not.toHaveBeenCalled();
  });

  it("signs out when the refresh after a 401 fails", async () => {
    fakeXhr([{ status: 401, body: problem(401) }]);
    const { c, signedOut } = client(false);
    const error = await uploadFile(c, "/u", file(), () => {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiProblem);
    expect(signedOut).toHaveBeenCalledOnce();
  });

  it("fails on a network error and on a timeout", async () => {
    fakeXhr(["error", "timeout"]);
    const { c } = client(true);
    await expect(uploadFile(c, "/u", file(), () => {})).rejects.toThrow("network error");
    await expect(uploadFile(c, "/u", file(), () => {}, { timeoutMs: 5 })).rejects.toThrow("timed out");
  });

  it("aborts with the signal, before or during the upload", async () => {
    fakeXhr(["hang"]);
    const { c } = client(true);
    const controller = new AbortController();
    const upload = uploadFile(c, "/u", file(), () => {}, { signal: controller.signal });
    controller.abort();
    await expect(upload).rejects.toMatchObject({ name: "AbortError" });
    await expect(uploadFile(c, "/u", file(), () => {}, { signal: controller.signal })).rejects.toMatchObject({ name: "AbortError" });
  });
});
