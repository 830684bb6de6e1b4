import { defineConfig } from "vite";

// The build goes to web/dist, which web/embed.go embeds into the Go binary. public/.keep is
// copied into dist so that the directory exists (and embeds) even before the first build.
export default defineConfig({
  base: "./",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2020",
    chunkSizeWarningLimit: 700,
    reportCompressedSize: true,
  },
  server: {
    proxy: { "/api": "http://127.0.0.1:8080", "/healthz": "http://127.0.0.1:8080" },
  },
});
