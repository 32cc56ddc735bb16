// The agents' inbox against a live widget: a visitor on a customer's page (another origin)
// reaches a flow that hands over at once; an operator signs in to the console, finds the
// conversation waiting in the inbox, answers it, and the answer appears in the visitor's open
// widget without a reload; Release gives the conversation back to the bot. Screenshot:
// test-results/screenshots/console-inbox-handoff.png.

import { expect, test } from "@playwright/test";
import { Api, type RunningServer, startPages, startServer } from "../server";
import { screenshot, watchCsp } from "./helpers";

let server: RunningServer;
let pages: { port: number; stop(): Promise<void> };
let api: Api;
let email: string;
let desk: string;

const PASSWORD = "correct horse battery"; // what Api.register signs up with

/** A flow that hands the conversation to a person at its first message. */
const HANDOFF_FLOW = {
  nodes: [
    { id: "start", type: "start", data: {} },
    { id: "human", type: "handoff", data: { message: "Connecting you to a person." } },
  ],
  edges: [{ id: "e1", source: "start", target: "human" }],
};

test.beforeAll(async () => {
  server = await startServer();
  pages = await startPages(server.url);
  email = `inbox-${Date.now()}@example.com`;
  api = await Api.register(server.url, email);
  // Another bot first, so the operator has to pick the right one.
  await api.call("POST", "/bots", { name: "Sales" });
  const bot = await api.call<{ id: string }>("POST", "/bots", {
    name: "Desk",
    settings: {
      allowed_origins: [`http://127.0.0.1:${pages.port}`],
      appearance: { title: "Desk help", color: "#0f766e" },
    },
  });
  desk = bot.id;
  await api.call("PUT", `/bots/${desk}/flow`, HANDOFF_FLOW);
  await api.call("POST", `/bots/${desk}/flow/publish`);
});

test.afterAll(async () => {
  await pages?.stop();
  await server?.stop();
});

test("an agent answers a handoff from the inbox, the widget shows it live, and Release gives it back", async ({ browser }) => {
  test.setTimeout(120_000);

  // The visitor, on the customer's page.
  const visitorContext = await browser.newContext();
  const visitor = await visitorContext.newPage();
  await visitor.goto(`http://127.0.0.1:${pages.port}/widget?bot=${desk}&mode=inline`);
  const widget = visitor.getByRole("region", { name: "Desk help" });
  const input = visitor.getByRole("textbox");
  await input.fill("My parcel never came");
  await input.press("Enter");
  await expect(widget.getByText("Connecting you to a person.")).toBeVisible();

  // The operator, in the console: sign in, open the inbox, pick the bot.
  const operatorContext = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const operator = await operatorContext.newPage();
  const csp = watchCsp(operator);
  await operator.goto(`${server.url}/login`);
  await operator.getByLabel("Email").fill(email);
  await operator.getByLabel("Password").fill(PASSWORD);
  await operator.getByRole("button", { name: "Sign in" }).click();
  await expect(operator.getByRole("heading", { name: "Bots", level: 1 })).toBeVisible();
  await operator.getByRole("link", { name: "Inbox" }).click();
  await expect(operator.getByRole("heading", { name: "Inbox", level: 1 })).toBeVisible();
  await operator.getByLabel("Bot", { exact: true }).selectOption({ label: "Desk" });

  // The conversation waits, marked handoff; its transcript says so too.
  const conversations = operator.getByRole("list", { name: "Conversations" });
  await expect(conversations.getByRole("button")).toHaveCount(1);
  const conversation = conversations.getByRole("button").first();
  await expect(conversation).toContainText("Handoff");
  await conversation.click();
  const transcript = operator.getByRole("list", { name: "Transcript" });
  await expect(transcript).toContainText("My parcel never came");
  await expect(transcript).toContainText("Connecting you to a person.");
  const heading = operator.getByRole("heading", { name: /Transcript/, level: 2 });
  await expect(heading).toContainText("Handoff");

  // The agent answers; the visitor's open widget shows it without a reload.
  const reply = "Hello, this is Dana from support. Let me look into your parcel.";
  await operator.getByLabel("Reply as an agent").fill(reply);
  await operator.getByRole("button", { name: "Send reply" }).click();
  await expect(operator.getByLabel("Reply as an agent")).toHaveValue("");
  await expect(transcript.locator("li", { hasText: reply })).toContainText("Agent");
  await expect(widget.getByText(reply)).toBeVisible();
  await screenshot(operator, "console-inbox-handoff", { fullPage: true });

  // Release: the conversation is the bot's again, in the list and in the transcript.
  await operator.getByRole("button", { name: "Release to the bot" }).click();
  await expect(conversation).toContainText("Active");
  await expect(heading).toContainText("Active");
  await expect(operator.getByRole("button", { name: "Release to the bot" })).toHaveCount(0);
  await expect(operator.getByLabel("Reply as an agent")).toHaveCount(0);
  const after = await api.call<{ items: { status: string }[] }>("GET", `/bots/${desk}/conversations`);
  expect(after.items.map((c) => c.status)).toEqual(["active"]);

  expect(csp).toEqual([]);
  await operatorContext.close();
  await visitorContext.close();
});
