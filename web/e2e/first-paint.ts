// First paint of the console, measured in the system's Chromium against a real server (the
// binary at BOTBUILDER_BIN, on a fresh database): the first-contentful-paint of
//   (a) the sign-in page, /login;
//   (b) the signed-in bots page, /bots, which restores the session itself (silent refresh)
//       from a refresh cookie only; (b2) the same, navigated to after signing in through the
//       form in that context, with the HTTP cache disabled (the renderer is then warm);
//   (c) a tiny static page of the test-pages server, the same run's baseline;
//   (d) a page of that server embedding the chat widget from the server ("ready": the
//       widget's launcher drawn, after its script and the bot's appearance have loaded);
// each over RUNS cold loads (a new browser context each time, so nothing is cached), printed as
// median and p90 in ms, with the time until the page's heading is shown ("ready"), and the
// gzipped size of the entry script and style sheet index.html references.
//
//   cd web && BOTBUILDER_BIN=../target/release/botbuilder npm run first-paint -w e2e
//
// A measurement, not a test: nothing is asserted about the times.

import { gzipSync } from "node:zlib";
import { type Browser, type BrowserContext, type Page, chromium } from "@playwright/test";
import config from "./playwright.config";
import { Api, startPages, startServer } from "./server";

const RUNS = Number(process.env.RUNS ?? 15);
const PASSWORD = "correct horse battery"; // what Api.register signs up with

/** Resolves with the page's first-contentful-paint, in ms since navigation start. */
function firstContentfulPaint(page: Page): Promise<number> {
  return page.evaluate(
    () =>
      new Promise<number>((resolve, reject) => {
        const found = performance.getEntriesByName("first-contentful-paint")[0];
        if (found) return resolve(found.startTime);
        new PerformanceObserver((list) => {
          const entry = list.getEntriesByName("first-contentful-paint")[0];
          if (entry) resolve(entry.startTime);
        }).observe({ type: "paint", buffered: true });
        setTimeout(() => reject(new Error("no first-contentful-paint in 15 s")), 15_000);
      }),
  );
}

/**
 * Records, in the page, when an `h1` reading `heading` first appears (ms since navigation
 * start): installed before the page's own scripts run.
 */
async function watchHeading(context: BrowserContext, heading: string): Promise<void> {
  await context.addInitScript((text: string) => {
    const w = window as unknown as { __ready?: number };
    const check = () => {
      if (w.__ready !== undefined) return;
      for (const h of Array.from(document.querySelectorAll("h1"))) {
        if (h.textContent?.trim() === text) {
          w.__ready = performance.now();
          observer.disconnect();
        }
      }
    };
    const observer = new MutationObserver(check);
    observer.observe(document, { childList: true, subtree: true, characterData: true });
  }, heading);
}

/** Records, in the page, when the chat widget's launcher first exists (ms since navigation). */
async function watchWidget(context: BrowserContext): Promise<void> {
  await context.addInitScript(() => {
    const w = window as unknown as { __ready?: number };
    const check = () => {
      if (document.querySelector("botbuilder-chat")?.shadowRoot?.querySelector("button")) {
        w.__ready = performance.now();
      } else {
        requestAnimationFrame(check);
      }
    };
    requestAnimationFrame(check);
  });
}

async function widgetReadyTime(page: Page): Promise<number> {
  await page.waitForFunction(() => (window as unknown as { __ready?: number }).__ready !== undefined, undefined, {
    timeout: 15_000,
  });
  return page.evaluate(() => (window as unknown as { __ready?: number }).__ready ?? Number.NaN);
}

async function readyTime(page: Page, heading: string): Promise<number> {
  await page.getByRole("heading", { name: heading, level: 1 }).waitFor({ timeout: 15_000 });
  return page.evaluate(() => (window as unknown as { __ready?: number }).__ready ?? Number.NaN);
}

