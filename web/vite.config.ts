// Builds the web app into dist/web, which the server serves at `/` (src/http/routes/web-app.routes.ts).
// Preact's JSX runtime through Vite's own transform: no framework plugin is needed for a production build.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  base: '/',
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    assetsDir: 'assets',
    // The RC and tablets on site have slow links: no source maps shipped, one chunk per page is plenty.
    sourcemap: false,
    target: 'es2020',
  },
  server: {
    // `npm run dev:web` proxies the API to a Skyvault started with `npm run dev`.
    proxy: {
      '/api': { target: 'http://127.0.0.1:8080', ws: true },
      '/manage': 'http://127.0.0.1:8080',
      '/media': 'http://127.0.0.1:8080',
    },
  },
});
