/// <reference types="vitest/config" />
// Builds the widget into one classic script, `web/dist/widget.js`, which the server embeds and
// serves at `/widget.js`. A page loads it with
// `<script src="https://HOST/widget.js" data-bot="BOT_ID" async></script>`.
// `BOTBUILDER_WEB_OUT` builds elsewhere (scripts/test compares that build with web/dist).
import { defineConfig } from "vite";

export default defineConfig({
  build: {
    outDir: process.env.BOTBUILDER_WEB_OUT ?? "../dist",
    emptyOutDir: false,
    target: "es2020",
    minify: true,
    sourcemap: false,
    lib: {
      entry: "src/index.ts",
      name: "BotBuilderWidget",
      formats: ["iife"],
      fileName: () => "widget.js",
    },
  },
  test: {
    environment: "happy-dom",
  },
});
