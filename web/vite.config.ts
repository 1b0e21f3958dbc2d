// Builds the app into dist/ for `kaari serve` to serve at /app/ (docs/web.md).
import { gzipSync } from "node:zlib";
import { build, defineConfig, type Plugin } from "vite";

/** Files of public/ that the shell needs (copied as they are, not in the bundle). */
const PUBLIC_SHELL = ["manifest.webmanifest", "icons/icon.svg", "icons/icon-192.png"];

/** The service worker (src/sw.ts, built to dist/sw.js, a fixed name at the app's root)
 * learns the list of files to cache at install: every built file but itself, inlined
 * where it says `self.__PRECACHE__`. It is built on its own, as one classic script (a
 * service worker registered without `type: "module"` cannot import): what it shares with
 * the page (idb.ts, vault.ts, i18n/push.ts) is copied into it, not split into a chunk. */
function serviceWorker(): Plugin {
  return {
    name: "kaari-service-worker",
    apply: "build",
    async generateBundle(_options, bundle) {
      const built = Object.keys(bundle).filter((n) => !/\.(map|gz)$/.test(n));
      const list = JSON.stringify(["./", ...PUBLIC_SHELL, ...built.sort()]);
      const out = await build({
        configFile: false,
        logLevel: "warn",
        build: {
          write: false,
          target: "es2022",
          emptyOutDir: false,
          lib: { entry: "src/sw.ts", formats: ["iife"], name: "kaariServiceWorker", fileName: () => "sw.js" },
        },
      });
      const result = Array.isArray(out) ? out[0] : out;
      const chunk = result && "output" in result ? result.output.find((f) => f.type === "chunk") : undefined;
      if (!chunk || chunk.type !== "chunk") throw new Error("no service worker chunk");
      if (!chunk.code.includes("self.__PRECACHE__")) throw new Error("no precache placeholder in sw.js");
      this.emitFile({ type: "asset", fileName: "sw.js", source: chunk.code.replace("self.__PRECACHE__", list) });
    },
  };
}

/** A gzip copy beside every compressible file (the wasm above all: ~8 MB raw, ~2.5 MB
 * gzipped); `kaari serve` sends it to browsers that accept gzip. */
function gzipCopies(): Plugin {
  return {
    name: "kaari-gzip-copies",
    apply: "build",
    // after Vite's own generateBundle steps (the dynamic imports' preload lists are
    // filled in there): the copy must be of the final code
    generateBundle: { order: "post", handler(_options, bundle) {
      for (const file of Object.values(bundle)) {
        if (!/\.(js|css|html|wasm|svg|json|webmanifest)$/.test(file.fileName)) continue;
        const data = file.type === "chunk" ? file.code : file.source;
        this.emitFile({
          type: "asset",
          fileName: `${file.fileName}.gz`,
          source: gzipSync(typeof data === "string" ? Buffer.from(data) : data, { level: 9 }),
        });
      }
    } },
  };
}

export default defineConfig({
  base: "/app/",
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  worker: { format: "es" },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    assetsInlineLimit: 0,
    rollupOptions: {
      input: { index: "index.html" },
    },
  },
  plugins: [serviceWorker(), gzipCopies()],
});
