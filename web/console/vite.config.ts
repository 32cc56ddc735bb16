/// <reference types="vitest/config" />
// Builds the operator console into `web/dist`: `index.html` plus hashed files in `assets/`
// (the server embeds them). `BOTBUILDER_WEB_OUT` builds elsewhere, as for the widget. The
// widget's `widget.js` in the same folder is kept; stale hashed assets are removed first.
import { rmSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import tailwindcss from "@tailwindcss/vite";
import react from "@vitejs/plugin-react";
import { defineConfig, type Plugin } from "vite";

const here = fileURLToPath(new URL(".", import.meta.url));
const outDir = resolve(here, process.env.BOTBUILDER_WEB_OUT ?? "../dist");

/** Deletes `<out>/assets` before a build, so a rebuild leaves no stale hashed files. */
function cleanAssets(): Plugin {
  return {
    name: "botbuilder-clean-assets",
    apply: "build",
    buildStart() {
      rmSync(resolve(outDir, "assets"), { recursive: true, force: true });
    },
  };
}

// The dev server forwards the API and the widget to a running server (BOTBUILDER_API,
// default 127.0.0.1:8787). The Host header is kept, so the server sees the page's own origin.
const backend = process.env.BOTBUILDER_API ?? "http://127.0.0.1:8787";

export default defineConfig({
  plugins: [react(), tailwindcss(), cleanAssets()],
  base: "/",
  build: {
    outDir,
    emptyOutDir: false,
    assetsDir: "assets",
    target: "es2022",
    sourcemap: false,
    modulePreload: { polyfill: false },
  },
  server: {
    proxy: {
      "/api": { target: backend, changeOrigin: false },
      "/widget.js": { target: backend, changeOrigin: false },
    },
  },
  test: {
    environment: "happy-dom",
    include: ["src/**/*.test.ts"],
  },
});
