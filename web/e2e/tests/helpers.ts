// What the browser tests share: where screenshots go, and a watch for Content-Security-Policy
// violations. Not a spec (no `.spec` in its name): Playwright runs nothing here.

import type { Page } from "@playwright/test";

const SCREENSHOTS = new URL("../test-results/screenshots/", import.meta.url).pathname;

/** Saves a screenshot of `page` as test-results/screenshots/<name>.png. */
export function screenshot(page: Page, name: string, options: { fullPage?: boolean } = {}) {
  return page.screenshot({ path: `${SCREENSHOTS}${name}.png`, ...options });
}

/** Collects the page's console errors about the Content-Security-Policy. */
export function watchCsp(page: Page): string[] {
  const violations: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error" && /Content.Security.Policy/i.test(message.text())) violations.push(message.text());
  });
  return violations;
}
