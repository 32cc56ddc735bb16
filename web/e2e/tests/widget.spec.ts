// The widget on a customer's page, in a real browser, against a real server: a conversation
// with a streamed answer and buttons, a reload that keeps it, an agent's reply arriving live,
// a page on a foreign origin refused, hostile bot text rendered inert, a phone screen and a
// right-to-left language. Screenshots go to test-results/screenshots/.

import { type Page, expect, test } from "@playwright/test";
import { Api, type RunningServer, startPages, startServer } from "../server";
import { screenshot as shot } from "./helpers";

let server: RunningServer;
let pages: { port: number; stop(): Promise<void> };
let api: Api;
let support: string;
let hostile: string;

const SUPPORT_FLOW = {
  nodes: [
    { id: "start", type: "start", data: {} },
    { id: "route", type: "intent_router", data: {} },
    {
      id: "greet",
      type: "message",
      data: {
        text: "Hello! What can I do?",
        buttons: [
          { title: "Track an order", payload: "track my order" },
          { title: "Agent", payload: "talk to a human" },
        ],
      },
    },
    {
      id: "ask_id",
      type: "ask",
      data: {
        prompt: "Your order number?",
        variable: "number",
        validation: { type: "regex", pattern: "#?\\d{3,}" },
        retry_prompt: "Order numbers look like #123.",
      },
    },
    { id: "status", type: "message", data: { text: "Order **{{number}}** is on its way." } },
    { id: "human", type: "handoff", data: { message: "Connecting you to a person." } },
    { id: "ai", type: "ai_answer", data: {} },
  ],
  edges: [
    { id: "e1", source: "start", target: "route" },
    { id: "e2", source: "route", sourceHandle: "hello", target: "greet" },
    { id: "e3", source: "route", sourceHandle: "order", target: "ask_id" },
    { id: "e4", source: "route", sourceHandle: "human", target: "human" },
    { id: "e5", source: "route", sourceHandle: "fallback", target: "ai" },
    { id: "e6", source: "ask_id", sourceHandle: "valid", target: "status" },
  ],
};

const HOSTILE_TEXT =
  'Hi <script>window.__pwned = "script"</script> <img src=x onerror="window.__pwned = \'img\'"> ' +
  "[click me](javascript:window.__pwned='link') ![x](data:image/svg+xml,<svg onload=alert(1)>) " +
  "and **bold** [safe](https://example.com/help)";

async function makeBot(name: string, intents: Record<string, string[]>, flow: unknown): Promise<string> {
  const bot = await api.call<{ id: string }>("POST", "/bots", {
    name,
    settings: {
      allowed_origins: [`http://127.0.0.1:${pages.port}`],
      appearance: { title: `${name} help`, color: "#0f766e", greeting: "Hi! Ask me about your **order**." },
    },
  });
  for (const [intent, examples] of Object.entries(intents)) {
    await api.call("POST", `/bots/${bot.id}/intents`, { name: intent, examples });
  }
  await api.call("PUT", `/bots/${bot.id}/flow`, flow);
  await api.call("POST", `/bots/${bot.id}/flow/publish`);
  return bot.id;
}

test.beforeAll(async () => {
  server = await startServer();
  pages = await startPages(server.url);
  api = await Api.register(server.url, `e2e-${Date.now()}@example.com`);
  support = await makeBot(
    "Support",
    {
      human: ["talk to a human", "i want an agent", "real person please", "connect me to support staff"],
      order: ["where is my order", "track my order", "order status", "my package has not arrived"],
      hello: ["hi", "hello", "good morning", "hey there"],
    },
    SUPPORT_FLOW,
  );
  hostile = await makeBot("Hostile", {}, {
    nodes: [
      { id: "start", type: "start", data: {} },
      { id: "say", type: "message", data: { text: HOSTILE_TEXT } },
    ],
    edges: [{ id: "e1", source: "start", target: "say" }],
  });
});

test.afterAll(async () => {
  await pages?.stop();
  await server?.stop();
});

const page_of = (bot: string, extra = "") => `http://127.0.0.1:${pages.port}/widget?bot=${bot}${extra}`;

async function say(page: Page, text: string) {
  const input = page.getByRole("textbox");
  await input.fill(text);
  await input.press("Enter");
}

test("a visitor converses: buttons, a streamed answer, and a reload keeps the conversation", async ({ page }) => {
  await page.goto(page_of(support));
  const launcher = page.getByRole("button", { name: "Open chat" });
  await expect(launcher).toBeVisible();
  await shot(page, "widget-closed");
  await launcher.click();
  const dialog = page.getByRole("dialog", { name: "Support help" });
  await expect(dialog).toBeVisible();
  await expect(page.getByRole("textbox")).toBeFocused();
  await expect(dialog.getByText("Ask me about your")).toBeVisible();

  await say(page, "hello");
  await expect(dialog.getByText("Hello! What can I do?")).toBeVisible();
  await dialog.getByRole("button", { name: "Track an order" }).click();
  await expect(dialog.getByText("Your order number?")).toBeVisible();
  await say(page, "#4521");
  await expect(dialog.locator("strong", { hasText: "#4521" })).toBeVisible();

  const streamed = page.waitForResponse((r) => r.url().endsWith("/messages") && r.request().method() === "POST");
  await say(page, "zq xv wk");
  const response = await streamed;
  expect(response.headers()["content-type"]).toContain("text/event-stream");
  await expect(dialog.locator(".msg.outbound")).toHaveCount(5);
  await shot(page, "widget-conversation");

  await page.reload();
  await page.getByRole("button", { name: "Open chat" }).click();
  await expect(page.getByRole("dialog").locator("strong", { hasText: "#4521" })).toBeVisible();
  await expect(page.getByRole("dialog").getByText("Hello! What can I do?")).toBeVisible();

  // Escape closes the panel and gives the focus back to the launcher.
  await page.keyboard.press("Escape");
  await expect(page.getByRole("dialog")).toBeHidden();
  await expect(page.getByRole("button", { name: "Open chat" })).toBeFocused();
});

