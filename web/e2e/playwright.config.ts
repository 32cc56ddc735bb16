// Browser tests in the system's Chromium (Debian's `chromium`; browsers cannot be downloaded
// here), against a real server the tests start (see `server.ts`). Set BOTBUILDER_BIN to the
// server binary (scripts/test does) and CHROMIUM to another browser binary if needed.
import { defineConfig } from "@playwright/test";

export default defineConfig({
  testDir: "tests",
  outputDir: "test-results",
  timeout: 60_000,
  fullyParallel: false,
  workers: 1,
  forbidOnly: !!process.env.CI,
  reporter: [["list"]],
  use: {
    browserName: "chromium",
    trace: "retain-on-failure",
    launchOptions: {
      executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
      // Without the network switches Chromium tries to reach Google's services, which this
      // machine's closed network refuses.
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
});
