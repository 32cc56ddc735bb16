// What the browser tests run against: a real BotBuilder server on a temporary SQLite database
// (the binary at BOTBUILDER_BIN), and a small server of test pages on another port, so the
// pages are of another origin than the server's, as on a customer's site.

import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A free TCP port on the loopback interface. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A running server, its base URL and a way to stop it. */
export interface RunningServer {
  url: string;
  stop(): Promise<void>;
}

/** Starts the server binary on a fresh database and waits until `/readyz` answers. */
export async function startServer(): Promise<RunningServer> {
  const binary = process.env.BOTBUILDER_BIN;
  if (!binary) throw new Error("set BOTBUILDER_BIN to the botbuilder binary (scripts/test does)");
  const dir = mkdtempSync(join(tmpdir(), "botbuilder-e2e-"));
  const port = await freePort();
  // Only what the server needs: no setting of the caller's (BOTBUILDER_*) leaks in.
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: dir,
    BOTBUILDER_BIND: `127.0.0.1:${port}`,
    BOTBUILDER_DATABASE_URL: `sqlite://${join(dir, "e2e.db")}`,
    RUST_LOG: process.env.RUST_LOG ?? "warn",
  };
  const child: ChildProcess = spawn(binary, ["serve"], {
    cwd: dir,
    env,
    stdio: ["ignore", "inherit", "inherit"],
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i += 1) {
    if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${url}/readyz`)).ok) break;
    } catch {
      // Not listening yet.
    }
    if (i > 600) throw new Error("the server did not become ready in 60 s");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGTERM");
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A tiny static page with nothing to load: the baseline of the first-paint measurement. */
const BLANK_PAGE = `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Blank</title></head>
<body><h1>Blank</h1><p>A static page.</p></body></html>`;

/**
 * Test pages: `GET /widget?bot=…&mode=inline` is a page embedding the widget from `server`;
 * `GET /blank` is a tiny static page.
 */
export async function startPages(server: string): Promise<{ port: number; stop(): Promise<void> }> {
  const pages: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://pages");
    if (url.pathname === "/blank") {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
      res.end(BLANK_PAGE);
      return;
    }
    const query = url.searchParams;
    const bot = query.get("bot") ?? "";
    const inline = query.get("mode") === "inline";
    const attributes = [
      `src="${server}/widget.js"`,
      `data-bot="${bot.replace(/[^0-9a-f-]/gi, "")}"`,
      inline ? 'data-mode="inline" data-target="#chat"' : "",
      query.get("lang") ? `data-lang="${query.get("lang")?.replace(/[^a-z-]/gi, "")}"` : "",
      "async",
    ].join(" ");
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Shop</title></head>
<body style="font-family: serif; margin: 0"><h1 style="padding: 16px">A customer's shop</h1>
${inline ? '<div id="chat" style="max-width: 400px; height: 560px; margin: 16px"></div>' : ""}
<script ${attributes}></script></body></html>`);
  });
  await new Promise<void>((resolve) => pages.listen(0, "127.0.0.1", resolve));
  const { port } = pages.address() as AddressInfo;
  return { port, stop: () => new Promise((resolve) => pages.close(() => resolve())) };
}

/** The JSON API of `base` as one signed-up account. */
export class Api {
  private constructor(
    readonly base: string,
    readonly token: string,
    readonly org: string,
  ) {}

  /** Signs up `email` with an organization of its own. */
  static async register(base: string, email: string): Promise<Api> {
    const res = await fetch(`${base}/api/v1/auth/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email, password: "correct horse battery", name: "E2E", organization_name: "Shop" }),
    });
    if (!res.ok) throw new Error(`register: ${res.status} ${await res.text()}`);
    const body = (await res.json()) as { access_token: string; organization: { id: string } };
    return new Api(base, body.access_token, body.organization.id);
  }

  /** Calls `path` (under `/api/v1/orgs/{org}`) and returns the JSON answer. */
  async call<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.base}/api/v1/orgs/${this.org}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.token}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return (res.status === 204 ? {} : await res.json()) as T;
  }
}