/** Signs `email` in through the API and returns its refresh cookie, for a browser context. */
async function refreshCookie(base: string, email: string) {
  const res = await fetch(`${base}/api/v1/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password: PASSWORD }),
  });
  const header = res.headers.get("set-cookie");
  if (!res.ok || !header) throw new Error(`login: ${res.status} ${await res.text()}`);
  const [pair = "", ...attributes] = header.split(";").map((part) => part.trim());
  const eq = pair.indexOf("=");
  const attribute = (name: string) =>
    attributes.find((a) => a.toLowerCase().startsWith(`${name.toLowerCase()}=`))?.split("=")[1];
  const sameSite = attribute("SameSite");
  return {
    name: pair.slice(0, eq),
    value: pair.slice(eq + 1),
    domain: new URL(base).hostname,
    path: attribute("Path") ?? "/",
    httpOnly: true,
    secure: false,
    sameSite: sameSite === "Strict" || sameSite === "None" ? sameSite : ("Lax" as const),
  } as const;
}

interface Sample {
  fcp: number;
  ready: number;
}

interface Scenario {
  name: string;
  /** One cold load in `context`, a new one. */
  load(context: BrowserContext): Promise<Sample>;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  // Nearest rank: the smallest value at or above p of the samples.
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

const ms = (v: number) => (Number.isNaN(v) ? "—" : v.toFixed(1));

async function entryBytes(base: string): Promise<{ file: string; raw: number; gzip: number }[]> {
  const html = await (await fetch(`${base}/`, { headers: { accept: "text/html" } })).text();
  const refs = [
    ...html.matchAll(/<script[^>]*\ssrc="([^"]+)"/g),
    ...html.matchAll(/<link[^>]*rel="stylesheet"[^>]*href="([^"]+)"/g),
  ].map((m) => m[1] as string);
  const sizes = [];
  for (const ref of refs) {
    const body = Buffer.from(await (await fetch(new URL(ref, base))).arrayBuffer());
    sizes.push({ file: ref, raw: body.length, gzip: gzipSync(body, { level: 9 }).length });
  }
  return sizes;
}

async function main() {
  const server = await startServer();
  const pages = await startPages(server.url);
  let browser: Browser | undefined;
  try {
    const email = `first-paint-${Date.now()}@example.com`;
    const api = await Api.register(server.url, email);
    const bot = await api.call<{ id: string }>("POST", "/bots", {
      name: "Measured",
      settings: { allowed_origins: [`http://127.0.0.1:${pages.port}`] },
    });
    browser = await chromium.launch(config.use?.launchOptions ?? {});

    const scenarios: Scenario[] = [
      {
        name: "(a) /login",
        async load(context) {
          await watchHeading(context, "Sign in");
          const page = await context.newPage();
          await page.goto(`${server.url}/login`);
          return { fcp: await firstContentfulPaint(page), ready: await readyTime(page, "Sign in") };
        },
      },
      {
        name: "(b) /bots, signed in",
        async load(context) {
          // A new context holding only a refresh cookie (of a sign-in through the API, one per
          // load since refresh tokens rotate): the page restores the session by itself.
          await context.addCookies([await refreshCookie(server.url, email)]);
          await watchHeading(context, "Bots");
          const page = await context.newPage();
          await page.goto(`${server.url}/bots`);
          return { fcp: await firstContentfulPaint(page), ready: await readyTime(page, "Bots") };
        },
      },
      {
        name: "(b2) /bots, after form",
        async load(context) {
          // Signed in through the form; then a fresh navigation to /bots in the same context
          // with the HTTP cache off (the browser's renderer is warm by then).
          const page = await context.newPage();
          await page.goto(`${server.url}/login`);
          await page.getByLabel("Email").fill(email);
          await page.getByLabel("Password").fill(PASSWORD);
          await page.getByRole("button", { name: "Sign in" }).click();
          await page.getByRole("heading", { name: "Bots", level: 1 }).waitFor();
          const cdp = await context.newCDPSession(page);
          await cdp.send("Network.enable");
          await cdp.send("Network.setCacheDisabled", { cacheDisabled: true });
          await watchHeading(context, "Bots");
          await page.goto(`${server.url}/bots`);
          return { fcp: await firstContentfulPaint(page), ready: await readyTime(page, "Bots") };
        },
      },
      {
        name: "(c) static page",
        async load(context) {
          await watchHeading(context, "Blank");
          const page = await context.newPage();
          await page.goto(`http://127.0.0.1:${pages.port}/blank`);
          return { fcp: await firstContentfulPaint(page), ready: await readyTime(page, "Blank") };
        },
      },
      {
        name: "(d) widget on a page",
        async load(context) {
          await watchWidget(context);
          const page = await context.newPage();
          await page.goto(`http://127.0.0.1:${pages.port}/widget?bot=${bot.id}`);
          return { fcp: await firstContentfulPaint(page), ready: await widgetReadyTime(page) };
        },
      },
    ];

    const samples = new Map<string, Sample[]>(scenarios.map((s) => [s.name, []]));
    // One load of each first, not counted (the browser's own start-up), then the runs,
    // interleaved so that any drift of the machine touches every page alike.
    for (let run = -1; run < RUNS; run += 1) {
      for (const scenario of scenarios) {
        const context = await browser.newContext();
        try {
          const sample = await scenario.load(context);
          if (run >= 0) samples.get(scenario.name)?.push(sample);
        } finally {
          await context.close();
        }
      }
    }

    console.log(`First contentful paint, ${RUNS} cold loads each (ms; "ready": the page's h1 shown)`);
    console.log(["page".padEnd(22), "FCP median", "FCP p90", "ready median", "ready p90"].join("  "));
    for (const [name, list] of samples) {
      const fcp = list.map((s) => s.fcp);
      const ready = list.map((s) => s.ready);
      console.log(
        [
          name.padEnd(22),
          ms(percentile(fcp, 50)).padStart(10),
          ms(percentile(fcp, 90)).padStart(7),
          ms(percentile(ready, 50)).padStart(12),
          ms(percentile(ready, 90)).padStart(9),
        ].join("  "),
      );
    }
    const entry = await entryBytes(server.url);
    console.log("\nEntry files of index.html (bytes; gzip level 9):");
    for (const e of entry) console.log(`  ${e.file}  ${e.raw} raw, ${e.gzip} gzipped`);
    console.log(
      `  total  ${entry.reduce((n, e) => n + e.raw, 0)} raw, ${entry.reduce((n, e) => n + e.gzip, 0)} gzipped`,
    );
  } finally {
    await browser?.close();
    await pages.stop();
    await server.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