test("an agent's reply reaches the open widget without a reload", async ({ page, context }) => {
  await context.clearCookies();
  await page.goto(page_of(support, "&mode=inline"));
  const panel = page.getByRole("region", { name: "Support help" });
  await say(page, "i want a real person");
  await expect(panel.getByText("Connecting you to a person.")).toBeVisible();
  await expect(panel.getByText("A person will reply here soon.")).toBeVisible();

  const waiting = await api.call<{ items: { session_id: string }[] }>(
    "GET",
    `/bots/${support}/conversations?status=handoff`,
  );
  const session = waiting.items[0]?.session_id;
  await api.call("POST", `/bots/${support}/conversations/${session}/handoff/reply`, { text: "Hi, this is **Dana**." });
  await expect(panel.locator(".msg.agent strong", { hasText: "Dana" })).toBeVisible();
  await shot(page, "widget-inline-handoff");
});

test("an agent's reply while the panel is closed marks the launcher", async ({ page }) => {
  await page.goto(page_of(support));
  await page.getByRole("button", { name: "Open chat" }).click();
  await say(page, "connect me to support staff");
  await expect(page.getByRole("dialog").getByText("Connecting you to a person.")).toBeVisible();
  await page.keyboard.press("Escape");

  const waiting = await api.call<{ items: { session_id: string; user: string }[] }>(
    "GET",
    `/bots/${support}/conversations?status=handoff`,
  );
  for (const { session_id } of waiting.items) {
    await api.call("POST", `/bots/${support}/conversations/${session_id}/handoff/reply`, { text: "Still there?" });
  }
  const marked = page.getByRole("button", { name: "Open chat (new message)" });
  await expect(marked).toBeVisible();
  await shot(page, "widget-unread");
  await marked.click();
  await expect(page.getByRole("dialog").getByText("Still there?")).toBeVisible();
  await expect(page.getByRole("button", { name: "Close chat" }).last()).toHaveAttribute("aria-expanded", "true");
});

test("a page on an origin the bot does not allow gets no widget, and a console error says why", async ({ page }) => {
  const errors: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  await page.goto(`http://localhost:${pages.port}/widget?bot=${support}`);
  await expect.poll(() => errors.join("\n")).toContain("allowed origins");
  await expect(page.getByRole("button", { name: "Open chat" })).toHaveCount(0);
  const direct = await page.evaluate(async (url) => {
    try {
      return (await fetch(url, { method: "POST" })).status;
    } catch {
      return "refused";
    }
  }, `${server.url}/api/v1/webchat/${support}/sessions`);
  expect(direct).toBe("refused");
});

test("script, event handlers and javascript: links in bot text stay inert", async ({ page }) => {
  await page.goto(page_of(hostile));
  await page.getByRole("button", { name: "Open chat" }).click();
  await say(page, "anything");
  const dialog = page.getByRole("dialog");
  await expect(dialog.locator("strong", { hasText: "bold" })).toBeVisible();
  await expect(dialog.getByRole("link", { name: "safe" })).toHaveAttribute("href", "https://example.com/help");
  await expect(dialog.getByText("click me")).toBeVisible();
  await expect(dialog.getByRole("link", { name: "click me" })).toHaveCount(0);
  await dialog.getByText("click me").click();
  expect(await page.evaluate(() => (window as unknown as { __pwned?: string }).__pwned)).toBeUndefined();
  const injected = await page.evaluate(() => {
    const root = document.querySelector("[data-botbuilder-widget]")?.shadowRoot;
    return root?.querySelectorAll("script, img[onerror], [onload], iframe").length;
  });
  expect(injected).toBe(0);
  await shot(page, "widget-hostile-text-inert");
});

test("on a 375 px phone the panel fills the screen, and Arabic reads right to left", async ({ browser }) => {
  const phone = await browser.newContext({ viewport: { width: 375, height: 740 }, isMobile: true, hasTouch: true });
  const page = await phone.newPage();
  await page.goto(page_of(support, "&lang=ar"));
  await page.getByRole("button", { name: "افتح المحادثة" }).click();
  const dialog = page.getByRole("dialog");
  await expect(dialog).toBeVisible();
  const box = await dialog.boundingBox();
  expect(box?.width).toBe(375);
  const dir = await page.evaluate(
    () => document.querySelector("[data-botbuilder-widget]")?.shadowRoot?.querySelector("[dir]")?.getAttribute("dir"),
  );
  expect(dir).toBe("rtl");
  await say(page, "hello");
  await expect(dialog.getByText("Hello! What can I do?")).toBeVisible();
  await shot(page, "widget-phone-rtl");
  await phone.close();
});

test("the widget script stays small", async () => {
  const script = await (await fetch(`${server.url}/widget.js`)).arrayBuffer();
  const { gzipSync } = await import("node:zlib");
  const gzipped = gzipSync(Buffer.from(script), { level: 9 }).length;
  console.log(`widget.js: ${script.byteLength} bytes, ${gzipped} gzipped`);
  expect(gzipped).toBeLessThanOrEqual(25 * 1024);
});
