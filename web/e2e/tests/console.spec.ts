// The operator console in a real browser, against a real server that serves it: sign up, create
// a bot and a knowledge base, upload a document and wait until it is indexed, attach it to the
// bot, ask the live widget preview a question the document answers (with a citation), read the
// conversation in the inbox, and see it counted in analytics. Screenshots of each page go to
// test-results/screenshots/console-*.png. The server's Content-Security-Policy must hold: no
// violation may be reported.

import { type Page, expect, test } from "@playwright/test";
import { type RunningServer, startServer } from "../server";
import { screenshot, watchCsp } from "./helpers";

let server: RunningServer;
/** Where the console is served (the server itself). */
let base: string;

const FIXTURE = new URL("../fixtures/lighthouse.txt", import.meta.url).pathname;
const shot = (page: Page, name: string) => screenshot(page, `console-${name}`, { fullPage: true });

test.beforeAll(async () => {
  server = await startServer();
  base = server.url;
});

test.afterAll(async () => {
  await server?.stop();
});

test("an operator builds a bot on a document, deploys it, and measures it", async ({ page }) => {
  test.setTimeout(180_000);
  await page.setViewportSize({ width: 1280, height: 900 });
  const csp = watchCsp(page);

  // Sign up: the account and its organization; the session survives a reload (silent refresh).
  await page.goto(`${base}/signup`);
  await page.getByLabel("Your name").fill("Olivia Operator");
  await page.getByLabel("Email").fill(`console-${Date.now()}@example.com`);
  await page.getByLabel("Password").fill("correct horse battery");
  await page.getByLabel("Organization name").fill("Lighthouse Co");
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page.getByRole("heading", { name: "Bots", level: 1 })).toBeVisible();
  await expect(page.getByLabel("Organization")).toHaveValue(/.+/);
  await page.reload();
  await expect(page.getByRole("heading", { name: "Bots", level: 1 })).toBeVisible();
  expect(await page.evaluate(() => JSON.stringify(localStorage))).not.toContain("eyJ");

  // A bot.
  await page.getByLabel("Bot name").fill("Keeper");
  await page.getByRole("button", { name: "Create bot" }).click();
  await expect(page.getByRole("heading", { name: "Keeper", level: 1 })).toBeVisible();
  await expect(page).toHaveURL(/\/bots\/[0-9a-f-]+\/settings$/);
  const botUrl = page.url();
  await page.getByRole("link", { name: "Bots" }).first().click();
  await expect(page.getByRole("link", { name: "Keeper" })).toBeVisible();
  await shot(page, "bots");

  // A knowledge base with one uploaded document, indexed.
  await page.getByRole("link", { name: "Knowledge" }).click();
  await page.getByLabel("Knowledge base name").fill("Lighthouse handbook");
  await page.getByRole("button", { name: "Create knowledge base" }).click();
  await expect(page.getByRole("heading", { name: "Lighthouse handbook", level: 1 })).toBeVisible();
  await page.getByLabel("Choose files").setInputFiles(FIXTURE);
  await expect(page.getByText("Uploaded")).toBeVisible();
  const row = page.getByRole("row", { name: /lighthouse/i });
  await expect(row).toContainText("Ready", { timeout: 60_000 });

  // The search playground finds the fact in all three modes.
  await page.getByLabel("Search query").fill("When are the seagulls fed?");
  await page.getByRole("button", { name: "Search", exact: true }).click();
  for (const mode of ["Keyword", "Vector", "Hybrid"]) {
    await expect(page.getByRole("region", { name: mode })).toContainText("7:15");
  }
  await shot(page, "knowledge");

  // The bot answers from the knowledge base.
  await page.goto(botUrl);
  await page.getByRole("checkbox", { name: "Lighthouse handbook" }).check();
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Saved" })).toBeVisible();
  await expect(page.getByRole("checkbox", { name: "Lighthouse handbook" })).toBeChecked();
  await shot(page, "bot-settings");

  // Deploy: the snippet, and the live preview answering with a citation.
  await page.getByRole("link", { name: "Deploy" }).click();
  const botId = /\/bots\/([0-9a-f-]+)\//.exec(botUrl)?.[1] ?? "";
  await expect(page.getByText(`data-bot="${botId}"`)).toBeVisible();
  const preview = page.getByTestId("widget-preview");
  const input = preview.getByRole("textbox");
  await expect(input).toBeVisible();
  await input.fill("When does the lighthouse keeper feed the seagulls?");
  await input.press("Enter");
  await expect(preview.locator(".msg.outbound").last()).toContainText("7:15", { timeout: 30_000 });
  await expect(preview.getByRole("list", { name: "Sources" }).last()).toContainText("lighthouse");
  await shot(page, "deploy");

  // Going away and back remounts one preview, with the conversation kept.
  await page.getByRole("link", { name: "Settings" }).click();
  await page.getByRole("link", { name: "Deploy" }).click();
  await expect(page.locator("[data-botbuilder-widget]")).toHaveCount(1);
  await expect(preview.locator(".msg.outbound").last()).toContainText("7:15");

  // The inbox shows the preview's conversation and its transcript with the citation.
  await page.getByRole("link", { name: "Inbox" }).click();
  const conversations = page.getByRole("list", { name: "Conversations" });
  await expect(conversations.getByRole("button")).toHaveCount(1);
  await conversations.getByRole("button").first().click();
  const transcript = page.getByRole("list", { name: "Transcript" });
  await expect(transcript).toContainText("When does the lighthouse keeper feed the seagulls?");
  await expect(transcript).toContainText("7:15");
  await expect(transcript).toContainText("Citations");
  await shot(page, "inbox");

  // Analytics counts the conversation.
  await page.getByRole("link", { name: "Analytics" }).click();
  await expect(page.getByRole("heading", { name: "Analytics", level: 1 })).toBeVisible();
  const conversationsStat = page.locator('[data-stat="conversations"]');
  await expect.poll(async () => Number(await conversationsStat.textContent()), { timeout: 20_000 }).toBeGreaterThanOrEqual(1);
  await expect(page.getByRole("button", { name: "Export CSV" })).toBeEnabled();
  await shot(page, "analytics");

  // Sign out ends the session, also after a reload.
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
  await page.reload();
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();

  expect(csp).toEqual([]);
});

test("the sign-in page in the dark theme, on a tablet", async ({ page }) => {
  await page.setViewportSize({ width: 820, height: 1000 });
  const csp = watchCsp(page);
  await page.goto(`${base}/login`);
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
  await page.getByRole("button", { name: "Switch to dark theme" }).click();
  await expect(page.locator("html")).toHaveClass(/dark/);
  await page.reload();
  await expect(page.locator("html")).toHaveClass(/dark/);
  await page.getByLabel("Email").fill("nobody@example.com");
  await page.getByLabel("Password").fill("wrong password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert")).toBeVisible();
  await shot(page, "login-dark");
  expect(csp).toEqual([]);
});
