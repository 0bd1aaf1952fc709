import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// Built into the Python package, which serves it at /app (billrun/console.py).
export default defineConfig({
  base: "/app/",
  plugins: [react()],
  build: {
    outDir: "../billrun/static/console",
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 1000,
  },
  server: { proxy: { "/graphql": { target: "http://127.0.0.1:8000", ws: true }, "/invoices": "http://127.0.0.1:8000", "/exports": "http://127.0.0.1:8000" } },
});
